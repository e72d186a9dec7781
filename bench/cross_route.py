"""Cross-backend route: its first export and its warm ones, against the native route.

Run once per backend (JAX, PyTorch; KERAS_BACKEND is fixed per process). For
each model and format, in one process:

- first: a verified `route="cross-backend"` export with no worker running
  (the pool is stopped first), so it pays the worker's start-up: Python,
  Keras and TensorFlow imported in a fresh process;
- warm: the median of later verified cross-route exports of the same model
  (the worker is warm);
- native: the median of verified native exports, where the backend has an
  exporter for the format, interleaved with the warm runs.

This process has imported TensorFlow (verification reloads SavedModels with
it) before any timing, so "first" is the worker's start-up, not ours.
Results are JSON lines; `--markdown` also writes the report's section.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import keras

import kerasexport
from kerasexport import routes
from kerasexport.cross import pool as worker_pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ladder  # noqa: E402

MODELS = ("mlp", "cnn")
FORMATS = ("tf_saved_model", "onnx")
WARM_RUNS = 5
# Targets of issue 16: warm MLP exports, and warm CNN exports against native.
MLP_WARM_TARGET_S = 1.0
CNN_NATIVE_RATIO_TARGET = 1.5


def _clear(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def _timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_one(model, format, runs, workdir):
    """First, warm and native seconds for `model` in `format`."""
    backend = keras.backend.backend()
    target = os.path.join(workdir, "artifact" + (".onnx" if format == "onnx" else ""))

    def cross():
        _clear(target)
        report = kerasexport.export(model, target, format=format, route=routes.CROSS_NAME)
        assert report.verified and report.route == routes.CROSS_NAME

    def native():
        _clear(target)
        kerasexport.export(model, target, format=format, route=routes.NATIVE_NAME)

    has_native = routes.has_native(backend, format)
    native_error = None
    if has_native:
        try:
            native()  # untimed: first-time costs of the native exporter
        except Exception as exc:  # noqa: BLE001 - e.g. jax2onnx on MaxPool: reported
            native_error, has_native = routes.describe(exc), False
    worker_pool.pool().stop()
    first = _timed(cross)
    warm, natives = [], []
    for _ in range(runs):
        warm.append(_timed(cross))
        if has_native:
            natives.append(_timed(native))
    _clear(target)
    return {
        "first_s": first,
        "warm_s": statistics.median(warm), "warm_max_s": max(warm),
        "native_s": statistics.median(natives) if natives else None,
        "native_error": native_error,
        "worker_backend": routes.worker_backend(backend, format),
    }


def markdown(rows):
    """The report's section: one row per backend, model and format, then the targets."""
    lines = [
        "## Cross-backend route: first and warm exports",
        "",
        "Verified exports by `route = \"cross-backend\"` in one process: the first with no",
        "worker running (it starts one: Python, Keras and TensorFlow imported afresh), then",
        f"warm ones (median of {rows[0]['runs'] if rows else WARM_RUNS}, the worst in brackets) on the worker it left running;",
        "the native route's verified export of the same model, interleaved with the warm runs,",
        "where the backend has one.",
        "",
        "| backend | model | format | worker | first s | warm s | native s | warm / native |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        native = f"{r['native_s']:.2f}" if r["native_s"] is not None else (
            "failed" if r.get("native_error") else "—")
        ratio = f"{r['warm_s'] / r['native_s']:.2f}×" if r["native_s"] else "—"
        lines.append(
            f"| {r['backend']} | {r['model']} | {r['format']} | {r['worker_backend']} | "
            f"{r['first_s']:.2f} | {r['warm_s']:.2f} ({r['warm_max_s']:.2f}) | {native} | {ratio} |"
        )
    failed = [r for r in rows if r.get("native_error")]
    lines += [""] + [
        f"- native failed: {r['backend']} {r['model']} {r['format']}: {r['native_error'][:160]}" for r in failed
    ]
    lines += ["", "Targets:"]
    mlp = [r for r in rows if r["model"] == "mlp"]
    met = [r for r in mlp if r["warm_max_s"] <= MLP_WARM_TARGET_S]
    lines.append(
        f"- **Warm MLP exports within {MLP_WARM_TARGET_S:g} s each** (the worst warm run): "
        f"{len(met)} of {len(mlp)} cells met."
        + "".join(f"\n  - missed: {r['backend']} {r['format']}, worst {r['warm_max_s']:.2f} s" for r in mlp if r not in met)
    )
    cnn = [r for r in rows if r["model"] == "cnn" and r["native_s"]]
    met = [r for r in cnn if r["warm_s"] <= CNN_NATIVE_RATIO_TARGET * r["native_s"]]
    lines.append(
        f"- **Warm CNN exports within {CNN_NATIVE_RATIO_TARGET:g}× the native route's verified export**: "
        f"{len(met)} of {len(cnn)} cells met."
        + "".join(
            f"\n  - missed: {r['backend']} {r['format']}, {r['warm_s'] / r['native_s']:.2f}×"
            for r in cnn if r not in met
        )
    )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the MLP to a SavedModel, one warm run")
    parser.add_argument("--out", required=True, help="JSON lines, appended")
    parser.add_argument("--markdown", help="write the report's section from --out (all backends)")
    args = parser.parse_args()

    import tensorflow  # noqa: F401 - verification's runtime, imported before any timing

    backend = keras.backend.backend()
    models = ("mlp",) if args.quick else MODELS
    formats = ("tf_saved_model",) if args.quick else FORMATS
    runs = 1 if args.quick else WARM_RUNS
    with open(args.out, "a") as out, tempfile.TemporaryDirectory() as workdir:
        for name in models:
            model, _ = ladder.build(name)
            for format in formats:
                result = bench_one(model, format, runs, workdir)
                row = {"backend": backend, "model": name, "format": format, "runs": runs, **result}
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{backend:8s} {name:5s} {format:15s} first={result['first_s']:.2f}s "
                      f"warm={result['warm_s']:.2f}s native={result['native_s']}", flush=True)
    if args.markdown:
        with open(args.out) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        with open(args.markdown, "w") as f:
            f.write(markdown(rows))


if __name__ == "__main__":
    main()
