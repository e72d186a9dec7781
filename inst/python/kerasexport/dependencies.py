"""Name the missing Python package, and how to install it, before any work."""

import importlib.util

from kerasexport import errors

# (module, pip package, what it is for)
_TENSORFLOW = ("tensorflow", "tensorflow-cpu", "write and load SavedModels")
_ONNXRUNTIME = ("onnxruntime", "onnxruntime", "load and verify ONNX files")
_ONNX = ("onnx", "onnx", "read and clean ONNX files")
_ONNX_WRITERS = {
    "tensorflow": ("tf2onnx", "tf2onnx", "convert TensorFlow functions to ONNX"),
    "jax": ("jax2onnx", "jax2onnx", "convert JAX functions to ONNX"),
    "torch": ("onnxscript", "onnxscript", "export torch models to ONNX"),
}


def needed_for_export(format, backend, verify):
    """The (module, package, purpose) triples an export needs."""
    if format == "tf_saved_model":
        return [_TENSORFLOW]
    needed = [_ONNX, _ONNX_WRITERS[backend]] if backend in _ONNX_WRITERS else [_ONNX]
    if verify:
        needed.append(_ONNXRUNTIME)
    return needed


def missing(needed):
    """The (module, package, purpose) triples of `needed` not installed."""
    return [item for item in needed if importlib.util.find_spec(item[0]) is None]


def require(needed):
    """Raise `DependencyError` naming every missing package.

    Args:
        needed: list of (module, pip package, purpose) triples.

    Raises:
        DependencyError: listing the missing packages and the install call.
    """
    absent = missing(needed)
    if not absent:
        return
    what = "; ".join(f"{package} (to {purpose})" for _, package, purpose in absent)
    packages = " ".join(package for _, package, _ in absent)
    raise errors.DependencyError(
        f"Missing Python package(s): {what}. Install them with "
        f"`pip install {packages}`, or from R run "
        "`kerasexport::install_kerasexport()`."
    )
