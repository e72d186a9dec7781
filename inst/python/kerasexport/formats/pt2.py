"""PyTorch ExportedProgram (`.pt2`, Keras's format ``"torch"``): written by
`torch.export` on the PyTorch backend, run by ``torch.export.load(path).module()``.

Keras's own exporter traces with a batch of one and no `dynamic_shapes`, so
its artifact only runs at batch size 1. Here every unknown dimension of the
signature (the batch and any other `None`) is exported as a dynamic
dimension, unless the caller passes `dynamic_shapes` (or a signature without
`None`).
"""

import json
import os

import numpy as np

from kerasexport import artifact as artifact_lib
from kerasexport import errors
from kerasexport.formats import common
from kerasexport import saved_keras
from kerasexport import scrub

FORMAT = "torch"
IS_DIRECTORY = False
SUFFIXES = (".pt2",)
OPEN_OPTIONS = ()
# torch.export.export's own options; only the PyTorch backend has them.
OPTIONS = {
    "tensorflow": (),
    "jax": (),
    "torch": (
        "dynamic_shapes", "strict", "prefer_deferred_runtime_asserts_over_guards",
        "preserve_module_call_signature",
    ),
}
# Names of the inputs and outputs, saved in the archive beside the program.
_META_FILE = "kerasexport.json"
# The member torch.export.save writes first, which names the archive's layout.
_ARCHIVE_MARK = "archive_format"
# Sizes traced for unknown dimensions: distinct, so torch.export cannot take
# two of them to be equal, and above 1, which it would specialise.
_BATCH_SAMPLE = 2
_OTHER_SAMPLES = (16, 24, 32, 40, 48, 56, 64)


def _sample_inputs(signature):
    """Zero tensors shaped like `signature`, and the matching dynamic shapes."""
    import keras
    import torch

    others = iter(_OTHER_SAMPLES * 8)

    def sample(spec):
        shape = [
            (_BATCH_SAMPLE if i == 0 else next(others)) if d is None else d
            for i, d in enumerate(spec.shape)
        ]
        return torch.zeros(shape, dtype=getattr(torch, spec.dtype or "float32"))

    def dynamic(spec):
        return {i: torch.export.Dim.DYNAMIC for i, d in enumerate(spec.shape) if d is None} or None

    args = tuple(keras.tree.map_structure(sample, list(signature)))
    shapes = tuple(keras.tree.map_structure(dynamic, list(signature)))
    return args, shapes


def input_specs(signature):
    """The signature's leaves in torch's flattening order, with their names.

    torch.export flattens dicts in insertion order, Keras in sorted order, so
    a program's inputs are named here from torch's own key paths: a dict key
    names its input, else the spec's name, else ``input_<i>``.

    Returns:
        A list of (name, `keras.InputSpec`).
    """
    import torch

    leaves = torch.utils._pytree.tree_flatten_with_path(list(signature))[0]
    names = []
    for i, (path, spec) in enumerate(leaves):
        keys = [k.key for k in path if isinstance(k, torch.utils._pytree.MappingKey)]
        names.append(str(keys[-1]) if keys else (spec.name or f"input_{i}"))
    if len(set(names)) != len(names):
        names = [f"input_{i}" for i in range(len(names))]
    return list(zip(names, (spec for _, spec in leaves)))


def export_program(model, signature, **options):
    """A `torch.export.ExportedProgram` of `model`, in inference mode.

    Args:
        model: a `keras.Model` on the PyTorch backend.
        signature: a normalized signature (see `signature.normalize`).
        **options: `torch.export.export`'s options. `strict` defaults to
            `False` (Keras's choice); `dynamic_shapes` defaults to every
            unknown dimension of `signature`.

    Raises:
        FormatError: when torch.export cannot capture the model, with
            torch's own words.
    """
    import torch

    args, shapes = _sample_inputs(signature)
    options.setdefault("strict", False)
    if "dynamic_shapes" in options:
        from keras.src.export import torch as keras_torch

        if options["dynamic_shapes"] is not None:
            options["dynamic_shapes"] = keras_torch._normalize_dynamic_shapes(
                options["dynamic_shapes"], args
            )
    elif any(s is not None for s in torch.utils._pytree.tree_leaves(shapes)):
        options["dynamic_shapes"] = [shapes]
    if hasattr(model, "eval"):
        model.eval()
    try:
        with common.inference_mode():
            program = torch.export.export(model, args, **options)
    except Exception as exc:
        raise errors.FormatError(
            f"torch.export could not capture the model: {_first_line(exc)} "
            "Pass a fixed `input_signature` (no None) to export static shapes, "
            "or `dynamic_shapes=` to choose the dynamic dimensions yourself."
        ) from exc
    program.example_inputs = None  # zeros shaped like the signature: bytes, no use
    return _without_unused_weights(scrub.scrub_torch_program(program))


def _without_unused_weights(program):
    """`program` without the parameters and buffers its graph never reads.

    Keras's variables reach torch.export as plain tensors, which it lifts
    into constants: the graph reads those, while the same weights stay
    behind as unused parameters, and the saved file holds them twice.
    Dropping them halves the file. What to drop is worked out first, from
    the program's public graph signature; should torch's classes not have
    what that needs, the program is kept as it is (larger, not wrong).
    Only then is it changed, and a failure while changing it is raised.
    """
    from torch.export.graph_signature import ExportGraphSignature
    from torch.export.graph_signature import InputKind

    try:
        signature = program.graph_signature
        unused = {n.name for n in program.graph.nodes if n.op == "placeholder" and not n.users}
        dropped = [
            s for s in signature.input_specs
            if s.kind in (InputKind.PARAMETER, InputKind.BUFFER) and s.arg.name in unused
        ]
        kept = [s for s in signature.input_specs if s not in dropped]
        replacement = ExportGraphSignature(input_specs=kept, output_specs=list(signature.output_specs))
    except (AttributeError, TypeError):
        return program
    if not dropped:
        return program
    names = {s.arg.name for s in dropped}
    for node in [n for n in program.graph.nodes if n.op == "placeholder" and n.name in names]:
        program.graph.erase_node(node)
    program._graph_signature = replacement
    still_read = {s.target for s in kept}
    for spec in dropped:
        if spec.target not in still_read:
            program.state_dict.pop(spec.target, None)
    program.graph_module.recompile()
    return program


def _first_line(exc):
    from kerasexport import routes

    return routes.describe(exc)


def companions(path):
    """None: a program is one file."""
    return []


def recognizes(path):
    """Whether the file at `path` is a zip archive holding a torch.export program."""
    members = saved_keras.zip_members(path) if os.path.isfile(path) else None
    return bool(members) and any(n == _ARCHIVE_MARK or n.endswith("/" + _ARCHIVE_MARK) for n in members)


def write(model, path, signature, verbose, **options):
    """Export `model` to a `.pt2` file at `path` (any file name)."""
    import torch

    program = export_program(model, signature, **options)
    outputs = common.output_names(model, len(program.graph_signature.user_outputs))
    meta = {"inputs": [name for name, _ in input_specs(signature)], "outputs": outputs}
    torch.export.save(program, path, extra_files={_META_FILE: json.dumps(meta)})
    if verbose:
        from keras.src.utils import io_utils

        io_utils.print_msg(f"Saved PyTorch ExportedProgram at '{path}'.")


# Loading and running ----


def _load(path):
    from kerasexport.formats import pt2_load

    extra = {_META_FILE: ""}
    program = pt2_load.load(path, extra_files=extra)
    try:
        meta = json.loads(extra[_META_FILE]) if extra[_META_FILE] else {}
    except ValueError:
        meta = {}
    return program, meta


def _describe_load_failure(exc):
    from kerasexport import routes

    return routes.describe(exc)


def check(artifact, signature, options):
    """Nothing to refuse: torch.export.load runs what torch.export saved."""


def runtime_defaults(path):
    """None: `open` is ``torch.export.load(path).module()``."""
    return None


def defaults_warning(defaults):
    raise NotImplementedError("torch's defaults are what `open` uses")


def open(path):
    """A `kerasexport.Artifact` running the `.pt2` file at `path` with torch alone:
    ``torch.export.load(path).module()``.

    Raises:
        ArtifactError: a zip archive torch cannot read as a program.
        DependencyError: torch is not installed.
    """
    try:
        import torch
    except ImportError as exc:
        raise errors.DependencyError(
            "Loading a .pt2 artifact needs torch: install it with `pip install torch`.", fix="install",
        ) from exc
    try:
        program, meta = _load(path)
        module = program.module()
    except Exception as exc:
        raise errors.ArtifactError(
            f"{path!r} is a zip archive but not a PyTorch ExportedProgram "
            f"torch.export.load can read: {_describe_load_failure(exc)}"
        ) from exc
    inputs = _placeholders(program, program.graph_signature.user_inputs)
    outputs = _output_infos(program)
    in_names = meta.get("inputs") or []
    if len(in_names) == len(inputs):
        inputs = [artifact_lib.TensorInfo(n, t.dtype, t.shape) for n, t in zip(in_names, inputs)]
    out_names = meta.get("outputs") or []
    if len(out_names) == len(outputs):
        outputs = [artifact_lib.TensorInfo(n, t.dtype, t.shape) for n, t in zip(out_names, outputs)]
    name = artifact_lib.SERVE
    endpoint = artifact_lib.Endpoint(name, "graph", tuple(inputs), tuple(outputs))
    in_spec = program.call_spec.in_spec
    pytree = torch.utils._pytree

    def call(arrays):
        tensors = [torch.as_tensor(a) for a in arrays]
        args, kwargs = pytree.tree_unflatten(tensors, in_spec)
        with torch.no_grad():
            result = module(*args, **kwargs)
        return [t.detach().numpy() for t in pytree.tree_leaves(result)]

    return artifact_lib.Artifact(
        path=path, format=FORMAT, size=os.path.getsize(path),
        endpoints={name: endpoint}, default_endpoint=name, runtime=program,
        callers={name: call}, precision=_precision(program),
    )


def _precision(program):
    """``"int8"`` when the program's state holds int8 tensors (Keras's int8 quantization), else float32."""
    import torch

    tensors = [*program.state_dict.values(), *getattr(program, "constants", {}).values()]
    return "int8" if any(getattr(t, "dtype", None) == torch.int8 for t in tensors) else "float32"


def _tensor_info(name, value):
    shape = tuple(d if isinstance(d, int) else None for d in value.shape)
    dtype = str(value.dtype).replace("torch.", "")
    return artifact_lib.TensorInfo(str(name), dtype, shape)


def _placeholders(program, names):
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    return [_tensor_info(name, nodes[name].meta["val"]) for name in names]


def _output_infos(program):
    output = next(n for n in program.graph.nodes if n.op == "output")
    values = output.args[0]
    user = set(program.graph_signature.user_outputs)
    infos = []
    for i, node in enumerate(values):
        if getattr(node, "name", None) in user and "val" in node.meta:
            infos.append(_tensor_info(f"output_{len(infos)}", node.meta["val"]))
    return infos
