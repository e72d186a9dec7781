"""One module per export format: how to write it, how to load and run it."""

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
