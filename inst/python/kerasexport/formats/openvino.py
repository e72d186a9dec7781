"""OpenVINO IR (`NAME.xml` + `NAME.bin`): converted by OpenVINO's model
converter, run by ``openvino.Core().compile_model(path, "CPU", COMPILE_CONFIG)``.

Written from the TensorFlow backend (Keras's concrete function, as Keras's
exporter does) or from the PyTorch backend (a `torch.export` program with the
signature's dynamic dimensions; Keras's exporter traces with a batch of one).

Precision. OpenVINO's CPU plugin computes in bfloat16 by default on
processors with bfloat16 units (AVX512-BF16, AMX), which changes outputs by
1e-4 to 1e-3, and nothing an IR holds turns that default off. The plugin
reads from a model's ``rt_info/runtime_options`` only its KV-cache and
dynamic-quantization options (``Config::applyRtInfo``), not
``INFERENCE_PRECISION_HINT``; it keeps a layer in its original precision
when the layer carries ``DisablePrecisionConversion`` to f16 (``Node``'s
``keepOriginalPrecision``), but that mark is not copyable, so every layer
its transformations replace (a ``Multiply`` fused into a ``MatMul``, a
``MaxPool`` rebuilt around its transposes) comes out unmarked and runs in
bfloat16. So an IR written here carries float32 both ways, which keeps most
layers of a default compile in float32, and kerasexport compiles it with
``{"INFERENCE_PRECISION_HINT": "f32"}`` (`COMPILE_CONFIG`): `load()`, the
server and verification, which holds that compile to the tolerance and
reads the precision of each compiled layer. A default compile is measured
too (`runtime_defaults`): where it rounds some layers, the export's report
and a warning give its error against the model.

The weights file is named as OpenVINO looks for it: the target's last suffix
replaced by ``.bin`` (``model.xml`` -> ``model.bin``, ``model`` ->
``model.bin``, ``model.v2`` -> ``model.bin``).
"""

import os
import threading
import xml.etree.ElementTree as ElementTree


from kerasexport import artifact as artifact_lib
from kerasexport import dtypes
from kerasexport import errors
from kerasexport.formats import common

FORMAT = "openvino"
IS_DIRECTORY = False
SUFFIXES = (".xml",)
WEIGHTS_SUFFIX = ".bin"
OPEN_OPTIONS = ()
# An IR is XML: an optional byte-order mark and declaration, then <net>.
_XML_START = (b"<?xml", b"<net")
OPTIONS = {
    "tensorflow": ("compress_to_fp16",),
    "jax": (),
    "torch": ("compress_to_fp16",),
}
# The runtime options the model carries (ov::hint::inference_precision): the
# precision it was verified at, for readers of the file; the CPU plugin does
# not apply it (see the module doc).
RUNTIME_OPTIONS = {"INFERENCE_PRECISION_HINT": "f32"}
# How kerasexport compiles an IR (load(), the server, verification), and how
# users should: float32 whatever the processor.
COMPILE_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}
# An IR exported with precision="bfloat16" says so here (rt_info); it is
# compiled with the plugin's bf16 hint instead.
PRECISION_MARK = ("kerasexport", "precision")
BFLOAT16_CONFIG = {"INFERENCE_PRECISION_HINT": "bf16"}
LOADING_SNIPPET = 'openvino.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})'
DEFAULT_COMPILE = 'openvino.Core().compile_model(path, "CPU")'
# A layer's rt_info attribute that keeps it in its original precision
# (ov::DisablePrecisionConversion "from any type to bf16 or f16"; the CPU
# plugin reads the f16 entry as "keep this layer out of bf16 and f16").
KEEP_PRECISION = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:bf16,f16"}
_LOW_PRECISIONS = ("bf16", "f16")


def companions(path):
    """The weights file of the IR at `path`: its last suffix replaced by `.bin`.

    Raises:
        PathError: when `path` itself ends in `.bin`.
    """
    stem, suffix = os.path.splitext(path)
    if suffix.lower() == WEIGHTS_SUFFIX:
        raise errors.PathError(
            f"An OpenVINO artifact cannot be called {os.path.basename(path)!r}: its "
            f"weights go to NAME{WEIGHTS_SUFFIX} beside NAME.xml. Choose a name "
            "ending in .xml."
        )
    return [stem + WEIGHTS_SUFFIX]


def recognizes(path):
    """Whether the file at `path` is XML, as an IR's `.xml` is."""
    return os.path.isfile(path) and common.read_head(path).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_XML_START)


def write(model, path, signature, verbose, compress_to_fp16=False):
    """Convert `model` to an OpenVINO IR at `path` and its `.bin` beside it.

    Args:
        model: a `keras.Model` on the TensorFlow or PyTorch backend.
        path: `str`, the `.xml` file to write (any file name but `*.bin`).
        signature: the normalized signature.
        verbose: `bool` or `None`.
        compress_to_fp16: `bool`. Store the weights as float16 (half the
            size; outputs then differ by about 1e-3, so raise `rtol`).
            Defaults to `False`.
    """
    import openvino as ov

    ov_model, inputs = _convert(model, signature)
    _name_ports(ov_model, inputs, model)
    for key, value in RUNTIME_OPTIONS.items():
        ov_model.set_rt_info(value, ["runtime_options", key])
    directory, name = os.path.split(path)
    xml = os.path.join(directory, f".{name}.converting.xml")  # OpenVINO wants .xml
    ov.save_model(ov_model, xml, compress_to_fp16=bool(compress_to_fp16))
    keep_precision(xml)
    os.replace(os.path.splitext(xml)[0] + WEIGHTS_SUFFIX, companions(path)[0])
    os.replace(xml, path)
    if verbose:
        from keras.src.utils import io_utils

        io_utils.print_msg(f"Saved OpenVINO IR at '{path}'.")


def _convert(model, signature):
    """The converted `ov.Model`, and (name, spec) of its inputs in its order."""
    import keras
    import openvino as ov

    backend = keras.backend.backend()
    if backend == "torch":
        from kerasexport.formats import pt2

        converted = ov.convert_model(pt2.export_program(model, signature))
        return converted, pt2.input_specs(signature)
    if backend == "tensorflow":
        from keras.src.export import openvino as keras_openvino
        from keras.src.export.export_utils import make_tf_tensor_spec

        specs = keras.tree.map_structure(make_tf_tensor_spec, signature)
        with common.inference_mode():
            function = keras_openvino.get_concrete_fn(model, specs).get_concrete_function()
        converted = _only_function_outputs(ov.convert_model(function), function)
        flat = keras.tree.flatten(signature)
        return converted, list(zip(common.input_names(signature), flat))
    raise errors.FormatError(
        f"OpenVINO's converter takes TensorFlow or PyTorch models, not the "
        f"{backend} backend's; use the cross-backend route."
    )


def _only_function_outputs(ov_model, function):
    """Drop the extra results OpenVINO's TensorFlow frontend makes.

    It turns operations nothing consumes (the random layers' unused seeds)
    into outputs of their own. Keeps the function's outputs, in its order.
    """
    import openvino as ov
    import tensorflow as tf

    structured = function.structured_outputs
    keys = sorted(structured) if isinstance(structured, dict) else None
    tensors = [structured[k] for k in keys] if keys else tf.nest.flatten(structured)
    results = []
    for i, tensor in enumerate(tensors):
        wanted = {tensor.name} | ({keys[i]} if keys else set())
        found = [o for o in ov_model.outputs if o.get_names() & wanted]
        if len(found) != 1:
            return ov_model  # Unclear: verification will compare what is there.
        results.append(found[0].get_node())
    if len(results) == len(ov_model.outputs):
        return ov_model
    return ov.Model(results, ov_model.get_parameters(), ov_model.get_friendly_name())


def _name_ports(ov_model, inputs, model):
    """Name and shape the inputs as the signature's, name the outputs as the model's.

    Args:
        ov_model: the converted `ov.Model`.
        inputs: (name, spec) of its inputs, in its order.
        model: the `keras.Model`.
    """
    import openvino as ov

    if len(inputs) == len(ov_model.inputs):
        for port, (name, spec) in zip(ov_model.inputs, inputs):
            port.get_tensor().set_names({name})
            port.get_node().set_friendly_name(name)
            # torch.export leaves every dimension dynamic; fixed ones are known.
            port.get_node().set_partial_shape(ov.PartialShape([-1 if d is None else d for d in spec.shape]))
        ov_model.validate_nodes_and_infer_types()
    outputs = common.output_names(model, len(ov_model.outputs))
    if outputs and len(outputs) == len(ov_model.outputs):
        for port, name in zip(ov_model.outputs, outputs):
            port.get_tensor().set_names({name})


def keep_precision(xml):
    """Mark every layer of the IR at `xml` to keep its precision (see module doc)."""
    tree = ElementTree.parse(xml)
    for layer in tree.getroot().iter("layer"):
        info = layer.find("rt_info")
        if info is None:
            info = ElementTree.Element("rt_info")
            data = layer.find("data")
            layer.insert(1 if data is not None else 0, info)
        if not any(a.get("name") == KEEP_PRECISION["name"] for a in info.iter("attribute")):
            ElementTree.SubElement(info, "attribute", KEEP_PRECISION)
    tree.write(xml, encoding="utf-8", xml_declaration=True)


# Loading and running ----


def compile_model(path, config=None):
    """``Core().compile_model(path, "CPU", config)``, in two steps.

    Reading first keeps the IR's port names: the compiled model's ports also
    take the names of operations the plugin fuses into them.

    Args:
        path: `str`, the `.xml` file.
        config: `dict` of compile properties, ``{}`` for the CPU plugin's
            own defaults. Defaults to `None`: `COMPILE_CONFIG` (float32), or
            `BFLOAT16_CONFIG` for an IR marked ``bfloat16``.

    Returns:
        The compiled model, the names of its inputs and outputs, and the
        precision the IR was exported at (``"float32"`` unless marked).
    """
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path)
    names = ([_name(p, i, "input") for i, p in enumerate(model.inputs)],
             [_name(p, i, "output") for i, p in enumerate(model.outputs)])
    precision = (model.get_rt_info(list(PRECISION_MARK)).astype(str)
                 if model.has_rt_info(list(PRECISION_MARK)) else "float32")
    if config is None:
        config = BFLOAT16_CONFIG if precision == "bfloat16" else COMPILE_CONFIG
    return core.compile_model(model, "CPU", config), names, precision


def _name(port, i, kind):
    names = sorted(port.get_names())
    return names[0] if names else f"{kind}_{i}"


def low_precision_layers(compiled):
    """(layer, precision) of the compiled model's layers not run in full precision."""
    found = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "runtimePrecision" not in info or info["layerType"].astype(str) == "Const":
            continue
        precision = info["runtimePrecision"].astype(str)
        if precision in _LOW_PRECISIONS:
            found.append((op.get_friendly_name(), precision))
    return found


def inference_precision(compiled):
    """The compiled model's inference precision, as OpenVINO names it (``"f32"``, ``"bf16"``)."""
    return compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


def check(artifact, signature, options):
    """Refuse an IR the CPU plugin runs partly in 16-bit floats though float32 was asked.

    Raises:
        VerificationError: naming the layers, unless the weights were
            compressed to float16 on request (`compress_to_fp16`).
    """
    low = low_precision_layers(artifact.runtime)
    if low and not options.get("compress_to_fp16") and artifact.precision == "float32":
        shown = ", ".join(f"{name} ({p})" for name, p in low[:5])
        raise errors.VerificationError(
            f"OpenVINO's CPU plugin runs {len(low)} layer(s) of the artifact in "
            f"16-bit floats ({shown}{' and more' if len(low) > 5 else ''}) though "
            f"it was compiled with {COMPILE_CONFIG}. Nothing was written."
        )


def runtime_defaults(path):
    """The IR compiled with the CPU plugin's defaults, when they differ from `COMPILE_CONFIG`.

    On processors with bfloat16 units the plugin defaults to bfloat16, and
    nothing in the file changes that (see the module doc): a plain
    ``Core().compile_model(path, "CPU")`` then rounds some layers.

    Returns:
        `None` when a default compile runs every layer in float32; else a
        `kerasexport.Artifact` on the default compile, and a `dict`: `call`
        (the default compile, in words), `inference_precision` (OpenVINO's
        name, e.g. ``"bf16"``), `low_precision_layers` (how many layers run
        in 16-bit floats).
    """
    artifact = open(path, config={})
    low = low_precision_layers(artifact.runtime)
    if not low:
        return None
    return artifact, {
        "call": DEFAULT_COMPILE, "inference_precision": inference_precision(artifact.runtime),
        "low_precision_layers": len(low),
    }


def defaults_warning(defaults):
    """What users of a default compile should know, for `runtime_defaults`' `dict`."""
    error = defaults["max_relative_error"]
    return (
        f"On this processor OpenVINO's CPU plugin computes in "
        f"{defaults['inference_precision']} by default, whatever the IR says: "
        f"{defaults['call']} runs {defaults['low_precision_layers']} layer(s) of this "
        f"artifact in 16-bit floats and differs from the model by {error:.2g} "
        "(worst relative error, on the verification inputs). kerasexport's own "
        "loaders and its server compile it in float32, as verified; in your own "
        f"code, compile it with {LOADING_SNIPPET}."
    )


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    text = (useful or lines or [""])[0]
    return f"{type(exc).__name__}: {text[:300]}"


def open(path, config=None):
    """A `kerasexport.Artifact` running the IR at `path` with OpenVINO alone.

    Args:
        path: `str`, the `.xml` file (its `.bin` beside it).
        config: compile properties. Defaults to `None`: `COMPILE_CONFIG`,
            float32 on every processor; `BFLOAT16_CONFIG` for an IR exported
            with ``precision="bfloat16"``.
    """
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise errors.DependencyError(
            "Loading an OpenVINO artifact needs OpenVINO: install it with `pip "
            "install openvino`.", fix="install",
        ) from exc
    weights = companions(path)[0]
    if not os.path.isfile(weights):
        raise errors.ArtifactError(
            f"{path!r} is an OpenVINO IR, but its weights file "
            f"{os.path.basename(weights)!r} is missing beside it. Copy the "
            ".xml and .bin files together."
        )
    try:
        compiled, (input_names, output_names), precision = compile_model(path, config)
    except Exception as exc:
        raise errors.ArtifactError(
            f"{path!r} is not an OpenVINO IR OpenVINO can compile: {_first_line(exc)}"
        ) from exc

    def info(port, name):
        shape = tuple(
            d.get_length() if d.is_static else None for d in port.get_partial_shape()
        ) if port.get_partial_shape().rank.is_static else None
        dtype = dtypes.convert(port.get_element_type().get_type_name(), "openvino", "name")
        return artifact_lib.TensorInfo(name, dtype, shape)

    inputs = tuple(info(p, n) for p, n in zip(compiled.inputs, input_names))
    outputs = tuple(info(p, n) for p, n in zip(compiled.outputs, output_names))
    name = artifact_lib.SERVE
    endpoint = artifact_lib.Endpoint(name, "graph", inputs, outputs)
    requests = threading.local()  # an infer request serves one thread at a time

    def call(arrays):
        request = getattr(requests, "request", None)
        if request is None:
            request = requests.request = compiled.create_infer_request()
        result = request.infer(arrays)
        return [result[o] for o in compiled.outputs]

    size = os.path.getsize(path) + os.path.getsize(weights)
    return artifact_lib.Artifact(
        path=path, format=FORMAT, size=size, endpoints={name: endpoint},
        default_endpoint=name, runtime=compiled, callers={name: call}, precision=precision,
    )
