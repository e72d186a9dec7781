"""The model's own outputs, the reference every artifact is compared with.

On TensorFlow and PyTorch the model is called as users call it. On JAX an
eager call dispatches and compiles each operation on its own: a
MobileNet's first call at a new batch size costs about 10 s of XLA
compilations, against about 2 s for the whole model compiled once. So on
JAX the model runs as Keras's own `predict()` runs it: its
`stateless_call` under `jax.jit`, compiled once per model and input shape
and kept while the model lives. The variables it returns are written
back, so a layer drawing random numbers at inference advances its seed as
an eager call does (verification tells such models apart by calling them
twice). A model that cannot be traced is called eagerly instead.
"""

import weakref

import numpy as np

# Per model: its jitted stateless call, or None once tracing it failed.
_JITTED = weakref.WeakKeyDictionary()


def outputs(model, args):
    """Run `model` in inference mode on positional `args`; NumPy leaves."""
    import keras

    result = None
    if keras.backend.backend() == "jax":
        result = _jitted_call(model, args)
    if result is None:
        result = model(*args, training=False)
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), result)


def _jitted_call(model, args):
    """The outputs of `model`'s jitted stateless call, or `None` where it cannot be traced."""
    try:
        call = _JITTED[model]
    except KeyError:
        call = _JITTED[model] = _jit(model)
    except TypeError:  # not weakly referable: nowhere to keep its compiled call
        return None
    if call is None:
        return None
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    try:
        result, updated = call(trainable, non_trainable, *args)
    except Exception:  # noqa: BLE001 -- anything jit refuses, the eager call runs or explains
        _forget(model)
        return None
    for variable, value in zip(model.non_trainable_variables, updated):
        variable.assign(value)
    return result


def _jit(model):
    import jax

    if not hasattr(model, "stateless_call"):
        return None

    # Weakly: the table's value must not keep its key, the model, alive.
    model = weakref.ref(model)

    def call(trainable, non_trainable, *args):
        return model().stateless_call(trainable, non_trainable, *args, training=False)

    return jax.jit(call)


def _forget(model):
    _JITTED[model] = None
