"""Reduced-precision LiteRT files, made by TensorFlow's converter as it writes them.

The converter's own post-training quantization: float16 weights
(``target_spec.supported_types = [float16]``); int8 dynamic range (int8
weights, activations quantized as each call runs) without calibration
data; int8 with a representative dataset (weights and activations int8
where LiteRT has int8 kernels, float inputs and outputs kept) with it.
The calibration rows travel to the converter as a `.npz` file, so the same
options serve the cross-backend route's worker.
"""

import os

import numpy as np

STAGE = "at_write"
PRECISIONS = ("float16", "int8")
NEEDS = {"float16": (), "int8": ()}
# The converter's options that set the precision themselves: not together with `precision=`.
PRECISION_OPTIONS = ("optimizations", "representative_dataset", "target_spec",
                     "inference_input_type", "inference_output_type")
MAX_SAMPLES = 300  # representative samples the converter reads
_CALIBRATION_FILE = ".calibration.npz"


def method(precision, calibration):
    if precision == "float16":
        return "float16 weights (TFLiteConverter, supported_types float16)"
    if calibration is None:
        return "dynamic-range int8 (TFLiteConverter, Optimize.DEFAULT)"
    return "int8 with a representative dataset (TFLiteConverter)"


def write_options(precision, calibration, scratch):
    """The converter options that write `precision`, JSON-ready.

    Args:
        precision: `"float16"` or `"int8"`.
        calibration: a `Calibration` or `None`.
        scratch: a directory that lives until the write is done (the stage).
    """
    if precision == "float16":
        return {"optimizations": ["DEFAULT"], "target_spec": {"supported_types": ["float16"]}}
    if calibration is None:
        return {"optimizations": ["DEFAULT"]}
    path = os.path.join(scratch, _CALIBRATION_FILE)
    count = min(calibration.rows, MAX_SAMPLES)
    np.savez(path, **{n: a[:count] for n, a in zip(calibration.names, calibration.arrays)})
    return {"optimizations": ["DEFAULT"], "representative_dataset": path}


def finish(path, precision):
    """Record `precision` in the written file's kerasexport metadata."""
    from kerasexport.formats import litert

    litert.set_metadata(path, precision=precision)
