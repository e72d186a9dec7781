"""Exceptions raised by kerasexport.

Every exception carries a ``kind``; the R package turns it into the condition
class ``kerasexport_<kind>_error`` so R and Python users catch the same cases.
Messages are written for Python; where an error has a remedy R spells
differently, its ``fix`` names it (``"overwrite"``, ``"install"``) and the
R package adds its own hint.

Errors about what the caller passed (model, signature, option, argument) are
both `ValueError` and `TypeError`: Keras raises one or the other for the same
faults, and code written against Keras catches what Keras raises.
"""


class KerasexportError(Exception):
    """Base class of every error raised by kerasexport.

    Args:
        *args: the message.
        fix: `str` or `None`, the remedy's name for the R package's own hint:
            ``"overwrite"`` (replace an existing artifact), ``"install"``
            (create the Python environment). Defaults to `None`.
    """

    kind = "generic"

    def __init__(self, *args, fix=None):
        super().__init__(*args)
        self.fix = fix


class ModelError(KerasexportError, TypeError, ValueError):
    """The object is not a Keras model, or the model cannot be used as is."""

    kind = "model"


class SignatureError(KerasexportError, ValueError, TypeError):
    """An input signature is malformed or does not match the model."""

    kind = "signature"


class FormatError(KerasexportError, ValueError):
    """An unknown export format, or one that cannot hold this model (its converter refused it)."""

    kind = "format"


class OptionError(KerasexportError, TypeError, ValueError):
    """An extra option does not apply to this backend and format."""

    kind = "option"


class RouteError(KerasexportError, RuntimeError):
    """No export route can write this model in this format."""

    kind = "route"


class DependencyError(KerasexportError, ImportError):
    """A Python package the export needs is missing."""

    kind = "dependency"


class PathError(KerasexportError, OSError):
    """The target path cannot be written (exists, wrong type, no parent...)."""

    kind = "path"


class VerificationError(KerasexportError, AssertionError):
    """The written artifact does not reproduce the model's outputs."""

    kind = "verification"


class PrecisionError(KerasexportError, ValueError):
    """A precision unknown, or one the format's toolchain cannot produce (refused before any work)."""

    kind = "precision"


class CalibrationError(KerasexportError, TypeError, ValueError):
    """Calibration data that does not fit the model's inputs, or is missing where needed."""

    kind = "calibration"


class ArtifactError(KerasexportError, ValueError):
    """A path is not a loadable artifact, or an endpoint does not exist."""

    kind = "artifact"


class InputError(KerasexportError, ValueError):
    """Inputs given to an artifact do not match its signature."""

    kind = "input"


class RequestError(InputError):
    """A request body (TF-Serving JSON, KServe v2) that cannot be read, or does not fit the endpoint.

    Raised by `kerasexport.codec` for the server (which answers 400) and
    for ``kerasexport predict --input request.json`` (exit 1) alike.
    """


class ArgumentError(KerasexportError, TypeError, ValueError):
    """An argument of the wrong type (e.g. variables that are not variables)."""

    kind = "argument"


class EndpointError(KerasexportError, ValueError):
    """An archive endpoint is missing, repeated, misnamed or cannot be traced."""

    kind = "endpoint"


_LIKE = {}


def endpoint_error_like(cause, message):
    """An `EndpointError` that is also an instance of `cause`'s built-in class.

    Tracing an endpoint fails with whatever its code raises (a `TypeError`
    from JAX, a `ValueError` from jax2tf's options); Keras lets that
    through, so code written against Keras expects that class.
    """
    base = next(
        (c for c in type(cause).__mro__ if c.__module__ == "builtins" and issubclass(c, Exception)),
        Exception,
    )
    if issubclass(EndpointError, base):
        return EndpointError(message)
    if base not in _LIKE:
        try:
            _LIKE[base] = type("EndpointError", (EndpointError, base), {"__module__": __name__})
        except TypeError:  # incompatible layouts (e.g. OSError)
            _LIKE[base] = EndpointError
    return _LIKE[base](message)
