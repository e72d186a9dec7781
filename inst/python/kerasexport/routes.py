"""Which backend can write which format, and how we get there.

Keras's own exporter ("native" route) is used wherever it works on the
model's backend. Where it is missing, the model goes through the
cross-backend route (see DESIGN.md).
"""

import dataclasses

from kerasexport import errors

NATIVE = {
    "tensorflow": ("tf_saved_model", "onnx"),
    "jax": ("tf_saved_model", "onnx"),
    "torch": ("onnx",),
}
ROUTES = ("native",)


@dataclasses.dataclass(frozen=True)
class Route:
    """A way to write the artifact, and why it was chosen."""

    name: str
    backend: str
    reason: str


def choose(backend, format, requested=None):
    """Pick the route for `format` on `backend`.

    Args:
        backend: `str`, the model's Keras backend.
        format: `str`, the export format.
        requested: `str` or `None`: a route the user forces. Defaults to
            `None` (choose automatically).

    Returns:
        A `Route`.

    Raises:
        RouteError: when no route can write `format` from `backend`.
    """
    if requested is not None and requested not in ROUTES:
        raise errors.RouteError(
            f"Unknown route {requested!r}. Available routes: {', '.join(ROUTES)}."
        )
    if format in NATIVE.get(backend, ()):
        return Route("native", backend, f"Keras exports {format} natively on {backend}")
    raise errors.RouteError(
        f"Exporting {format} from the {backend} backend is not yet supported. "
        f"Natively supported here: {', '.join(NATIVE.get(backend, ())) or 'none'}."
    )
