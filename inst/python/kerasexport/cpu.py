"""The processor's features that change what the runtimes compute by default.

Processors with bfloat16 units (AVX512-BF16, AMX-BF16), float16 units
(AVX512-FP16, AMX-FP16) or int8 dot-product units (VNNI, AMX-INT8) make
some runtimes round where others compute in float32: OpenVINO's CPU plugin
defaults to bfloat16 wherever it has bfloat16 units, whatever an IR says.
`features()` reads the processor's flags (Linux's ``/proc/cpuinfo``);
`runtimes()` says, for each runtime kerasexport loads artifacts with, what
it does by default with those units. Nothing heavy is imported: OpenVINO,
when installed, is asked for its default inference precision, which takes a
fraction of a second.
"""

import importlib.util
import os

# Feature kind -> the flags that provide it (x86 names, then Arm's).
FEATURES = {
    "bf16": ("avx512_bf16", "amx_bf16", "bf16"),
    "fp16": ("avx512_fp16", "amx_fp16", "fphp", "asimdhp"),
    "int8": ("avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8", "asimddp", "i8mm"),
}
_CPUINFO = "/proc/cpuinfo"
_FLAG_FIELDS = ("flags", "Features")
# oneDNN (TensorFlow's and torch's CPU kernels) rounds float32 matrix
# products to this when set; it is off unless a user sets it.
FPMATH_VARIABLE = "ONEDNN_DEFAULT_FPMATH_MODE"


def flags(cpuinfo=_CPUINFO):
    """The processor's feature flags (empty when they cannot be read)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                field, _, value = line.partition(":")
                if field.strip() in _FLAG_FIELDS:
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def features(found=None):
    """`{kind: [flags present]}` for each kind of `FEATURES` (lists may be empty)."""
    found = flags() if found is None else found
    return {kind: [f for f in names if f in found] for kind, names in FEATURES.items()}


def openvino_default_precision():
    """The inference precision OpenVINO's CPU plugin uses unless told, or `None`.

    `None` when OpenVINO is not installed or cannot be asked.
    """
    if importlib.util.find_spec("openvino") is None:
        return None
    try:
        import openvino as ov

        return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    except Exception:  # noqa: BLE001 - a survey never fails on one question
        return None


def runtimes(found=None, openvino_precision=None):
    """What each runtime does by default with the units `found` (see `features`).

    Args:
        found: `features()`'s result. Defaults to this processor's.
        openvino_precision: OpenVINO's default inference precision
            (``"bf16"``, ``"f32"``), or `None` to ask OpenVINO.

    Returns:
        A list of `{"runtime": str, "default": str, "note": str}`: `default`
        is the precision float32 models compute in when the runtime is
        called with its defaults.
    """
    found = features() if found is None else found
    openvino_precision = openvino_precision or openvino_default_precision()
    bf16, int8 = bool(found["bf16"]), bool(found["int8"])
    int8_note = "int8 kernels (VNNI/AMX) for quantized models only" if int8 else "no int8 dot-product units"
    entries = []
    if openvino_precision is not None:
        rounded = openvino_precision in ("bf16", "f16")
        entries.append({
            "runtime": "openvino",
            "default": openvino_precision,
            "note": (
                f"a plain compile_model() computes in {openvino_precision} here, whatever the IR says; "
                "kerasexport compiles with INFERENCE_PRECISION_HINT f32" if rounded else
                "computes in float32 by default here"
            ) + f"; {int8_note}",
        })
    fpmath = os.environ.get(FPMATH_VARIABLE)
    onednn = (
        f"{FPMATH_VARIABLE}={fpmath} is set: oneDNN may round float32 matrix products"
        if fpmath and fpmath.lower() not in ("strict", "") else "float32 unless asked otherwise"
    )
    entries += [
        {"runtime": "onnxruntime", "default": "f32",
         "note": f"float32 kernels on every processor; {int8_note}"},
        {"runtime": "tensorflow", "default": "f32" if not fpmath else fpmath.lower(),
         "note": f"{onednn} (a mixed-precision policy, {FPMATH_VARIABLE})"
                 + ("; bf16 units used only when asked" if bf16 else "")},
        {"runtime": "litert", "default": "f32",
         "note": f"XNNPack computes float models in float32 unless asked for fp16; {int8_note}"},
        {"runtime": "torch", "default": "f32" if not fpmath else fpmath.lower(),
         "note": f"{onednn} (autocast, torch.set_float32_matmul_precision)"
                 + ("; bf16 units used only when asked" if bf16 else "")},
    ]
    return entries
