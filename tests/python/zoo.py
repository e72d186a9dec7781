"""Small models of every kind the export matrix covers.

Importable by name (``zoo``) from ``tests/python``: the cross-backend worker
imports this module to find ``ScaledMLP``, the registered subclassed model.
Every builder seeds Keras, so two calls give the same weights.
"""

import keras

SEED = 11


@keras.saving.register_keras_serializable(package="kerasexport_zoo")
class ScaledMLP(keras.Model):
    """A subclassed model, registered so it can be saved and reloaded."""

    def __init__(self, units=8, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.head = keras.layers.Dense(3)

    def call(self, x):
        return self.head(self.hidden(x)) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@keras.saving.register_keras_serializable(package="kerasexport_zoo")
class TwoInputMLP(keras.Model):
    """Registered, but `call()` takes two tensors: Keras cannot rebuild it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.head = keras.layers.Dense(2)

    def call(self, a, b):
        return self.head(keras.ops.concatenate([a, b], axis=-1))


def two_inputs():
    import numpy as np

    model = TwoInputMLP()
    model(np.zeros((1, 3), "float32"), np.zeros((1, 4), "float32"))
    return model


class UnregisteredMLP(keras.Model):
    """The same model without registration: it cannot be reloaded by name."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(4)

    def call(self, x):
        return self.hidden(x)


@keras.saving.register_keras_serializable(package="kerasexport_zoo")
class FailsToReload(keras.layers.Layer):
    """Registered, but its `from_config` raises: the worker cannot load it."""

    def call(self, x):
        return x * 1.0

    @classmethod
    def from_config(cls, config):
        raise ValueError("FailsToReload refuses to be rebuilt")


@keras.saving.register_keras_serializable(package="kerasexport_zoo")
class FailsOnTensorFlow(keras.layers.Layer):
    """Registered; its `call` raises under the TensorFlow backend only."""

    def call(self, x):
        if keras.backend.backend() == "tensorflow":
            raise ValueError("FailsOnTensorFlow refuses the tensorflow backend")
        return x * 1.0


@keras.saving.register_keras_serializable(package="kerasexport_zoo")
def scaled_tanh(x):
    """A registered function: Keras saves it by name, as activation or Lambda."""
    return keras.ops.tanh(x) * 2.0


def unregistered_square(x):
    return keras.ops.square(x)


def with_functions():
    """Registered functions only, no custom class."""
    return keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(4, activation=scaled_tanh),
        keras.layers.Lambda(scaled_tanh), keras.layers.Dense(2),
    ])


def fails_on_tensorflow():
    return keras.Sequential([keras.Input((6,)), FailsOnTensorFlow(), keras.layers.Dense(2)])


def fails_to_reload():
    return keras.Sequential([keras.Input((6,)), FailsToReload(), keras.layers.Dense(2)])


def sequential():
    return keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3),
    ])


def functional_list():
    a, b = keras.Input((3,), name="a"), keras.Input((5,), name="b")
    x = keras.layers.Concatenate()([keras.layers.Dense(4)(a), b])
    return keras.Model([a, b], keras.layers.Dense(2)(x))


def _dict_model():
    x = keras.Input((4,), name="features")
    ids = keras.Input((6,), name="ids", dtype="int32")
    emb = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(13, 3)(ids))
    h = keras.layers.Concatenate()([keras.layers.Dense(5, activation="relu")(x), emb])
    return keras.Model({"features": x, "ids": ids}, keras.layers.Dense(2)(h))


def functional_dict_called():
    model = _dict_model()
    import numpy as np

    model({"features": np.ones((2, 4), "float32"), "ids": np.ones((2, 6), "int32")})
    return model


def functional_dict_never_called():
    return _dict_model()


def dict_outputs():
    x = keras.Input((5,), name="x")
    h = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(x, {
        "score": keras.layers.Dense(1, name="score")(h),
        "probs": keras.layers.Dense(4, activation="softmax", name="probs")(h),
    })


def list_outputs():
    # A list, not a dict: outputs are paired by position. Same shapes, and
    # names that sort the other way, so no other rule can pair them.
    x = keras.Input((5,), name="x")
    h = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(x, [keras.layers.Dense(2, name="zeta")(h), keras.layers.Dense(2, name="alpha")(h)])


def cnn():
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(6, 3),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ])


def unknown_spatial():
    return keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(2),
    ])


def lstm():
    return keras.Sequential([
        keras.Input((7, 3)),
        keras.layers.LSTM(5, return_sequences=True),
        keras.layers.Bidirectional(keras.layers.LSTM(4)),
        keras.layers.Dense(2),
    ])


def embedding():
    return keras.Sequential([
        keras.Input((9,), dtype="int32"),
        keras.layers.Embedding(20, 4),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(2),
    ])


def augmented():
    # Keras's image tutorials put augmentation layers inside the model: they
    # must be identity in the artifact, as in `model(x, training=False)`.
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.RandomFlip(),
        keras.layers.RandomRotation(0.2),
        keras.layers.RandomZoom(0.2),
        keras.layers.Rescaling(1 / 255.0),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])


def mobilenet():
    model = keras.applications.MobileNetV3Small(
        input_shape=(64, 64, 3), weights=None, classes=5, include_preprocessing=True,
    )
    _calibrate_batch_norm(model, inputs("mobilenet", 32, seed=99))
    return model


def _calibrate_batch_norm(model, x):
    """Give BatchNormalization layers the statistics of a batch of `x`.

    With fresh statistics (mean 0, variance 1) MobileNet's activations
    vanish layer after layer: its outputs are a constant 0.2 to seven
    digits, and any artifact would match them. One training-mode call with
    momentum 0 sets each layer's statistics to those of its inputs. A batch
    of 32: statistics of fewer samples give some channels a tiny variance,
    whose large scale makes runtimes' rounding differ by 1e-4 of the output.
    """
    layers = [l for l in model._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    _training_call(model, x)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def _training_call(model, x):
    """`model(x, training=True)`, for its effect on the model's statistics.

    Called eagerly, JAX compiles each operation apart (about 20 s for
    MobileNet, against 3 s for the whole call jitted).
    """
    if keras.backend.backend() != "jax":
        model(x, training=True)
        return
    import jax

    step = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=True)[1])
    values = step([v.value for v in model.trainable_variables],
                  [v.value for v in model.non_trainable_variables], x)
    for variable, value in zip(model.non_trainable_variables, values):
        variable.assign(value)


def subclassed():
    import numpy as np

    model = ScaledMLP()
    model(np.zeros((1, 6), "float32"))
    return model


def unregistered():
    import numpy as np

    model = UnregisteredMLP()
    model(np.zeros((1, 6), "float32"))
    return model


MODELS = {
    "sequential": sequential,
    "functional_list": functional_list,
    "functional_dict_called": functional_dict_called,
    "functional_dict_never_called": functional_dict_never_called,
    "dict_outputs": dict_outputs,
    "list_outputs": list_outputs,
    "cnn": cnn,
    "unknown_spatial": unknown_spatial,
    "lstm": lstm,
    "embedding": embedding,
    "mobilenet": mobilenet,
    "augmented": augmented,
    "subclassed": subclassed,
}


def _floats(rng, *shape):
    return rng.standard_normal(shape).astype("float32")


def _ints(rng, high, *shape):
    return rng.integers(0, high, size=shape).astype("int32")


# The argument each model is called with, for a batch of `b` rows. Unknown
# dimensions get sizes no exporter would guess (12 x 20 images).
INPUTS = {
    "sequential": lambda rng, b: _floats(rng, b, 6),
    "functional_list": lambda rng, b: [_floats(rng, b, 3), _floats(rng, b, 5)],
    "functional_dict_called": lambda rng, b: {"features": _floats(rng, b, 4), "ids": _ints(rng, 13, b, 6)},
    "functional_dict_never_called": lambda rng, b: {"features": _floats(rng, b, 4), "ids": _ints(rng, 13, b, 6)},
    "dict_outputs": lambda rng, b: _floats(rng, b, 5),
    "list_outputs": lambda rng, b: _floats(rng, b, 5),
    "cnn": lambda rng, b: _floats(rng, b, 16, 16, 3),
    "unknown_spatial": lambda rng, b: _floats(rng, b, 12, 20, 3),
    "lstm": lambda rng, b: _floats(rng, b, 7, 3),
    "embedding": lambda rng, b: _ints(rng, 20, b, 9),
    "mobilenet": lambda rng, b: _floats(rng, b, 64, 64, 3),
    "augmented": lambda rng, b: rng.uniform(0, 255, (b, 12, 12, 3)).astype("float32"),
    "subclassed": lambda rng, b: _floats(rng, b, 6),
}


def inputs(name, batch_size, seed=0):
    """The model's argument for `batch_size` rows (NumPy leaves)."""
    import numpy as np

    return INPUTS[name](np.random.default_rng(seed), batch_size)


def build(name):
    """A fresh, seeded model of kind `name` (a key of `MODELS`)."""
    keras.utils.set_random_seed(SEED)
    return MODELS[name]()
