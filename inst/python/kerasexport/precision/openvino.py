"""Reduced-precision OpenVINO IRs, made from the verified float32 IR.

float16: weights stored as float16 (`save_model(compress_to_fp16=True)`),
computed in float32 by kerasexport's loaders as before. bfloat16: the
layers lose the float32 marks the float IR carries and the IR records
``bfloat16``, which `formats.openvino.open` turns into the CPU plugin's
``INFERENCE_PRECISION_HINT`` bf16 (the plugin computes in float32 where the
processor has no bfloat16 units). int8: NNCF, post-training quantization of
weights and activations on the calibration data (`nncf.quantize`) when
given, else int8 weights only (`nncf.compress_weights`).
"""

import os
from xml.etree import ElementTree

STAGE = "after_write"
PRECISIONS = ("float16", "bfloat16", "int8")
NEEDS = {"float16": ("openvino",), "bfloat16": ("openvino",), "int8": ("openvino", "nncf")}
# The exporter's option that sets the precision itself: not together with `precision=`.
PRECISION_OPTIONS = ("compress_to_fp16",)
_SUBSET = 300  # NNCF's default calibration subset size


def method(precision, calibration):
    if precision == "float16":
        return "float16 weights (openvino.save_model compress_to_fp16)"
    if precision == "bfloat16":
        return "bfloat16 inference (the CPU plugin's INFERENCE_PRECISION_HINT bf16)"
    if calibration is None:
        return "int8 weight compression (nncf.compress_weights)"
    return "int8 post-training quantization (nncf.quantize)"


def reduce(source, target, precision, calibration):
    """Write the `precision` version of the IR `source` (and its .bin) at `target`."""
    import openvino as ov

    from kerasexport.formats import openvino as fmt

    unmarked = os.path.join(os.path.dirname(target), ".unmarked." + os.path.basename(source))
    _without_precision_marks(source, unmarked)
    try:
        model = ov.Core().read_model(unmarked, fmt.companions(source)[0])
        if precision == "int8":
            model = _quantized(model, calibration)
        model.set_rt_info(precision, list(fmt.PRECISION_MARK))
        if precision == "bfloat16":  # for other readers; the CPU plugin ignores it (see formats.openvino)
            model.set_rt_info("bf16", ["runtime_options", "INFERENCE_PRECISION_HINT"])
        scratch = os.path.join(os.path.dirname(target), ".reduced." + os.path.basename(target) + ".xml")
        ov.save_model(model, scratch, compress_to_fp16=(precision == "float16"))
        if precision == "float16":
            fmt.keep_precision(scratch)
        os.replace(os.path.splitext(scratch)[0] + fmt.WEIGHTS_SUFFIX, fmt.companions(target)[0])
        os.replace(scratch, target)
    finally:
        if os.path.exists(unmarked):
            os.remove(unmarked)


def _without_precision_marks(source, copy):
    """A copy of the IR's `.xml` without the marks that pin each layer to float32."""
    from kerasexport.formats import openvino as fmt

    tree = ElementTree.parse(source)
    for info in tree.getroot().iter("rt_info"):
        for attribute in list(info):
            if attribute.get("name") == fmt.KEEP_PRECISION["name"]:
                info.remove(attribute)
    tree.write(copy, encoding="utf-8", xml_declaration=True)


def _quantized(model, calibration):
    import nncf

    if calibration is None:
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    names = [p.get_any_name() for p in model.inputs]
    arrays = calibration.arrays_for(names)
    samples = [dict(zip(names, [a[i:i + 1] for a in arrays])) for i in range(calibration.rows)]
    return nncf.quantize(model, nncf.Dataset(samples), subset_size=min(_SUBSET, len(samples)))
