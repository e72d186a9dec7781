"""Reduced-precision ONNX files, made from the verified float32 file.

float16 by onnxconverter-common (inputs and outputs kept float32, so
callers feed what they fed before); int8 by `onnxruntime.quantization`:
static QDQ (per-channel weights, activations calibrated on the calibration
data) when calibration data is given, else dynamic (int8 weights,
activations quantized as each call runs).
"""

import os

STAGE = "after_write"
PRECISIONS = ("float16", "int8")
NEEDS = {"float16": ("onnxconverter_common",), "int8": ("onnxruntime",)}

_BATCH = 32


def method(precision, calibration):
    """The name of what `reduce` does, for the report."""
    if precision == "float16":
        return "float16 weights and compute (onnxconverter-common)"
    if calibration is None:
        return "dynamic int8 quantization (onnxruntime.quantization.quantize_dynamic)"
    return "static int8 QDQ quantization (onnxruntime.quantization.quantize_static)"


def reduce(source, target, precision, calibration):
    """Write the `precision` version of the ONNX file `source` at `target`."""
    import onnx

    if precision == "float16":
        from onnxconverter_common import float16

        model = float16.convert_float_to_float16(onnx.load(source), keep_io_types=True)
        _casts_follow_their_outputs(model)
        _mark(model, precision)
        onnx.save(model, target)
        return
    from onnxruntime import quantization as q

    scratch = target + ".quantizing.onnx"
    try:
        if calibration is None:
            q.quantize_dynamic(source, scratch, weight_type=q.QuantType.QInt8)
        else:
            q.quantize_static(
                source, scratch, _reader(source, calibration), quant_format=q.QuantFormat.QDQ,
                per_channel=True, activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
            )
        model = onnx.load(scratch)
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)
    _mark(model, precision)
    onnx.save(model, target)


def _casts_follow_their_outputs(model):
    """Make float32 casts whose outputs became float16 cast to float16.

    torch.onnx writes Cast(to=float) on float tensors; the converter retypes
    their outputs float16 but leaves `to`, which onnxruntime then refuses
    ("Type (tensor(float16)) of output arg ... does not match"). Blocking
    Cast in the converter instead (`op_block_list`) never returns.
    """
    from onnx import TensorProto

    declared = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.output]}
    for node in model.graph.node:
        if node.op_type != "Cast" or declared.get(node.output[0]) != TensorProto.FLOAT16:
            continue
        for attribute in node.attribute:
            if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                attribute.i = TensorProto.FLOAT16


def _mark(model, precision):
    from kerasexport.formats.onnx import PRECISION_MARK as MARK

    kept = [p for p in model.metadata_props if p.key != MARK]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = MARK, precision


def _reader(source, calibration):
    """onnxruntime's CalibrationDataReader over a `Calibration`, by the file's input names."""
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader

    names = [i.name for i in onnxruntime.InferenceSession(
        source, providers=["CPUExecutionProvider"]).get_inputs()]
    arrays = calibration.arrays_for(names)  # torch.onnx names inputs its own way: by position

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([
                dict(zip(names, [a[s:s + _BATCH] for a in arrays]))
                for s in range(0, calibration.rows, _BATCH)
            ])

        def get_next(self):
            return next(self.batches, None)

    return Reader()
