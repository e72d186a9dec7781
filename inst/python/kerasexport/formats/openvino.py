"""OpenVINO IR (`NAME.xml` + `NAME.bin`): converted by OpenVINO's model
converter, run by ``openvino.Core().compile_model(path, "CPU")``.

Written from the TensorFlow backend (Keras's concrete function, as Keras's
exporter does) or from the PyTorch backend (a `torch.export` program with the
signature's dynamic dimensions; Keras's exporter traces with a batch of one).

OpenVINO's CPU plugin runs a model in bfloat16 by default on processors that
support it, which changes outputs by about 1e-3. An artifact written here
carries float32 as its inference precision twice: as the model's runtime
option ``INFERENCE_PRECISION_HINT`` in its ``rt_info`` (where plugins that
read runtime options from the model find it), and as a mark on every layer
that disables precision conversion, which the CPU plugin honours whatever
its default. Verification reads the precision each layer of the compiled
model actually runs in.

The weights file is named as OpenVINO looks for it: the target's last suffix
replaced by ``.bin`` (``model.xml`` -> ``model.bin``, ``model`` ->
``model.bin``, ``model.v2`` -> ``model.bin``).
"""

import os
import threading
import xml.etree.ElementTree as ElementTree

import numpy as np

from kerasexport import errors
from kerasexport import formats

FORMAT = "openvino"
IS_DIRECTORY = False
SUFFIX = ".xml"
WEIGHTS_SUFFIX = ".bin"
OPTIONS = {
    "tensorflow": ("compress_to_fp16",),
    "jax": (),
    "torch": ("compress_to_fp16",),
}
# The runtime options the model carries (ov::hint::inference_precision).
RUNTIME_OPTIONS = {"INFERENCE_PRECISION_HINT": "f32"}
# A layer's rt_info attribute that keeps it in its original precision
# (ov::DisablePrecisionConversion "from any type to bf16 or f16"; the CPU
# plugin reads the f16 entry as "keep this layer out of bf16 and f16").
_KEEP_PRECISION = {"name": "DisablePrecisionConversion", "version": "0", "value": "dynamic:bf16,f16"}
_LOW_PRECISIONS = ("bf16", "f16")
_DTYPES = {
    "f32": "float32", "f64": "float64", "f16": "float16", "bf16": "bfloat16",
    "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
    "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
    "boolean": "bool", "string": "string",
}


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


def write(model, path, input_signature, verbose, compress_to_fp16=False):
    """Convert `model` to an OpenVINO IR at `path` and its `.bin` beside it.

    Args:
        model: a `keras.Model` on the TensorFlow or PyTorch backend.
        path: `str`, the `.xml` file to write (any file name but `*.bin`).
        input_signature: the normalized signature.
        verbose: `bool` or `None`.
        compress_to_fp16: `bool`. Store the weights as float16 (half the
            size; outputs then differ by about 1e-3, so raise `rtol`).
            Defaults to `False`.
    """
    import openvino as ov

    ov_model, inputs = _convert(model, input_signature)
    _name_ports(ov_model, inputs, model)
    for key, value in RUNTIME_OPTIONS.items():
        ov_model.set_rt_info(value, ["runtime_options", key])
    directory, name = os.path.split(path)
    xml = os.path.join(directory, f".{name}.converting.xml")  # OpenVINO wants .xml
    ov.save_model(ov_model, xml, compress_to_fp16=bool(compress_to_fp16))
    _keep_precision(xml)
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
        with formats.inference_mode():
            function = keras_openvino.get_concrete_fn(model, specs).get_concrete_function()
        converted = _only_function_outputs(ov.convert_model(function), function)
        flat = keras.tree.flatten(signature)
        return converted, list(zip(formats.input_names(signature), flat))
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
    outputs = formats.output_names(model, len(ov_model.outputs))
    if outputs and len(outputs) == len(ov_model.outputs):
        for port, name in zip(ov_model.outputs, outputs):
            port.get_tensor().set_names({name})


def _keep_precision(xml):
    """Mark every layer of the IR at `xml` to keep its precision (see module doc)."""
    tree = ElementTree.parse(xml)
    for layer in tree.getroot().iter("layer"):
        info = layer.find("rt_info")
        if info is None:
            info = ElementTree.Element("rt_info")
            data = layer.find("data")
            layer.insert(1 if data is not None else 0, info)
        if not any(a.get("name") == _KEEP_PRECISION["name"] for a in info.iter("attribute")):
            ElementTree.SubElement(info, "attribute", _KEEP_PRECISION)
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def finish(path, output_names=None):
    """Nothing to do: `write` named the ports."""


# Loading and running ----


def compile_model(path):
    """OpenVINO's defaults: ``Core().compile_model(path, "CPU")``, in two steps.

    Reading first keeps the IR's port names: the compiled model's ports also
    take the names of operations the plugin fuses into them.

    Returns:
        The compiled model, and the names of its inputs and outputs.
    """
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path)
    names = ([_name(p, i, "input") for i, p in enumerate(model.inputs)],
             [_name(p, i, "output") for i, p in enumerate(model.outputs)])
    return core.compile_model(model, "CPU"), names


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


def runner(path, signature, options=None):
    """Run the IR as a user would: ``Core().compile_model(path, "CPU")``.

    Raises:
        VerificationError: when OpenVINO cannot compile it, or runs some of
            its layers in 16-bit floats though float32 was asked for.
    """
    import keras

    options = options or {}
    try:
        compiled, (input_names, output_names) = compile_model(path)
    except Exception as exc:
        raise errors.VerificationError(
            f"The exported artifact could not be loaded by OpenVINO: {_first_line(exc)}"
        ) from exc
    low = low_precision_layers(compiled)
    if low and not options.get("compress_to_fp16"):
        shown = ", ".join(f"{name} ({p})" for name, p in low[:5])
        raise errors.VerificationError(
            f"OpenVINO's CPU plugin runs {len(low)} layer(s) of the artifact in "
            f"16-bit floats by default ({shown}{' and more' if len(low) > 5 else ''}), "
            "though it was written to run in float32. Nothing was written."
        )
    by_name = set(formats.input_names(signature)) == set(input_names)

    def run(args):
        flat = keras.tree.flatten(args)
        feeds = dict(zip(formats.input_names(signature), flat)) if by_name else flat
        result = compiled(feeds)
        return {n: np.asarray(result[o]) for n, o in zip(output_names, compiled.outputs)}

    return run


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    text = (useful or lines or [""])[0]
    return f"{type(exc).__name__}: {text[:300]}"


def open_artifact(path):
    """A `kerasexport.Artifact` running the IR at `path` with OpenVINO alone."""
    from kerasexport import artifact as artifact_lib

    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise errors.DependencyError(
            "Loading an OpenVINO artifact needs OpenVINO: install it with `pip "
            "install openvino`, or from R run `kerasexport::install_kerasexport()`."
        ) from exc
    weights = companions(path)[0]
    if not os.path.isfile(weights):
        raise errors.ArtifactError(
            f"{path!r} is an OpenVINO IR, but its weights file "
            f"{os.path.basename(weights)!r} is missing beside it. Copy the "
            ".xml and .bin files together."
        )
    try:
        compiled, (input_names, output_names) = compile_model(path)
    except Exception as exc:
        raise errors.ArtifactError(
            f"{path!r} is not an OpenVINO IR OpenVINO can compile: {_first_line(exc)}"
        ) from exc

    def info(port, name):
        shape = tuple(
            d.get_length() if d.is_static else None for d in port.get_partial_shape()
        ) if port.get_partial_shape().rank.is_static else None
        dtype = _DTYPES.get(port.get_element_type().get_type_name(), port.get_element_type().get_type_name())
        return artifact_lib.TensorInfo(name, dtype, shape)

    inputs = tuple(info(p, n) for p, n in zip(compiled.inputs, input_names))
    outputs = tuple(info(p, n) for p, n in zip(compiled.outputs, output_names))
    name = artifact_lib.GRAPH_ENDPOINT
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
        default_endpoint=name, runtime=compiled, callers={name: call},
    )
