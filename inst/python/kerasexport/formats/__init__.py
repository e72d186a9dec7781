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

The helpers below name the inputs and outputs the same way for every
format and trace exports in inference mode.
"""

import contextlib
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


def read_head(path, size=64):
    """The first `size` bytes of the file at `path` (`b""` for what is not a readable file)."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def output_names(model, count=None):
    """Names for the model's flat outputs: dict keys (sorted), else `output_i`.

    Args:
        model: a `keras.Model`.
        count: `int` or `None`. How many outputs the artifact has, for models
            whose output structure Keras did not record (subclassed models).

    Returns:
        A list of `str`, or `None` when neither the structure nor `count` is
        known.
    """
    import keras

    structure = getattr(model, "_outputs_struct", None)
    if isinstance(structure, dict):
        return [str(key) for key in keras.tree.flatten({key: key for key in structure})]
    if structure is not None:
        count = len(keras.tree.flatten(structure))
    if count is None:
        return None
    return [f"output_{i}" for i in range(count)]


def input_names(signature):
    """Names for a normalized signature's flat inputs, in flattening order.

    A dict's key names its input; otherwise the spec's own name when the
    names are unique, else ``input_<i>``.
    """
    import keras

    paths = keras.tree.flatten_with_path(signature)
    names = []
    for i, (path, spec) in enumerate(paths):
        keys = [k for k in path if isinstance(k, str)]
        names.append(keys[-1] if keys else (spec.name or f"input_{i}"))
    if len(set(names)) != len(names):
        names = [f"input_{i}" for i in range(len(names))]
    return names


@contextlib.contextmanager
def inference_mode():
    """While exporting, trace every layer call with ``training=False``.

    Keras's SavedModel exporter, its TensorFlow ONNX path and torch.onnx
    call the model without `training`, so each layer falls back to its own
    default, and the random augmentation layers (`RandomFlip`,
    `RandomRotation`, ...) default to training: their artifacts flip and
    rotate at serving time. Keras resolves an unset `training` from the
    outermost call in progress; this makes that an inference call, as
    `model(x, training=False)` does. An explicit `training=` still wins.
    """
    from keras.src.backend.common import global_state
    from keras.src.layers.layer import CallContext

    key = "current_call_ctx"
    previous = global_state.get_global_attribute(key)
    context = CallContext(entry_layer=None)
    context.set_value("training", False)
    global_state.set_global_attribute(key, context)
    try:
        yield
    finally:
        global_state.set_global_attribute(key, previous)
