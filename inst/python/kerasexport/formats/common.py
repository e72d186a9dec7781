"""What the format modules share: how inputs and outputs are named, tracing in inference mode.

Every format names an artifact's inputs from the signature and its outputs
from the model the same way, so `Artifact.predict()` and verification match
them by name whatever the format.
"""

import contextlib


def read_head(path, size=64):
    """The first `size` bytes of the file at `path` (`b""` for what is not a readable file)."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def output_names(model, count=None):
    """Names for the model's flat outputs: dict keys (sorted), else `output_i`.

    Args:
        model: a `keras.Model`.
        count: `int` or `None`. How many outputs the artifact has, for models
            whose output structure Keras did not record (subclassed models).

    Returns:
        A list of `str`, or `None` when neither the structure nor `count` is
        known.
    """
    import keras

    structure = getattr(model, "_outputs_struct", None)
    if isinstance(structure, dict):
        return [str(key) for key in keras.tree.flatten({key: key for key in structure})]
    if structure is not None:
        count = len(keras.tree.flatten(structure))
    if count is None:
        return None
    return [f"output_{i}" for i in range(count)]


def input_names(signature):
    """Names for a normalized signature's flat inputs, in flattening order.

    A dict's key names its input; otherwise the spec's own name when the
    names are unique, else ``input_<i>``.
    """
    import keras

    paths = keras.tree.flatten_with_path(signature)
    names = []
    for i, (path, spec) in enumerate(paths):
        keys = [k for k in path if isinstance(k, str)]
        names.append(keys[-1] if keys else (spec.name or f"input_{i}"))
    if len(set(names)) != len(names):
        names = [f"input_{i}" for i in range(len(names))]
    return names


@contextlib.contextmanager
def inference_mode():
    """While exporting, trace every layer call with ``training=False``.

    Keras's SavedModel exporter, its TensorFlow ONNX path and torch.onnx
    call the model without `training`, so each layer falls back to its own
    default, and the random augmentation layers (`RandomFlip`,
    `RandomRotation`, ...) default to training: their artifacts flip and
    rotate at serving time. Keras resolves an unset `training` from the
    outermost call in progress; this makes that an inference call, as
    `model(x, training=False)` does. An explicit `training=` still wins.
    """
    from keras.src.backend.common import global_state
    from keras.src.layers.layer import CallContext

    key = "current_call_ctx"
    previous = global_state.get_global_attribute(key)
    context = CallContext(entry_layer=None)
    context.set_value("training", False)
    global_state.set_global_attribute(key, context)
    try:
        yield
    finally:
        global_state.set_global_attribute(key, previous)
