"""Reduced precision against float32, side by side in one process.

For the ladder's CNN and MobileNet (quick: the light CNN), in ONNX, OpenVINO
and LiteRT, at every precision the format offers: bytes on disk, batch-1
and batch-64 latency of the runtime as `kerasexport.load()` opens it
(medians over interleaved blocks, so the precisions share the machine's
load), and the worst relative error against the float model, as the export
measured it. The models carry random weights, so int8's top-1 agreement is
no guide here: the budget is opened wide (`rtol`, `agreement`) so each
precision is written and its error shown. Targets, read against float32 in
the same runtime: int8 at most 0.3x its bytes and at least 1.5x its speed at
batch 64 (where the processor has int8 units: VNNI, AMX); float16 at most
0.55x its bytes. Writes a Markdown section.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import kerasexport
from kerasexport import cpu

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ladder  # noqa: E402
from artifact_speed import direct_runner, timed_blocks  # noqa: E402
from export_cost import artifact_bytes  # noqa: E402

FORMATS = {"onnx": ".onnx", "openvino": ".xml", "litert": ".tflite"}
PRECISIONS = {"onnx": ("float32", "float16", "int8"), "openvino": ("float32", "float16", "bfloat16", "int8"),
              "litert": ("float32", "float16", "int8")}
MODELS = ("cnn", "mobilenet_v3_large")
BATCHES = (1, 64)
CALIBRATION_ROWS = 64
TARGETS = {"int8": {"bytes": 0.3, "speed": 1.5}, "float16": {"bytes": 0.55}}


def _export(model, shape, format, precision, path, calibration):
    options = {}
    if precision != "float32":
        options = {"rtol": 10.0}
        if precision == "int8":
            options.update(calibration_data=calibration, agreement=0.0)
    report = kerasexport.export(model, path, format=format, precision=precision, overwrite=True, **options)
    error = report.reduced["max_relative_error"] if report.reduced else report.max_relative_error
    method = report.reduced["method"] if report.reduced else "as exported"
    return error, method


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    models = ("light_cnn",) if args.quick else MODELS
    formats = ("onnx",) if args.quick else tuple(FORMATS)
    reps = {1: 10, 64: 3} if args.quick else {1: 100, 64: 20}
    int8_units = bool(cpu.features()["int8"])
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for model_name in models:
            model, shape = ladder.build(model_name)
            rng = np.random.default_rng(0)
            calibration = rng.standard_normal((CALIBRATION_ROWS,) + shape).astype("float32")
            inputs = {b: rng.standard_normal((b,) + shape).astype("float32") for b in BATCHES}
            for format in formats:
                cells = {}
                for precision in PRECISIONS[format]:
                    path = os.path.join(workdir, f"{model_name}-{precision}{FORMATS[format]}")
                    error, method = _export(model, shape, format, precision, path, calibration)
                    artifact = kerasexport.load(path)
                    cells[precision] = dict(path=path, error=error, method=method, bytes=artifact_bytes(path),
                                            run=direct_runner(format, artifact.runtime), artifact=artifact)
                for batch in BATCHES:
                    x = inputs[batch]
                    fns = {p: (lambda c=c: c["run"](x)) for p, c in cells.items()}
                    for fn in fns.values():
                        fn()
                    for precision, ms in timed_blocks(fns, reps[batch], block=5).items():
                        cells[precision][f"ms{batch}"] = ms
                base = cells["float32"]
                for precision, c in cells.items():
                    rows.append((model_name, format, precision, c["method"], c["bytes"],
                                 c["bytes"] / base["bytes"], c["ms1"], c["ms64"], base["ms64"] / c["ms64"],
                                 c["error"], _verdict(precision, c["bytes"] / base["bytes"],
                                                      base["ms64"] / c["ms64"], int8_units)))
                for c in cells.values():
                    del c["artifact"], c["run"]

    units = ", ".join(f"{k}: {' '.join(v) or 'none'}" for k, v in cpu.features().items())
    lines = [
        "## Reduced precision",
        "",
        f"Models: {', '.join(f'`{m}`' for m in models)} from the ladder (random weights). Each "
        "artifact opened as `kerasexport.load()` opens it and its runtime called directly; median "
        "ms over interleaved blocks, every precision of a model and format side by side. Error: the "
        "worst relative error against the float model on the export's own verification inputs. "
        f"Processor units: {units}.",
        "",
        "| model | format | precision | method | bytes | × float32 bytes | batch 1 ms | batch 64 ms "
        "| speed × float32 (batch 64) | worst relative error | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (model_name, format, precision, method, size, size_ratio, ms1, ms64, speed, error, verdict) in rows:
        lines.append(
            f"| {model_name} | {format} | {precision} | {method} | {size:,} | {size_ratio:.2f} | {ms1:.2f} "
            f"| {ms64:.1f} | {speed:.2f} | {error:.2g} | {verdict} |"
        )
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def _verdict(precision, size_ratio, speed, int8_units):
    target = TARGETS.get(precision)
    if not target:
        return ""
    parts = []
    if size_ratio <= target["bytes"]:
        parts.append(f"bytes ≤ {target['bytes']}× met")
    else:
        parts.append(f"bytes ≤ {target['bytes']}× missed by {size_ratio - target['bytes']:.2f}")
    if "speed" in target:
        if not int8_units:
            parts.append("speed: no int8 units here")
        elif speed >= target["speed"]:
            parts.append(f"speed ≥ {target['speed']}× met")
        else:
            parts.append(f"speed ≥ {target['speed']}× missed ({speed:.2f}×)")
    return "; ".join(parts)


if __name__ == "__main__":
    main()
