"""ONNX: written by Keras's exporter, opened by onnxruntime.

What the exporters write is made one self-contained, path-free file
(`finish`): weights some exporters leave in side files are folded in, doc
strings and stack traces removed, dict outputs named as the model names
them. An ONNX protobuf has no magic number: a file no other format
recognises is taken for ONNX, and onnxruntime judges it.
"""

import os
import re

from kerasexport import artifact as artifact_lib
from kerasexport import dtypes
from kerasexport import errors
from kerasexport.formats import common
from kerasexport import scrub

FORMAT = "onnx"
IS_DIRECTORY = False
SUFFIXES = (".onnx",)
OPTIONS = {
    "tensorflow": ("opset_version",),
    "jax": ("opset_version",),
    "torch": ("opset_version",),
}
OPEN_OPTIONS = ("providers", "session_options")


# Protobuf's limit: a larger model must keep its weights in external data.
_MAX_INLINE_BYTES = 2**31 - 1


# Metadata entry naming the precision of a file exported with `precision=`.
PRECISION_MARK = "kerasexport.precision"


def companions(path):
    """None: `write` folds every side file into the one `.onnx` file."""
    return []


def recognizes(path):
    """Any file: ONNX is what a file is when no other format recognises it (see `formats.detect`)."""
    return os.path.isfile(path)


def write(model, path, signature, verbose, **options):
    """Export `model` to one self-contained ONNX file at `path` with Keras, in inference mode."""
    from keras.src.export import onnx

    import keras

    if keras.backend.backend() == "tensorflow":
        _teach_tf2onnx_erfc()
    with common.inference_mode():
        onnx.export_onnx(
            model, path, verbose=bool(verbose), input_signature=signature, **options
        )
    finish(path, common.output_names(model) if _has_dict_outputs(model) else None)


def _has_dict_outputs(model):
    return isinstance(getattr(model, "_outputs_struct", None), dict)


def _teach_tf2onnx_erfc():
    """Give tf2onnx a translation of `Erfc`, as ``1 - Erf(x)``.

    TensorFlow's exact GELU (Keras's default `gelu`, in every transformer
    block) is ``0.5 * x * erfc(-x / sqrt(2))``; tf2onnx has no handler for
    `Erfc`, copies it into the graph as it is, and no runtime can run the
    file. ONNX defines `Erf`. Registered once per process, and only if
    tf2onnx does not translate `Erfc` itself.
    """
    from tf2onnx import handler

    if any("Erfc" in ops for versions in handler.tf_op.get_opsets().values() for ops in versions):
        return
    import numpy as np
    from tf2onnx import utils

    @handler.tf_op("Erfc")
    class _Erfc:
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
            complement = ctx.insert_new_node_on_output(
                "Sub", node.output[0], name=utils.make_name(node.name),
                inputs=[one.output[0], node.output[0]],
            )
            ctx.copy_shape(node.output[0], complement.output[0])
            ctx.set_dtype(complement.output[0], ctx.get_dtype(node.output[0]))


def finish(path, output_names=None):
    """Make the file at `path` one self-contained, path-free ONNX file.

    In one read and at most one write: weights some exporters put in side
    files (jax2onnx, for MobileNet-sized models) are folded into the file;
    doc strings and stack traces are removed (`scrub`); the graph's outputs
    are given `output_names` when the exporter named them after internal
    nodes. A file that cannot be read is left for verification to reject,
    with the runtime's words.

    Args:
        path: `str`, the ONNX file.
        output_names: list of `str` or `None`: the model's output names, in
            the order of the graph's outputs (dict outputs only).

    Raises:
        FormatError: when the side files are too large for one ONNX file.
    """
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:
        return
    side_files = _side_files(model)
    changed = scrub.scrub_onnx_model(model)
    changed |= _name_outputs(model, output_names)
    directory = os.path.dirname(path)
    if side_files:
        size = sum(os.path.getsize(os.path.join(directory, f)) for f in side_files)
        if size > _MAX_INLINE_BYTES:
            raise errors.FormatError(
                f"The ONNX exporter stored {size} bytes of weights in external "
                f"files ({', '.join(sorted(side_files))}); over 2 GB they cannot "
                "be folded into one .onnx file, which kerasexport writes. Use "
                "format='tf_saved_model' for this model."
            )
        onnx.load_external_data_for_model(model, directory)
    if changed or side_files:
        onnx.save_model(model, path, save_as_external_data=False)
    for name in side_files:
        os.remove(os.path.join(directory, name))


def _side_files(model):
    """Names of the files holding the weights stored outside `model`."""
    import onnx

    return {
        entry.value
        for t in _initializers(model.graph)
        if t.data_location == onnx.TensorProto.EXTERNAL
        for entry in t.external_data
        if entry.key == "location"
    }


def _initializers(graph):
    """Initializers of `graph` and of its subgraphs."""
    for g in scrub.onnx_graphs(graph):
        yield from g.initializer


def _name_outputs(model, names):
    """Give the graph's outputs the model's output names, in order.

    jax2onnx and torch.onnx name dict outputs after internal nodes
    (`"add_out_1"`, `"36"`) but emit them in Keras's flattening order (sorted
    keys). Verification then pairs outputs by exact name, so a wrong renaming
    cannot pass unnoticed.

    Returns:
        Whether `model` was changed.
    """
    outputs = list(model.graph.output)
    current = [o.name for o in outputs]
    if not names or len(current) != len(names) or set(current) == set(names):
        return False
    taken = {n for node in model.graph.node for n in node.output} | {i.name for i in model.graph.input}
    if set(names) & (taken - set(current)):
        return False  # A new name would collide with an internal tensor.
    renamed = dict(zip(current, names))
    for node in model.graph.node:
        node.output[:] = [renamed.get(n, n) for n in node.output]
        node.input[:] = [renamed.get(n, n) for n in node.input]
    for output in outputs:
        output.name = renamed[output.name]
    return True


def describe_load_failure(path, exc):
    """Why onnxruntime could not load the file at `path`, in one line.

    Converters copy an operation they cannot translate into the graph as it
    is (tf2onnx: lookup tables, string and hashing ops, `Erfc` of GELU,
    `Bitcast` of argmax); onnxruntime's message then names a node and a
    temporary path. This names the operations instead.

    Args:
        path: `str`, the ONNX file.
        exc: the exception onnxruntime raised.

    Returns:
        `str`, without `path`.
    """
    undefined = undefined_operations(path)
    if undefined:
        shown = ", ".join(f"{op} (node {name!r})" for op, name in undefined[:5])
        more = f" and {len(undefined) - 5} more" if len(undefined) > 5 else ""
        return (
            f"the file uses operations ONNX does not define: {shown}{more}. "
            "The converter copied them from the traced graph because it has "
            "no ONNX translation for them, and no ONNX runtime can run them. "
            "Export this model with format='tf_saved_model', which keeps them."
        )
    text = _LOAD_PREFIX.sub("", str(exc)).replace(path, os.path.basename(path))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return line if len(line) <= 300 else line[:297] + "..."


def undefined_operations(path):
    """(operation, node name) of the nodes whose operation ONNX does not define.

    Looks at the default domain only (custom domains are the runtime's
    business), in the graph and its subgraphs; one node per operation.
    """
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:
        return []
    found = {}
    for graph in scrub.onnx_graphs(model.graph):
        for node in graph.node:
            if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type):
                found.setdefault(node.op_type, node.name)
    return sorted(found.items())


# onnxruntime starts its load errors with "Load model from <path> failed:".
_LOAD_PREFIX = re.compile(r"Load model from .*? failed:\s*")



def open(path, providers=None, session_options=None):
    """The ONNX file at `path` in an onnxruntime session (CPU provider unless told).

    Args:
        path: `str`, the file.
        providers: list of onnxruntime execution providers. Defaults to
            `None` (``["CPUExecutionProvider"]``).
        session_options: an `onnxruntime.SessionOptions`. Defaults to `None`:
            onnxruntime's defaults, but with as many intra-op threads as the
            CPUs this process may run on when that is fewer than the
            machine's (`taskset`, a container's cpuset).

    Raises:
        ArtifactError: a file onnxruntime cannot load (the message says
            why, and what the file looks like if it is not ONNX).
        DependencyError: onnxruntime is not installed.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise errors.DependencyError(f"Loading an ONNX artifact needs onnxruntime: {exc}", fix="install") from exc
    if session_options is None:
        session_options = _within_affinity(onnxruntime)
    try:
        session = onnxruntime.InferenceSession(
            path, sess_options=session_options, providers=providers or ["CPUExecutionProvider"],
        )
    except Exception as exc:
        raise errors.ArtifactError(
            f"{path!r} is not an ONNX model onnxruntime can load: "
            f"{describe_load_failure(path, exc)} {_not_onnx_hint(path)}".rstrip()
        ) from exc
    inputs = tuple(_info(i) for i in session.get_inputs())
    outputs = tuple(_info(o) for o in session.get_outputs())
    name = artifact_lib.SERVE
    endpoint = artifact_lib.Endpoint(name, "graph", inputs, outputs)
    input_names, output_names = [t.name for t in inputs], [t.name for t in outputs]
    run = session.run

    def call(arrays):
        return run(output_names, dict(zip(input_names, arrays)))

    marks = session.get_modelmeta().custom_metadata_map
    return artifact_lib.Artifact(
        path=path, format=FORMAT, size=os.path.getsize(path), endpoints={name: endpoint},
        default_endpoint=name, runtime=session, callers={name: call},
        precision=marks.get(PRECISION_MARK, "float32"),
    )


def _within_affinity(onnxruntime):
    """Session options that keep onnxruntime on the CPUs this process may use, or `None`.

    Left to itself, onnxruntime sizes its pool to the machine's cores and
    pins a thread to each, outside a `taskset` or cpuset too: a server
    pinned to one core then computes (and spins) on the others.
    """
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if allowed >= (os.cpu_count() or allowed):
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = allowed
    return options


def _not_onnx_hint(path):
    """What the file is, when onnxruntime refused it for not being ONNX at all."""
    from kerasexport import saved_keras

    if undefined_operations(path):
        return ""  # An ONNX file after all: the description says what to do.
    if path.endswith(".bin") and os.path.isfile(path[:-4] + ".xml"):
        return "This is the weights file of an OpenVINO IR: load the .xml file beside it."
    if path.endswith((".keras", ".h5")) or saved_keras.recognizes(path):
        return ("This looks like a saved Keras model, not an exported artifact: export it "
                "first (kerasexport.export()).")
    return ("Expected a SavedModel directory or an ONNX, OpenVINO (.xml), LiteRT (.tflite) "
            "or .pt2 file.")


def _info(node):
    shape = node.shape
    if shape is not None:
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
    return artifact_lib.TensorInfo(node.name, dtypes.convert(node.type, "onnx", "name"), shape)


def check(artifact, signature, options):
    """Refuse an ONNX graph whose extra inputs no caller could feed."""
    from kerasexport import signature as signature_lib

    names = [t.name for t in artifact.endpoint().inputs]
    flat = signature_lib.flat_specs(signature)
    if len(names) <= len(flat):
        return
    count = len(flat)
    extra = [n for n in names if n not in {s.name for s in flat}][-(len(names) - count):]
    raise errors.VerificationError(
        f"The ONNX file takes {len(names)} inputs, the model {count}: the "
        f"converter made graph inputs without values of {', '.join(extra[:5])}"
        f"{' and more' if len(extra) > 5 else ''}, tensors the traced model "
        "captured instead of holding them as variables. tf2onnx does this with "
        "the mean and variance of an adapted Normalization layer. Export with "
        "format='tf_saved_model', or to ONNX from the JAX or PyTorch backend."
    )


def runtime_defaults(path):
    """None: `open` is onnxruntime's default session on the CPU."""
    return None


def defaults_warning(defaults):
    raise NotImplementedError("onnxruntime's defaults are what `open` uses")
