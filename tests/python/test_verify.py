import keras
import numpy as np
import pytest

from kerasexport import errors
from kerasexport import signature
from kerasexport import verify


def test_inputs_follow_the_signature():
    specs = [{"x": keras.InputSpec(shape=(None, None, 3), dtype="float32"),
              "ids": keras.InputSpec(shape=(None, 4), dtype="int64")}]
    inputs = verify.make_inputs(specs, batch_size=5, dynamic_size=32, int_high=7)
    assert inputs[0]["x"].shape == (5, 32, 3)
    assert inputs[0]["x"].dtype == np.float32
    assert inputs[0]["ids"].shape == (5, 4)
    assert inputs[0]["ids"].dtype == np.int64
    assert inputs[0]["ids"].min() >= 0 and inputs[0]["ids"].max() < 7


def test_embedding_vocabulary_bounds_integer_inputs():
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, keras.layers.Embedding(11, 2)(ids))
    assert verify.embedding_vocabulary(model) == 11


def test_relative_error_is_scaled_by_the_output():
    expected = np.array([[100.0, -50.0]])
    assert verify.relative_error(expected, expected + 1.0) == pytest.approx(0.01)


def test_dict_outputs_are_matched_by_name():
    expected = {"a": np.ones((2, 1)), "b": np.zeros((2, 1))}
    actual = {"b": np.zeros((2, 1)), "a": np.ones((2, 1))}
    assert verify.relative_error(expected, actual) == 0.0


def test_shape_mismatch_is_a_verification_error():
    with pytest.raises(errors.VerificationError, match="shape"):
        verify.relative_error(np.ones((2, 3)), np.ones((3, 2)))


def test_check_passes_for_the_model_itself(small_model):
    specs = signature.normalize(small_model, None)
    error = verify.check(small_model, lambda args: verify.model_outputs(small_model, args), specs)
    assert error == 0.0


def test_check_fails_when_the_artifact_differs(small_model):
    specs = signature.normalize(small_model, None)

    def off_by_a_bit(args):
        return verify.model_outputs(small_model, args) * 1.01

    with pytest.raises(errors.VerificationError, match="relative error 0.01"):
        verify.check(small_model, off_by_a_bit, specs)


def test_check_fails_when_a_batch_size_was_baked_in(small_model):
    specs = signature.normalize(small_model, None)

    def first_row_only(args):
        return verify.model_outputs(small_model, args)[:1]

    with pytest.raises(errors.VerificationError, match="shape"):
        verify.check(small_model, first_row_only, specs)


def test_numbered_onnx_outputs_pair_by_position_in_keras_order():
    # torch.onnx names dict outputs "31", "23"; they come in sorted-key order.
    probs, score = np.full((2, 4), 0.25), np.arange(2.0).reshape(2, 1)
    expected = {"score": score, "probs": probs}
    assert verify.relative_error(expected, {"31": probs, "23": score}) == 0.0


def test_outputs_out_of_order_pair_by_their_unique_shapes():
    probs, score = np.full((2, 4), 0.25), np.arange(2.0).reshape(2, 1)
    expected = {"probs": probs, "score": score}
    assert verify.relative_error(expected, {"out_a": score, "out_b": probs}) == 0.0


def test_graph_prefixes_and_suffixes_do_not_hide_names():
    a, b = np.ones((1, 2)), np.zeros((1, 2))
    actual = {"StatefulPartitionedCall/b:0": b, "StatefulPartitionedCall/a:0": a}
    assert verify.relative_error({"a": a, "b": b}, actual) == 0.0
    # Same shapes, names swapped: a positional pairing would report an error.
    assert verify.relative_error({"a": a, "b": b}, {"x/b:0": b, "x/a:0": a}) == 0.0


def test_a_half_precision_model_is_told_its_own_rounding(tmp_path):
    keras.utils.set_random_seed(3)
    x = keras.Input((4,))
    h = keras.layers.Dense(5, activation="tanh", dtype="mixed_float16", name="half")(x)
    model = keras.Model(x, keras.layers.Dense(2, dtype="float32")(h))
    specs = signature.normalize(model, None)

    def rounded_differently(args):  # as another float16 runtime would
        return verify.model_outputs(model, args) * (1 + 5e-4)

    with pytest.raises(errors.VerificationError) as info:
        verify.check(model, rounded_differently, specs)
    message = str(info.value)
    assert "computes in float16 (layer 'half', dtype policy mixed_float16)" in message
    assert "rtol=1e-2" in message
    assert verify.check(model, rounded_differently, specs, rtol=1e-2) <= 1e-3


def test_a_float32_model_is_not_told_about_half_precision(small_model):
    specs = signature.normalize(small_model, None)
    with pytest.raises(errors.VerificationError) as info:
        verify.check(small_model, lambda args: verify.model_outputs(small_model, args) * 1.01, specs)
    assert "float16" not in str(info.value)


class Noisy(keras.layers.Layer):
    """Random at inference, as in Keras's RNG export example."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed = keras.random.SeedGenerator(1)

    def call(self, x):
        return x + keras.random.uniform(keras.ops.shape(x), seed=self.seed)


def test_a_random_model_is_compared_by_shape_and_said_so():
    model = keras.Sequential([keras.Input((3,)), Noisy()])
    specs = signature.normalize(model, None)
    rng = np.random.default_rng(0)

    def artifact(args):
        return rng.standard_normal(args[0].shape).astype("float32")

    with pytest.warns(UserWarning, match="compared by count and shape only"):
        assert np.isnan(verify.check(model, artifact, specs))
    with pytest.raises(errors.VerificationError, match="shape"):
        verify.check(model, lambda args: np.ones((7, 7), "float32"), specs)


def test_a_deterministic_model_that_differs_is_still_refused():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    specs = signature.normalize(model, None)
    with pytest.raises(errors.VerificationError, match="does not reproduce"):
        verify.check(model, lambda args: np.zeros((args[0].shape[0], 2), "float32") + 5, specs)
