"""Which backend can write which format, and in what order to try routes.

Two routes write an artifact:

- ``"native"``: the format's exporter, in this process, on the model's
  backend (`NATIVE`: SavedModel on TensorFlow and JAX, ONNX on all three,
  OpenVINO on TensorFlow and PyTorch, LiteRT on TensorFlow, .pt2 on
  PyTorch).
- ``"cross-backend"``: the model is saved to a ``.keras`` file and exported
  in a worker process by the backend that owns the format's exporter
  (`CROSS_BACKENDS`; see `kerasexport.cross`). It covers the formats a backend
  has no exporter for (SavedModel from PyTorch, LiteRT from JAX and PyTorch,
  .pt2 from TensorFlow and JAX, OpenVINO from JAX) and models the native
  exporter fails on.

The automatic choice (``route=None``) tries the native route first when the
backend has one, and falls back to the cross-backend route when the native
route raises *or* writes an artifact that fails verification (an artifact
its runtime rejects is as useless as no artifact). Errors that do not depend
on the route (a bad signature, option or path) are raised before any route
runs, so they never trigger the fallback.
"""

import dataclasses
import re

from kerasexport import errors

NATIVE_NAME = "native"
CROSS_NAME = "cross-backend"
ROUTES = (NATIVE_NAME, CROSS_NAME)
# The backends whose exporter writes each format well, best first: the
# cross-backend route exports there (see `kerasexport.cross`). Measured on the
# test zoo: OpenVINO's TensorFlow frontend has no TensorList (LSTMs), its
# PyTorch path through torch.export converts every zoo model; LiteRT's
# converter is TensorFlow's; a .pt2 file is a torch.export program.
CROSS_BACKENDS = {
    "tf_saved_model": ("tensorflow",),
    "onnx": ("tensorflow",),
    "openvino": ("torch", "tensorflow"),
    "litert": ("tensorflow",),
    "torch": ("torch",),
}
_DEFAULT_CROSS_BACKEND = "tensorflow"

# The formats each backend exports in this process. JAX has no OpenVINO
# route (jax2tf leaves XlaCallModule ops OpenVINO cannot convert), no LiteRT
# and no .pt2; TensorFlow none of .pt2; PyTorch no SavedModel (torch_xla)
# and no LiteRT (the litert-torch package).
NATIVE = {
    "tensorflow": ("tf_saved_model", "onnx", "openvino", "litert"),
    "jax": ("tf_saved_model", "onnx"),
    "torch": ("onnx", "openvino", "torch"),
}


@dataclasses.dataclass(frozen=True)
class Route:
    """A way to write the artifact, and why it was chosen.

    Attributes:
        name: `"native"` or `"cross-backend"`.
        backend: the Keras backend that runs the exporter.
        reason: why this route is (to be) taken, in words.
    """

    name: str
    backend: str
    reason: str


def has_native(backend, format):
    """Whether Keras can write `format` from `backend` in this process."""
    return format in NATIVE.get(backend, ())


def plan(backend, format, requested=None):
    """The routes to try for `format` on `backend`, in order.

    Args:
        backend: `str`, the model's Keras backend.
        format: `str`, the export format.
        requested: `str` or `None`: `"native"` or `"cross-backend"` to force
            one route. Defaults to `None` (native first, then cross-backend).

    Returns:
        A non-empty list of `Route`.

    Raises:
        RouteError: for an unknown route, or `"native"` where there is none.
    """
    if requested is not None and requested not in ROUTES:
        raise errors.RouteError(
            f"Unknown route {requested!r}. Available routes: {', '.join(ROUTES)} "
            "(or None to choose automatically)."
        )
    native = Route(NATIVE_NAME, backend, f"Keras exports {format} natively on the {backend} backend")
    if requested == NATIVE_NAME:
        if not has_native(backend, format):
            raise errors.RouteError(
                f"route='native' was requested, but Keras has no native {format} "
                f"exporter on the {backend} backend (native formats here: "
                f"{', '.join(NATIVE.get(backend, ())) or 'none'}). Use "
                "route='cross-backend' or leave `route` unset."
            )
        return [native]
    if requested == CROSS_NAME:
        return [cross(backend, format, "route='cross-backend' was requested")]
    if has_native(backend, format):
        return [native, cross(backend, format, None)]
    return [cross(
        backend, format,
        f"Keras has no native {format} exporter on the {backend} backend",
    )]


def worker_backend(backend, format):
    """The backend a worker exports `format` with, for a model on `backend`.

    The first of the format's `CROSS_BACKENDS` other than `backend` (a
    fallback from a failed native route should try another exporter), or the
    first one when `backend` is the only one.
    """
    candidates = CROSS_BACKENDS.get(format, (_DEFAULT_CROSS_BACKEND,))
    return next((b for b in candidates if b != backend), candidates[0])


def cross(backend, format, why):
    """The cross-backend `Route`; `why` is `None` until a fallback says why."""
    target = worker_backend(backend, format)
    how = f"exported by the {target} backend in a worker process"
    return Route(CROSS_NAME, target, f"{why}; {how}" if why else how)


def fallback(route, native_error):
    """`route` (cross-backend) with the native failure as its reason."""
    return dataclasses.replace(
        route, reason=f"the native route failed ({describe(native_error)}); {route.reason}"
    )


# Keras wraps an error raised inside a layer's `call()`: this line first, the
# error's own text next (in bold), then the arguments the layer received.
_KERAS_WRAPPER = re.compile(r"^Exception encountered when calling (\S+?)\.?$")
_KERAS_CAUSE = "Exception encountered: "
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe(exc):
    """One line for an exception: its class and the first line of its text.

    For an error Keras wrapped on its way out of a layer's `call()`, the line
    is the error's own text, followed by the layer that raised it.
    """
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    wrapper = _KERAS_WRAPPER.match(lines[0]) if len(lines) > 1 else None
    if wrapper:
        lines = lines[1:]
    if len(lines) > 1 and lines[0].endswith("Error encountered:"):
        lines = lines[1:]  # Keras's symbolic call: "Could not ... infer the output shape"
    causes = [line for line in lines if line.startswith(_KERAS_CAUSE)]
    if causes and "could not be deserialized properly" in lines[0]:
        # Keras's loader nests one such message per enclosing object.
        lines = [causes[-1][len(_KERAS_CAUSE):]]
    text = lines[0] if lines else ""
    if wrapper:
        text += f" (in {wrapper.group(1)})"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
