"""ONNX: written by Keras's exporter, run by onnxruntime."""

FORMAT = "onnx"
IS_DIRECTORY = False
SUFFIX = ".onnx"
OPTIONS = {
    "tensorflow": ("opset_version",),
    "jax": ("opset_version",),
    "torch": ("opset_version",),
}


def write(model, path, input_signature, verbose, **options):
    """Export `model` to an ONNX file at `path` with Keras."""
    from keras.src.export import onnx

    onnx.export_onnx(
        model, path, verbose=bool(verbose), input_signature=input_signature, **options
    )


def load(path, providers=None, session_options=None):
    """An onnxruntime session on `path` (CPU provider unless told)."""
    import onnxruntime

    return onnxruntime.InferenceSession(
        path, sess_options=session_options,
        providers=providers or ["CPUExecutionProvider"],
    )


def run(session, flat_inputs):
    """Run with inputs in the session's input order; outputs by name."""
    feeds = {i.name: x for i, x in zip(session.get_inputs(), flat_inputs)}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))
