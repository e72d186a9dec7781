"""LiteRT (`.tflite`): converted by TensorFlow's converter, run by the
standalone LiteRT interpreter (`ai-edge-litert`).

Keras's own exporter lets the converter fall back to TensorFlow "Select" ops
(Flex), which the standalone interpreter does not have: the file converts and
then cannot run where LiteRT runs. Here the converter may use LiteRT's
built-in operations only, unless `allow_flex=True`; a model it cannot express
with them fails to export, naming the operations.

A recurrent layer over a dynamic batch needs tensor lists of unknown shape,
which LiteRT cannot lower; such a model is converted with its batch fixed to
one, and `predict()` runs it one row at a time.
"""

import io
import os
import re
import tempfile
import warnings

import numpy as np

from kerasexport import artifact as artifact_lib
from kerasexport import errors
from kerasexport.formats import common
from kerasexport.formats import recurrent

FORMAT = "litert"
IS_DIRECTORY = False
SUFFIXES = (".tflite",)
OPEN_OPTIONS = ()
# `allow_flex` is ours; the rest are TFLiteConverter attributes. Only the
# TensorFlow backend converts (the other backends take the cross route).
OPTIONS = {
    "tensorflow": (
        "allow_flex", "optimizations", "representative_dataset", "target_spec",
        "inference_input_type", "inference_output_type", "allow_custom_ops",
    ),
    "jax": (),
    "torch": (),
}
IDENTIFIER = b"TFL3"  # FlatBuffer file identifier, at bytes 4 to 8
SIGNATURE = artifact_lib.SERVE
_STATIC_SHAPE_NEEDED = "requires element_shape to be static"
_FLEX_PREFIX = "Flex"


def companions(path):
    """None: a LiteRT model is one file."""
    return []


def recognizes(path):
    """Whether the file at `path` is a LiteRT FlatBuffer (identifier ``TFL3`` at bytes 4 to 8)."""
    return os.path.isfile(path) and common.read_head(path, 8)[4:8] == IDENTIFIER


def write(model, path, signature, verbose, allow_flex=False, **options):
    """Convert `model` to a `.tflite` file at `path` (any file name).

    Args:
        model: a `keras.Model` on the TensorFlow backend.
        path: `str`, the file to write.
        signature: the normalized signature.
        verbose: `bool` or `None`.
        allow_flex: `bool`. Let the converter use TensorFlow Select ops.
            Defaults to `False` (built-in LiteRT operations only).
        **options: TFLiteConverter attributes. Enum values may be given by
            name (``optimizations=["DEFAULT"]``, ``target_spec={"supported_types":
            ["float16"]}``), so they pass to a worker process and from R.

    Raises:
        FormatError: when the converter cannot express the model.
    """
    signature = _named(signature)
    try:
        blob = _convert(model, signature, allow_flex, options, os.path.dirname(path))
    except _StaticShapeNeeded:
        blob = _unrolled_conversion(model, signature, allow_flex, options, os.path.dirname(path))
    if blob is None:
        signature = _batch_of_one(signature)
        warnings.warn(
            "LiteRT cannot lower this model's recurrent layers over a dynamic "
            "batch, so the .tflite file has a fixed batch size of 1; "
            "kerasexport's predict() runs it one row at a time.",
            UserWarning, stacklevel=2,
        )
        blob = _convert(model, signature, allow_flex, options, os.path.dirname(path))
    blob = _with_metadata(blob, {"inputs": common.input_names(signature)})
    with io.open(path, "wb") as f:
        f.write(blob)
    if verbose:
        from keras.src.utils import io_utils

        io_utils.print_msg(f"Saved LiteRT model at '{path}'.")


class _StaticShapeNeeded(Exception):
    pass


def _unrolled_conversion(model, signature, allow_flex, options, scratch):
    """The model converted with its recurrent layers unrolled (dynamic batch kept), or `None`."""
    steps = recurrent.time_steps(signature)
    if steps is None or steps > recurrent.MAX_STEPS:
        return None
    copy = recurrent.unrolled(model)
    if copy is None:
        return None
    try:
        return _convert(copy, signature, allow_flex, options, scratch)
    except Exception:  # the batch of one is the way that remains
        return None


def _named(signature):
    """`signature` with each leaf named as the artifact's input will be."""
    import keras

    names = iter(common.input_names(signature))
    return keras.tree.map_structure(
        lambda s: keras.InputSpec(shape=s.shape, dtype=s.dtype, name=next(names)), signature
    )


def _batch_of_one(signature):
    import keras

    return keras.tree.map_structure(
        lambda s: keras.InputSpec(shape=(1,) + tuple(s.shape[1:]), dtype=s.dtype, name=s.name),
        signature,
    )


def _convert(model, signature, allow_flex, options, scratch):
    import tensorflow as tf
    from keras.src.export import ExportArchive

    with tempfile.TemporaryDirectory(dir=scratch or None) as saved_model:
        archive = ExportArchive()
        archive.track(model)
        with common.inference_mode():
            archive.add_endpoint(
                SIGNATURE, lambda *args: model(*args, training=False), input_signature=signature
            )
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
            [tf.lite.OpsSet.SELECT_TF_OPS] if allow_flex else []
        )
        converter.experimental_enable_resource_variables = True
        _apply(converter, options, tf)
        try:
            return converter.convert()
        except Exception as exc:
            text = str(exc)
            if _STATIC_SHAPE_NEEDED in text and _has_dynamic_batch(signature):
                raise _StaticShapeNeeded() from exc
            raise errors.FormatError(_conversion_failure(text, allow_flex)) from exc


def _has_dynamic_batch(signature):
    import keras

    return any(s.shape[0] is None for s in keras.tree.flatten(signature))


def _apply(converter, options, tf):
    """Set converter attributes, turning enum names into TensorFlow's values."""
    for name, value in options.items():
        if name == "optimizations":
            value = [tf.lite.Optimize[v] if isinstance(v, str) else v for v in _as_list(value)]
        elif name in ("inference_input_type", "inference_output_type") and isinstance(value, str):
            value = tf.as_dtype(value)
        elif name == "representative_dataset" and isinstance(value, str):
            value = _samples(value)
        elif name == "target_spec":
            for key, item in dict(value).items():
                if key == "supported_types":
                    item = [tf.as_dtype(v) if isinstance(v, str) else v for v in _as_list(item)]
                elif key == "supported_ops":
                    item = [tf.lite.OpsSet[v] if isinstance(v, str) else v for v in _as_list(item)]
                setattr(converter.target_spec, key, item)
            continue
        setattr(converter, name, value)


def _samples(path):
    """A representative dataset over the rows of a `.npz` file (one array per input name)."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    rows = min(a.shape[0] for a in arrays.values())

    def dataset():
        for i in range(rows):
            yield {name: a[i:i + 1] for name, a in arrays.items()}

    return dataset


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


# "tf.Erfc(tensor<?x4xf32>) -> ..." in the converter's report of ops it lacks.
_TF_OP = re.compile(r"\btf\.([A-Za-z0-9_]+)\(")
# "'tf.TensorListReserve' op requires ..." in its legalization errors.
_TF_OP_QUOTED = re.compile(r"'tf\.([A-Za-z0-9_]+)' op")


def _conversion_failure(text, allow_flex):
    ops = sorted(set(_TF_OP.findall(text)) | set(_TF_OP_QUOTED.findall(text)))
    shown = ", ".join(ops[:8]) + (f" and {len(ops) - 8} more" if len(ops) > 8 else "")
    if ops and not allow_flex:
        return (
            "The LiteRT converter cannot express the model with LiteRT's "
            f"built-in operations: it has none for the TensorFlow operation(s) "
            f"{shown}. Pass allow_flex=True to convert them as TensorFlow "
            "Select (Flex) ops (the file then needs a LiteRT runtime linked "
            "with the Flex delegate, which the standalone ai-edge-litert "
            "runtime is not), or export format='onnx' or 'tf_saved_model'."
        )
    first = next((line.strip() for line in text.splitlines() if "error:" in line), text.strip()[:300])
    return (
        f"The LiteRT converter failed"
        + (f" on the TensorFlow operation(s) {shown}" if ops else "")
        + f": {first[:400]} Export format='onnx' or 'tf_saved_model' instead."
    )


# Reading the file ----

# The inputs' positional order, which neither the signature (sorted by name)
# nor the subgraph (in no set order) keeps, saved as a metadata entry.
_METADATA = "kerasexport"


def _with_metadata(blob, data):
    """`blob` (a .tflite FlatBuffer) with `data` as its metadata entry."""
    import json

    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(blob, 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(data).encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = _METADATA
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != _METADATA.encode()] + [entry]
    builder = flatbuffers.Builder(len(blob) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=IDENTIFIER)
    return bytes(builder.Output())


def set_metadata(path, **entries):
    """Add `entries` to the kerasexport metadata of the `.tflite` file at `path`, in place."""
    _, meta = _read(path)
    with io.open(path, "rb") as f:
        blob = f.read()
    with io.open(path, "wb") as f:
        f.write(_with_metadata(blob, dict(meta, **entries)))


def _read(path):
    """(Flex operation names, kerasexport metadata) of the file at `path`."""
    import json

    from ai_edge_litert import schema_py_generated as schema

    with io.open(path, "rb") as f:
        buffer = f.read()
    model = schema.Model.GetRootAsModel(buffer, 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        custom = (model.OperatorCodes(i).CustomCode() or b"").decode("utf-8", "replace")
        if custom.startswith(_FLEX_PREFIX):
            names.add(custom[len(_FLEX_PREFIX):])
    meta = {}
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name() == _METADATA.encode():
            data = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy()
            try:
                meta = json.loads(bytes(data).decode())
            except (ValueError, TypeError):
                meta = {}
    return sorted(names), meta


def flex_operations(path):
    """Names of the TensorFlow Select (Flex) operations the file uses."""
    return _read(path)[0]


def _flex_message(ops):
    return (
        f"The file uses TensorFlow Select (Flex) operations ({', '.join(ops[:8])}"
        f"{' and more' if len(ops) > 8 else ''}), which the standalone LiteRT "
        "runtime (ai-edge-litert) does not have; it needs a LiteRT runtime "
        "linked with the Flex delegate."
    )


def _interpreter(path, ops):
    """The standalone LiteRT interpreter on `path`, or a Flex-capable one.

    Args:
        path: `str`, the file.
        ops: the Flex operations it uses.

    Raises:
        RuntimeError: when the file needs Flex operations and no runtime here
            has them (the message says which).
    """
    if not ops:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(model_path=path)
    try:
        import tensorflow as tf

        interpreter = tf.lite.Interpreter(model_path=path)
        interpreter.allocate_tensors()
        return interpreter
    except Exception as exc:
        raise _FlexUnavailable(
            f"{_flex_message(ops)} TensorFlow's interpreter could not run it "
            f"either ({str(exc).splitlines()[0][:160]})."
        ) from exc


class _FlexUnavailable(RuntimeError):
    pass


class _Signature:
    """The file's one signature: inputs in positional order, a fixed batch of 1.

    The positional order is the one kerasexport saved in the file; a file
    written elsewhere has its inputs in the signature's order (by name).
    """

    def __init__(self, interpreter, meta):
        signatures = interpreter.get_signature_list()
        self.key = SIGNATURE if SIGNATURE in signatures else next(iter(signatures))
        self.runner = interpreter.get_signature_runner(self.key)
        listed = signatures[self.key]
        saved = meta.get("inputs") or []
        self.inputs = list(saved) if sorted(saved) == sorted(listed["inputs"]) else list(listed["inputs"])
        self.outputs = list(listed["outputs"])
        details = self.runner.get_input_details()
        self.input_details = [details[n] for n in self.inputs]
        self.output_details = self.runner.get_output_details()
        self.batch_of_one = bool(self.input_details) and all(
            len(d["shape_signature"]) and d["shape_signature"][0] == 1 for d in self.input_details
        )

    def __call__(self, arrays):
        """Run on arrays in positional order; outputs in `outputs` order."""
        rows = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        if self.batch_of_one and rows != 1:
            parts = [self._invoke([a[i:i + 1] for a in arrays]) for i in range(rows)]
            if not parts:
                raise ValueError("A LiteRT file with a fixed batch of 1 needs at least one row.")
            return [np.concatenate([p[j] for p in parts], axis=0) for j in range(len(self.outputs))]
        return self._invoke(arrays)

    def _invoke(self, arrays):
        result = self.runner(**dict(zip(self.inputs, arrays)))
        return [result[n] for n in self.outputs]


def check(artifact, signature, options):
    """Refuse a file with Flex operations unless `allow_flex` asked for them.

    Raises:
        VerificationError: naming the operations, which the standalone
            runtime users load LiteRT files with does not have.
    """
    ops = flex_operations(artifact.path)
    if ops and not options.get("allow_flex"):
        raise errors.VerificationError(
            f"The exported LiteRT file cannot run: {_flex_message(ops)} Pass verify=False to "
            "write it unverified, or export another format."
        )


def runtime_defaults(path):
    """None: `open` is the standalone interpreter with its default delegate."""
    return None


def defaults_warning(defaults):
    raise NotImplementedError("the interpreter's defaults are what `open` uses")


def open(path):
    """A `kerasexport.Artifact` running the `.tflite` file at `path` with LiteRT.

    The standalone interpreter (`ai-edge-litert`); a file with Flex
    operations runs only in TensorFlow's interpreter, where it has them.

    Raises:
        ArtifactError: a file the interpreter cannot load or run.
        DependencyError: ai-edge-litert is not installed.
    """
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError as exc:
        raise errors.DependencyError(
            "Loading a LiteRT artifact needs the LiteRT runtime: install it with "
            "`pip install ai-edge-litert`.", fix="install",
        ) from exc
    try:
        ops, meta = _read(path)
        call = _Signature(_interpreter(path, ops), meta)
    except _FlexUnavailable as exc:
        raise errors.ArtifactError(f"{path!r} cannot be loaded: {exc}") from exc
    except Exception as exc:
        from kerasexport import routes

        raise errors.ArtifactError(
            f"{path!r} is not a LiteRT model the interpreter can load: {routes.describe(exc)}"
        ) from exc

    def info(name, detail, batch_free):
        shape = [None if d < 0 else int(d) for d in detail["shape_signature"]]
        if batch_free and shape:
            shape[0] = None  # run one row at a time
        return artifact_lib.TensorInfo(name, np.dtype(detail["dtype"]).name, tuple(shape))

    inputs = tuple(info(n, d, call.batch_of_one) for n, d in zip(call.inputs, call.input_details))
    outputs = tuple(
        info(n, call.output_details[n], call.batch_of_one) for n in call.outputs
    )
    name = artifact_lib.SERVE
    endpoint = artifact_lib.Endpoint(name, "graph", inputs, outputs)
    return artifact_lib.Artifact(
        path=path, format=FORMAT, size=os.path.getsize(path),
        endpoints={name: endpoint}, default_endpoint=name, runtime=call.runner,
        callers={name: call}, precision=meta.get("precision", "float32"),
    )
