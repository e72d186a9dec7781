"""An export resolved once, before any work: what to write, where, by which routes.

`resolve()` checks everything that does not depend on the route — the
model, the tolerance, the format, the target and the files beside it, the
options against each route's exporter, the Python packages each route
needs, the signature — and returns an `ExportPlan`. `api.export()` then
runs the plan's stages in order: stage, write, verify, land. An error
raised here writes nothing and tries no route.
"""

import dataclasses
import os

from kerasexport import atomic
from kerasexport import dependencies
from kerasexport import errors
from kerasexport import formats
from kerasexport import precision as precision_lib
from kerasexport import routes
from kerasexport import signature as signature_lib
from kerasexport import verify as verify_lib


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """What an export will do.

    Attributes:
        format: the `formats.Format` module of the format.
        backend: the model's Keras backend.
        target: absolute path of the artifact.
        companions: paths written beside `target` (OpenVINO's `.bin`).
        routes: the `routes.Route`s to try, in order, each taking every
            option and with its packages installed.
        signature: the normalized input signature.
        options: the exporter's options.
        verify: whether to open and compare the artifact before it lands.
        rtol: the tolerance of float32 verification.
        precision: a `precision.Request` for a reduced-precision artifact,
            or `None` (float32).
    """

    format: object
    backend: str
    target: str
    companions: tuple
    routes: tuple
    signature: object
    options: dict
    verify: bool
    rtol: float
    precision: object = None


def resolve(model, filepath, format, *, input_signature, overwrite, verify, rtol, route, options,
            precision=None, calibration_data=None, agreement=None, quantization=None):
    """Check an export's arguments and choose its routes.

    Raises:
        ModelError, ArgumentError, FormatError, RouteError, OptionError,
        PathError, DependencyError, SignatureError, PrecisionError,
        CalibrationError: see `kerasexport.errors`.
    """
    _check_model(model)
    if rtol is not None:
        _check_rtol(rtol)
    fmt = formats.get(format)
    backend = _backend()
    candidates = _taking(fmt, routes.plan(backend, format, route), options, backend)
    target = _target(filepath)
    companions = tuple(fmt.companions(target))
    atomic.check_target(target, overwrite, fmt.IS_DIRECTORY, companions)
    candidates = _installed(candidates, format, verify)
    signature = signature_lib.normalize(model, input_signature)
    reduced = precision_lib.resolve(
        format, precision, calibration_data, signature, rtol=rtol, agreement=agreement,
        quantization=quantization, options=options,
    )
    if reduced is not None or rtol is None:
        rtol = verify_lib.DEFAULT_RTOL  # reduced: the float32 artifact's; the budget has the user's
    return ExportPlan(
        format=fmt, backend=backend, target=target, companions=companions,
        routes=tuple(candidates), signature=signature, options=dict(options),
        verify=bool(verify), rtol=rtol, precision=reduced,
    )


def _target(filepath):
    try:
        return os.path.abspath(os.fspath(filepath))
    except TypeError as exc:
        raise errors.PathError(
            f"`filepath` must be a path (a string), received {type(filepath).__name__}."
        ) from exc


def _installed(candidates, format, verify):
    """The routes whose Python packages are installed.

    Raises:
        DependencyError: when no route has them, naming what the first lacks.
    """
    needs = [dependencies.needed_for_export(format, r.backend, verify) for r in candidates]
    usable = [r for r, needed in zip(candidates, needs) if not dependencies.missing(needed)]
    if not usable:
        dependencies.require(needs[0])
    return usable


def _taking(fmt, candidates, options, backend):
    """The routes whose exporter takes every option in `options`.

    Each route has its exporter's options: the native route those of the
    model's backend, the cross-backend route those of the worker's backend.

    Raises:
        OptionError: when no route takes all of `options`; the message
            lists, per route, the options that apply.
    """
    usable = [r for r in candidates if set(options) <= set(_options_of(fmt, r))]
    if usable:
        return usable
    unknown = sorted(set(options) - set().union(*(_options_of(fmt, r) for r in candidates)))
    offending = unknown or sorted(options)
    applies = "; ".join(
        f"{', '.join(_options_of(fmt, r)) or 'none'} by the {r.name} route ({r.backend} backend)"
        for r in candidates
    )
    raise errors.OptionError(
        f"Option(s) {', '.join(offending)} do not apply to {fmt.FORMAT} "
        f"exported from the {backend} backend. Options that apply: {applies}. "
        "Remove the option, or choose the route it belongs to with `route=`."
    )


def _options_of(fmt, route):
    return tuple(fmt.OPTIONS.get(route.backend, ()))


def _check_rtol(rtol):
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not rtol >= 0:
        raise errors.ArgumentError(
            f"`rtol` must be a non-negative number (a relative error such as "
            f"1e-4), received {rtol!r}."
        )


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise errors.ModelError(
            f"Expected a Keras 3 model (keras.Model), received an object of "
            f"type {type(model).__module__}.{type(model).__name__}."
        )


def _backend():
    import keras

    return keras.backend.backend()
