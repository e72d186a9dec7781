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


_OPENVINO = ("openvino", "openvino", "convert to and run OpenVINO IR")
_LITERT = ("ai_edge_litert", "ai-edge-litert", "run and verify LiteRT files")
_TORCH = ("torch", "torch", "write and run .pt2 files (torch.export)")


def needed_for_export(format, backend, verify):
    """The (module, package, purpose) triples an export needs on `backend`.

    `backend` is the backend the route exports with (the worker's on the
    cross-backend route).
    """
    if format == "tf_saved_model":
        return [_TENSORFLOW]
    if format == "openvino":
        return [_OPENVINO] + ([_TORCH] if backend == "torch" else [_TENSORFLOW])
    if format == "litert":
        return [_TENSORFLOW] + ([_LITERT] if verify else [])
    if format == "torch":
        return [_TORCH]
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
        f"`pip install {packages}`.", fix="install",
    )
