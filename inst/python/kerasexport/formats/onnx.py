"""ONNX: written by Keras's exporter, run by onnxruntime."""

import os
import re

from kerasexport import formats

FORMAT = "onnx"
IS_DIRECTORY = False
SUFFIX = ".onnx"
OPTIONS = {
    "tensorflow": ("opset_version",),
    "jax": ("opset_version",),
    "torch": ("opset_version",),
}


# Protobuf's limit: a larger model must keep its weights in external data.
_MAX_INLINE_BYTES = 2**31 - 1


def write(model, path, input_signature, verbose, **options):
    """Export `model` to ONNX at `path` with Keras, in inference mode.

    The weights may be left beside the file (see `finish`).
    """
    from keras.src.export import onnx

    import keras

    if keras.backend.backend() == "tensorflow":
        _teach_tf2onnx_erfc()
    with formats.inference_mode():
        onnx.export_onnx(
            model, path, verbose=bool(verbose), input_signature=input_signature, **options
        )


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
    import os

    import onnx

    from kerasexport import scrub

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
            from kerasexport import errors

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


def graphs(root):
    """`root` (a graph or a function) and every subgraph in it (loops, branches)."""
    yield root
    for node in root.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from graphs(attribute.g)
            for subgraph in attribute.graphs:
                yield from graphs(subgraph)


def _initializers(graph):
    """Initializers of `graph` and of its subgraphs."""
    for g in graphs(graph):
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
    for graph in graphs(model.graph):
        for node in graph.node:
            if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type):
                found.setdefault(node.op_type, node.name)
    return sorted(found.items())


# onnxruntime starts its load errors with "Load model from <path> failed:".
_LOAD_PREFIX = re.compile(r"Load model from .*? failed:\s*")



def runner(path, signature, options=None):
    """Run the file as a user would: an onnxruntime session on the CPU.

    Args:
        path: `str`, the ONNX file.
        signature: the normalized signature it was exported with.
        options: the export's options (unused).

    Returns:
        A function of the model's positional arguments returning
        ``{output name: array}``.

    Raises:
        VerificationError: when onnxruntime cannot load the file, or it asks
            for more inputs than `signature` describes.
    """
    import onnxruntime

    from kerasexport import errors
    from kerasexport import signature as signature_lib

    session_options = onnxruntime.SessionOptions()
    session_options.log_severity_level = 3  # a failure is raised, not logged
    try:
        session = load(path, session_options=session_options)
    except Exception as exc:
        raise errors.VerificationError(
            "The exported artifact could not be loaded by its runtime: "
            f"{describe_load_failure(path, exc)}"
        ) from exc
    _check_inputs(session, signature)
    return lambda args: run(session, signature_lib.flat_specs(args))


def _check_inputs(session, signature):
    """Refuse an ONNX graph whose extra inputs no caller could feed."""
    from kerasexport import errors
    from kerasexport import signature as signature_lib

    names = [i.name for i in session.get_inputs()]
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


def load(path, providers=None, session_options=None):
    """An onnxruntime session on `path` (CPU provider unless told)."""
    import onnxruntime

    return onnxruntime.InferenceSession(
        path, sess_options=session_options,
        providers=providers or ["CPUExecutionProvider"],
    )


def run(session, flat_inputs):
    """Run with inputs in the session's input order; outputs by name."""
    feeds = {i.name: x for i, x in zip(session.get_inputs(), flat_inputs)}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))
