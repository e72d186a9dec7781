import keras
import numpy as np
import pytest

from kerasexport import errors
from kerasexport import signature


def _shapes(specs):
    return keras.tree.map_structure(lambda s: (tuple(s.shape), s.dtype), specs)


def functional_list():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], out)


def functional_dict():
    a = keras.Input((3,), name="a")
    ids = keras.Input((5,), name="ids", dtype="int32")
    emb = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(ids))
    return keras.Model({"a": a, "ids": ids}, keras.layers.Concatenate()([a, emb]))


# spec() ------------------------------------------------------------------


def test_spec_keeps_none_and_makes_ints():
    s = signature.spec([None, 28.0, 28, 1], "float32", "img")
    assert tuple(s.shape) == (None, 28, 28, 1)
    assert all(isinstance(d, int) for d in s.shape[1:])
    assert s.name == "img"


@pytest.mark.parametrize(
    "shape, fragment",
    [((None, 2.5), "fractional"), ((None, -3), "positive"), ((), "at least"), ((None, "a"), "whole numbers")],
)
def test_spec_rejects_bad_shapes(shape, fragment):
    with pytest.raises(errors.SignatureError, match=fragment):
        signature.spec(shape)


def test_spec_rejects_unknown_dtype():
    with pytest.raises(errors.SignatureError, match="Unknown dtype 'float'"):
        signature.spec((None, 3), "float")


# normalize() -------------------------------------------------------------


def test_none_infers_a_dynamic_batch(small_model):
    specs = signature.normalize(small_model, None)
    assert _shapes(specs) == [((None, 4), "float32")]


def test_a_bare_shape_for_sequential(small_model):
    assert _shapes(signature.normalize(small_model, (None, 4))) == [((None, 4), "float32")]


def test_a_shape_of_the_wrong_rank_is_refused(small_model):
    with pytest.raises(errors.SignatureError, match="rank 2"):
        signature.normalize(small_model, (None, 4, 1))


def test_a_wrong_fixed_dimension_is_refused(small_model):
    with pytest.raises(errors.SignatureError, match=r"\(None, 5\)"):
        signature.normalize(small_model, (None, 5))


def test_list_inputs_take_keras_wrapped_form():
    model = functional_list()
    specs = signature.normalize(model, [(None, 3), (None, 2)])
    assert _shapes(specs) == [[((None, 3), "float32"), ((None, 2), "float32")]]
    # Keras's own form is accepted as it is.
    assert _shapes(signature.normalize(model, [[(None, 3), (None, 2)]])) == _shapes(specs)


def test_a_dict_for_named_list_inputs_is_matched_by_name():
    model = functional_list()
    names = [t.name for t in model.inputs]
    by_name = {names[1]: (None, 2), names[0]: (None, 3)}  # not in input order
    assert _shapes(signature.normalize(model, by_name)) == _shapes(signature.normalize(model, [(None, 3), (None, 2)]))
    assert _shapes(signature.normalize(model, [by_name])) == _shapes(signature.normalize(model, by_name))
    with pytest.raises(errors.SignatureError, match=r"names \['a', 'zzz'\], but the model takes a list of 2 input\(s\) named"):
        signature.normalize(model, {names[0]: (None, 3), "zzz": (None, 2)})
    with pytest.raises(errors.SignatureError, match=r"has shape \(None, 2\)"):
        signature.normalize(model, {names[0]: (None, 3), names[1]: (None, 7)})


def test_dict_inputs_take_dtypes_from_the_model():
    model = functional_dict()
    specs = signature.normalize(model, {"a": (None, 3), "ids": (None, 5)})
    assert _shapes(specs) == [{"a": ((None, 3), "float32"), "ids": ((None, 5), "int32")}]


def test_dict_names_must_match():
    with pytest.raises(errors.SignatureError, match=r"\['a', 'x'\].*\['a', 'ids'\]"):
        signature.normalize(functional_dict(), {"a": (None, 3), "x": (None, 5)})


def test_a_list_for_dict_inputs_is_refused():
    with pytest.raises(errors.SignatureError, match="dict of inputs"):
        signature.normalize(functional_dict(), [(None, 3), (None, 5)])


def test_the_number_of_inputs_must_match():
    with pytest.raises(errors.SignatureError, match="describes 3 input"):
        signature.normalize(functional_list(), [(None, 3), (None, 2), (None, 1)])


def test_passthrough_of_keras_and_tensorflow_objects(small_model):
    tf = pytest.importorskip("tensorflow")
    via_tf = signature.normalize(small_model, tf.TensorSpec((None, 4), tf.float64))
    assert _shapes(via_tf) == [((None, 4), "float64")]
    via_keras = signature.normalize(small_model, keras.InputSpec(shape=(None, 4), dtype="float16"))
    assert _shapes(via_keras) == [((None, 4), "float16")]
    via_tensor = signature.normalize(small_model, keras.Input((4,), dtype="float32"))
    assert _shapes(via_tensor) == [((None, 4), "float32")]


def test_an_array_gives_shape_and_dtype_with_a_dynamic_batch(small_model):
    specs = signature.normalize(small_model, np.zeros((2, 4), dtype="float64"))
    assert _shapes(specs) == [((None, 4), "float64")]


def test_unbuilt_model_without_signature_is_a_model_error():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(errors.ModelError, match="not been built"):
        signature.normalize(model, None)


def test_an_unreadable_leaf_is_explained(small_model):
    with pytest.raises(errors.SignatureError, match="Cannot read 'abc'"):
        signature.normalize(small_model, "abc")


# subclassed models with several positional inputs ----------------------------


class TwoInputs(keras.Model):
    """`call()` takes two tensors; Keras records the first one's shape only."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, a, b, training=None):
        return self.dense(keras.ops.concatenate([a, b], axis=-1))


def test_several_positional_inputs_cannot_be_inferred_and_say_what_to_pass(tmp_path):
    import kerasexport

    model = TwoInputs()
    model(np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32"))
    with pytest.raises(errors.SignatureError) as info:
        kerasexport.export(model, str(tmp_path / "m.onnx"), format="onnx")
    message = str(info.value)
    assert "call() takes 2 positional inputs (a, b)" in message
    assert "only the first, a, with shape (None, 3)" in message
    assert "Pass `input_signature` with one shape per input" in message
    assert tmp_path.exists() and list(tmp_path.iterdir()) == []


def test_several_positional_inputs_export_with_a_signature(tmp_path):
    import kerasexport

    model = TwoInputs()
    model(np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32"))
    report = kerasexport.export(
        model, str(tmp_path / "m.onnx"), format="onnx", route="native",
        input_signature=[(None, 3), (None, 4)],
    )
    assert report.verified and report.max_relative_error <= 1e-4
