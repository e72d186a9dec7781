"""The model's own outputs (`kerasexport.reference`): what an eager call gives, on every
backend; on JAX through one compiled call per model and shape."""

import keras
import numpy as np
from kerasexport import reference
from test_verify import Noisy  # random at inference: each call advances its seed


def conv_net():
    keras.utils.set_random_seed(5)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, {"logits": keras.layers.Dense(2)(y), "pooled": y})


def test_outputs_are_the_eager_calls_outputs_and_leave_the_weights_alone():
    model = conv_net()
    weights = [np.array(w) for w in model.get_weights()]
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 8, 8, 3)).astype("float32")
        got = reference.outputs(model, [x])
        want = model(x, training=False)
        assert sorted(got) == ["logits", "pooled"]
        for name in got:
            assert isinstance(got[name], np.ndarray) and got[name].shape == tuple(want[name].shape)
            np.testing.assert_allclose(got[name], keras.ops.convert_to_numpy(want[name]), rtol=1e-5, atol=1e-6)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_a_random_layer_draws_anew_on_each_call_as_eagerly():
    model = keras.Sequential([keras.Input((3,)), Noisy()])
    x = np.zeros((2, 3), "float32")
    first, second = reference.outputs(model, [x]), reference.outputs(model, [x])
    assert first.shape == second.shape == (2, 3)
    assert not np.allclose(first, second)


class HostSide(keras.layers.Layer):
    """Reads its input's values on the host: runs eagerly, cannot be traced."""

    def call(self, x):
        return x * float(np.asarray(keras.ops.convert_to_numpy(x)).max() > 0)

    def compute_output_shape(self, input_shape):
        return input_shape


def test_a_model_that_cannot_be_traced_is_called_eagerly():
    model = keras.Sequential([keras.Input((2,)), HostSide()])
    x = np.array([[1.0, 2.0]], "float32")
    np.testing.assert_array_equal(reference.outputs(model, [x]), x)
    np.testing.assert_array_equal(reference.outputs(model, [-x]), np.zeros_like(x))


def test_the_compiled_call_does_not_keep_the_model_alive():
    import gc
    import weakref

    model = conv_net()
    reference.outputs(model, [np.zeros((1, 8, 8, 3), "float32")])
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None
