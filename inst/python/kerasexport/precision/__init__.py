"""Reduced precision: float16, bfloat16 and int8 artifacts, verified against a budget.

`resolve()` turns `export(..., precision=, calibration_data=, rtol=,
agreement=, quantization=)` into a `Request` before any work, refusing
what the format's toolchain cannot do. Each format's tool is a module here
with the same names: `PRECISIONS`, `NEEDS` (modules it imports), `STAGE`
(``"after_write"``: it reduces the verified float32 artifact, ONNX and
OpenVINO; ``"at_write"``: the converter writes the reduced file, LiteRT;
``"model"``: the exporter writes a quantized copy of the model, SavedModel
and `.pt2` by Keras's own int8), `QUANTIZATIONS` and `method()`. `check.check()` then runs the reduced artifact as `load()`
opens it against the float model and holds it to `budget`.
"""

import dataclasses
import importlib
import importlib.util

from kerasexport import errors
from kerasexport.precision import budget as budget_lib
from kerasexport.precision import calibration as calibration_lib

FLOAT32 = "float32"
PRECISIONS = (FLOAT32, "float16", "bfloat16", "int8")
QUANTIZATIONS = ("static", "dynamic")
_TOOLS = {"onnx": "onnx", "openvino": "openvino", "litert": "litert", "tf_saved_model": "keras_int8",
          "torch": "keras_int8"}


@dataclasses.dataclass(frozen=True)
class Request:
    """A reduced-precision export, resolved.

    Attributes:
        precision: `"float16"`, `"bfloat16"` or `"int8"`.
        tool: the format's module in this package.
        calibration: the `calibration.Calibration` the tool quantizes
            with, or `None` (float16, bfloat16, dynamic int8).
        samples: the `calibration.Calibration` the budget is measured on
            (the user's, even where the tool needs none), or `None`
            (generated inputs).
        budget: the `budget.Budget` it is held to.
    """

    precision: str
    tool: object
    calibration: object
    samples: object
    budget: object

    @property
    def method(self):
        return self.tool.method(self.precision, self.calibration)


def resolve(format, precision, calibration_data, signature, *, rtol, agreement, quantization, options):
    """A `Request`, or `None` for float32; raises before any work on what cannot be done.

    Raises:
        PrecisionError: an unknown precision, or one the format's toolchain lacks.
        CalibrationError: calibration data that does not fit the inputs, or
            none for static int8.
        OptionError: converter options that would fight `precision`.
        ArgumentError: a bad `quantization`, `rtol` or `agreement`.
        DependencyError: the quantizer is not installed.
    """
    if precision is None:
        precision = FLOAT32
    if precision not in PRECISIONS:
        raise errors.PrecisionError(
            f"`precision` must be one of {', '.join(map(repr, PRECISIONS))}; received {precision!r}."
        )
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise errors.ArgumentError(
            f"`quantization` must be \"static\" or \"dynamic\"; received {quantization!r}."
        )
    if precision == FLOAT32:
        for name, value in (("calibration_data", calibration_data), ("agreement", agreement),
                            ("quantization", quantization)):
            if value is not None:
                raise errors.ArgumentError(
                    f"`{name}` applies to reduced precision only; pass precision=\"int8\" (or "
                    f"\"float16\", \"bfloat16\") with it, or leave it out."
                )
        return None
    tool = _tool(format, precision)
    _check_options(tool, options)
    if quantization is not None and precision != "int8":
        raise errors.ArgumentError(f"`quantization` applies to int8 only; received precision {precision!r}.")
    offered = getattr(tool, "QUANTIZATIONS", QUANTIZATIONS)
    quantization = quantization or offered[0]
    if quantization not in offered:
        raise errors.PrecisionError(
            f"quantization={quantization!r} is not available for {format} at int8; it offers "
            f"{', '.join(offered)} ({tool.method(precision, None)})."
        )
    calibration = calibration_lib.normalize(calibration_data, signature)
    if precision == "int8" and quantization == "static" and calibration is None:
        raise errors.CalibrationError(
            "Static int8 quantization needs calibration data: pass `calibration_data=` with a few "
            "hundred rows of real inputs (an array, a dict of arrays by input name, or a list or "
            "generator of batches), or quantization=\"dynamic\" for int8 weights with activations "
            "quantized as each call runs."
        )
    return Request(
        precision=precision, tool=tool,
        calibration=calibration if (precision == "int8" and quantization == "static") else None,
        samples=calibration, budget=budget_lib.budget(precision, rtol, agreement),
    )


def _tool(format, precision):
    tool = importlib.import_module(f"kerasexport.precision.{_TOOLS[format]}")
    if precision not in tool.PRECISIONS:
        raise errors.PrecisionError(
            f"precision={precision!r} is not available for {format}; its toolchain offers "
            f"{', '.join(tool.PRECISIONS)}. Choose one of those, or another format "
            "(ONNX, OpenVINO and LiteRT offer float16; OpenVINO bfloat16)."
        )
    missing = [m for m in tool.NEEDS[precision] if importlib.util.find_spec(m) is None]
    if missing:
        raise errors.DependencyError(
            f"precision={precision!r} for {format} needs the Python module(s) {', '.join(missing)}: "
            "install them (see inst/python/constraints.txt), or run install_kerasexport().",
            fix="install",
        )
    return tool


def _check_options(tool, options):
    fighting = sorted(set(options) & set(getattr(tool, "PRECISION_OPTIONS", ())))
    if fighting:
        raise errors.OptionError(
            f"Option(s) {', '.join(fighting)} set the precision themselves; pass either them or "
            "`precision=`, not both."
        )

