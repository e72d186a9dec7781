"""Keep the exporting machine's paths out of artifacts.

JAX records source locations (full file paths) in the StableHLO it embeds in
SavedModels; torch's TorchScript exporter, when verbose, writes stack traces
into ONNX doc strings, its dynamo exporter and torch.export stack traces
into node metadata. Artifacts go to production; the paths of the machine that made them
must not.
"""

import contextlib

_JAX_CANONICAL_SOURCE = "jax_hlo_source_file_canonicalization_regex"
# Metadata keys under which torch.onnx stores Python stack traces.
_TORCH_TRACE_KEYS = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node", "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy")


@contextlib.contextmanager
def source_paths_hidden(backend):
    """While exporting, let JAX record file names without directories."""
    if backend != "jax":
        yield
        return
    import jax

    previous = getattr(jax.config, _JAX_CANONICAL_SOURCE)
    jax.config.update(_JAX_CANONICAL_SOURCE, ".*/")
    try:
        yield
    finally:
        jax.config.update(_JAX_CANONICAL_SOURCE, previous)


def scrub_onnx_model(model):
    """Remove doc strings and stack-trace metadata from an ONNX `ModelProto`.

    Both are debugging aids that hold source paths; inference needs neither.

    Returns:
        Whether `model` was changed.
    """
    changed = False
    for root in [model.graph, *model.functions]:
        for graph in onnx_graphs(root):
            if getattr(graph, "doc_string", ""):
                graph.doc_string = ""
                changed = True
            for node in graph.node:
                if node.doc_string:
                    node.doc_string = ""
                    changed = True
                changed |= _drop_trace_metadata(node.metadata_props)
    if model.doc_string:
        model.doc_string = ""
        changed = True
    return changed


def onnx_graphs(root):
    """`root` (an ONNX graph or function) and every subgraph in it (loops, branches)."""
    yield root
    for node in root.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from onnx_graphs(attribute.g)
            for subgraph in attribute.graphs:
                yield from onnx_graphs(subgraph)


def _drop_trace_metadata(props):
    keep = [p for p in props if not p.key.startswith(_TORCH_TRACE_KEYS)]
    if len(keep) == len(props):
        return False
    kept = [(p.key, p.value) for p in keep]
    del props[:]
    for key, value in kept:
        entry = props.add()
        entry.key, entry.value = key, value
    return True


def scrub_torch_program(program):
    """Remove the Python stack traces torch.export keeps in node metadata.

    `torch.export.save` writes each node's ``stack_trace`` (file paths of
    the exporting machine's Keras and torch sources) into the archive.
    """
    import torch

    for module in program.graph_module.modules():
        if isinstance(module, torch.fx.GraphModule):
            for node in module.graph.nodes:
                node.meta.pop("stack_trace", None)
    return program
