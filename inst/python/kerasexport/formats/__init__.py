"""One module per export format: how to write it, how to load and run it."""

import contextlib

from kerasexport import errors

FORMATS = ("tf_saved_model", "onnx")


def get(format):
    """Return the module implementing `format`."""
    if format == "tf_saved_model":
        from kerasexport.formats import saved_model

        return saved_model
    if format == "onnx":
        from kerasexport.formats import onnx

        return onnx
    raise errors.FormatError(
        f"Unknown format {format!r}. Available formats: {', '.join(FORMATS)}."
    )


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
