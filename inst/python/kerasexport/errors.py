"""Exceptions raised by kerasexport.

Every exception carries a ``kind``; the R package turns it into the condition
class ``kerasexport_<kind>_error`` so R and Python users catch the same cases.
"""


class KerasexportError(Exception):
    """Base class of every error raised by kerasexport."""

    kind = "generic"


class ModelError(KerasexportError, TypeError):
    """The object is not a Keras model, or the model cannot be used as is."""

    kind = "model"


class SignatureError(KerasexportError, ValueError):
    """An input signature is malformed or does not match the model."""

    kind = "signature"


class FormatError(KerasexportError, ValueError):
    """An unknown export format."""

    kind = "format"


class OptionError(KerasexportError, TypeError):
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


class ArtifactError(KerasexportError, ValueError):
    """A path is not a loadable artifact, or an endpoint does not exist."""

    kind = "artifact"


class InputError(KerasexportError, ValueError):
    """Inputs given to an artifact do not match its signature."""

    kind = "input"


class ArgumentError(KerasexportError, TypeError):
    """An argument of the wrong type (e.g. variables that are not variables)."""

    kind = "argument"


class EndpointError(KerasexportError, ValueError):
    """An archive endpoint is missing, repeated, misnamed or cannot be traced."""

    kind = "endpoint"
