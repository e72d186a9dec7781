"""One module per export format, each writing *and* opening it, under the same names.

Every format module is a `Format` (the contract below): its id and files
(`FORMAT`, `SUFFIXES`, `IS_DIRECTORY`, `companions`), how to recognise its
files by content (`recognizes`), the exporter's options per backend
(`OPTIONS`), `write` (the model to the file) and `open` (the file to an
`Artifact`, with its runtime alone). `kerasexport.load()` and verification
both open an artifact with `open`, so what passes verification is what
users get; `check` refuses what opens and runs but is not what was asked
for, and `runtime_defaults` opens it the way a runtime's bare defaults
would, where those differ from `open` (OpenVINO's on bfloat16 processors).

`common` holds what the format modules share: the names of an artifact's
inputs and outputs, tracing in inference mode, reading a file's head. The
format modules import it, never this registry, which imports them by name.
"""

import importlib
import os
import typing

from kerasexport import errors

# Keras's names for the formats, and the module of each.
_MODULES = {
    "tf_saved_model": "saved_model",
    "onnx": "onnx",
    "openvino": "openvino",
    "litert": "litert",
    "torch": "pt2",
}
FORMATS = tuple(_MODULES)
# Recognised by content in this order; ONNX, whose protobuf has no magic
# number, is what a file is when it is none of the others.
_DETECTION_ORDER = ("tf_saved_model", "litert", "torch", "openvino")
_FALLBACK = "onnx"


@typing.runtime_checkable
class Format(typing.Protocol):
    """What each `kerasexport.formats.<format>` module provides.

    Attributes:
        FORMAT: Keras's name for the format (``"onnx"``).
        SUFFIXES: conventional suffixes, the first preferred (``(".onnx",)``;
            none for a SavedModel directory).
        IS_DIRECTORY: whether an artifact is a directory.
        OPTIONS: backend -> the exporter options it takes there.
        OPEN_OPTIONS: the options `open` takes (ONNX's `providers`...).
    """

    FORMAT: str
    SUFFIXES: tuple
    IS_DIRECTORY: bool
    OPTIONS: dict
    OPEN_OPTIONS: tuple

    def companions(self, path):
        """The files written beside `path` that belong to its artifact."""

    def recognizes(self, path):
        """Whether the file or directory at `path` holds this format, by content."""

    def write(self, model, path, signature, verbose, **options):
        """Export `model` (on the backend that runs this call) to `path`."""

    def open(self, path, **options):
        """The artifact at `path`, opened with its runtime alone: an `Artifact`."""

    def check(self, artifact, signature, options):
        """Raise `VerificationError` for an artifact that runs but is not what was asked."""

    def runtime_defaults(self, path):
        """`None`, or (an `Artifact`, a `dict`) opened with the runtime's bare defaults."""

    def defaults_warning(self, defaults):
        """What to tell users of the bare defaults, given `runtime_defaults`' dict and its error."""


def get(format):
    """Return the module implementing `format`.

    Raises:
        FormatError: for a name that is not one of `FORMATS`.
    """
    module = _MODULES.get(format) if isinstance(format, str) else None
    if module is None:
        raise errors.FormatError(
            f"Unknown format {format!r}. Available formats: {', '.join(FORMATS)}."
        )
    return importlib.import_module(f"kerasexport.formats.{module}")


def detect(path):
    """The format of the artifact at `path`, by its content (not its name).

    Returns:
        A name from `FORMATS`: the first format that recognises `path`, else
        `"onnx"` for a file (onnxruntime judges it) and `None` for a
        directory no format recognises.
    """
    for name in _DETECTION_ORDER:
        if get(name).recognizes(path):
            return name
    return None if os.path.isdir(path) else _FALLBACK


def by_suffix(suffix):
    """The format whose conventional suffix is `suffix` (``".onnx"``), or `None`."""
    suffix = suffix.lower()
    return next((name for name in FORMATS if suffix in get(name).SUFFIXES), None)
