"""Export cost: kerasexport against raw `model.export()`, side by side.

Run once per backend (KERAS_BACKEND is fixed per process). For every model of
the ladder and every format, each repetition runs, in turn and in the same
process: raw Keras `model.export()`, `kerasexport.export(verify=False)` and
`kerasexport.export(verify=True)`. Medians and ratios come from those
interleaved runs. Verification's own time is read from each verified export's
report (`ExportReport.verify_seconds`), so the export's noise does not land
on it; loading a fresh artifact and running it on verification's two batches
is timed apart for comparison. (The cross-backend route against the native
one, first and warm exports: `cross_route.py`.) Peak memory is the highest
resident set seen during the operation,
above what the process held before it, with freed heap handed back to the
system first (else whichever variant ran first would carry the others'
growth). Results are JSON lines.
"""

import argparse
import ctypes
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import keras

import kerasexport
from kerasexport import formats
from kerasexport import routes
from kerasexport import signature
from kerasexport import verify

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ladder  # noqa: E402

FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
# Keras's suffix per format (its exporters insist on them).
SUFFIXES = {"tf_saved_model": "", "onnx": ".onnx", "openvino": ".xml", "litert": ".tflite", "torch": ".pt2"}
# Runs per model: small models often (their timings are noisy), large ones
# less (their cost dwarfs the noise, and `make bench` is long enough).
REPEATS = {"mlp": 7, "light_cnn": 5, "cnn": 5, "mobilenet_v3_large": 2, "resnet50": 1}
# The three formats added last are timed on the smaller models, fewer times:
# most of their cells go through a worker process (seconds each).
NEW_FORMATS = ("openvino", "litert", "torch")
NEW_FORMAT_MODELS = ("mlp", "light_cnn", "cnn")
NEW_FORMAT_REPEATS = 2


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_freed_memory():
    """Hand freed heap back to the system, so the next peak starts from here."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # Not glibc: peaks are then upper bounds of the first run only.


def measured(fn):
    """Run `fn()`; return (seconds, peak extra resident bytes, error or None)."""
    _release_freed_memory()
    baseline = _rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    error = None
    try:
        fn()
    except Exception as exc:  # A failing raw export is a result, not a crash.
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return seconds, max(peak[0] - baseline, 0), error


class GcClock:
    """Seconds Python's cyclic garbage collector ran while the clock was on."""

    def __init__(self):
        self.seconds = 0.0
        self._started = None

    def _callback(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def __enter__(self):
        self.seconds = 0.0
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)


def _clear(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    side = _weights_file(path)
    if side and os.path.exists(side):
        os.remove(side)


def _weights_file(path):
    """An OpenVINO IR's .bin (the bench names its IRs *.xml), or None."""
    return path[:-len(".xml")] + ".bin" if path.endswith(".xml") else None


def artifact_bytes(path):
    if os.path.isfile(path):
        side = _weights_file(path)
        return os.path.getsize(path) + (os.path.getsize(side) if side and os.path.exists(side) else 0)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def bench_one(model, format, repeats, workdir):
    """Time the variants on `model`."""
    target = os.path.join(workdir, "artifact" + SUFFIXES[format])
    reports = []  # Of the verified exports: route taken, verification's time.
    gc_during_verified = []  # Garbage collection's share of each verified export.

    def verified():
        with GcClock() as clock:
            reports.append(kerasexport.export(model, target, format=format))
        gc_during_verified.append((clock.seconds, 0, None))

    variants = {
        "raw_keras": lambda: model.export(target, format=format, verbose=False),
        "kerasexport_noverify": lambda: kerasexport.export(model, target, format=format, verify=False),
        "kerasexport_verify": verified,
    }
    runs = {name: [] for name in variants}
    load_and_run = []
    size = None
    # Untimed warm-up, once: ours without verification runs Keras's exporter
    # (or the worker) plus our own code, so first-time costs land on no
    # variant. The model's first run at the verification's batch sizes is
    # slow on JAX (the model compiles per shape): timed, kept apart.
    _clear(target)
    measured(variants["kerasexport_noverify"])
    model_first = measured(lambda: _model_on_two_batches(model))
    for _ in range(repeats):
        for name, fn in variants.items():
            _clear(target)
            runs[name].append(measured(fn))
            if name == "kerasexport_noverify" and not runs[name][-1][2]:
                # A fresh artifact, never loaded: what verification meets.
                load_and_run.append(measured(lambda: _load_and_run(model, format, target)))
            if name == "kerasexport_verify" and os.path.exists(target):
                size = artifact_bytes(target)
    model_runs = [measured(lambda: _model_on_two_batches(model)) for _ in range(repeats)]
    _clear(target)
    result = {}
    for name, values in runs.items():
        errors = [e for _, _, e in values if e]
        ok = [(s, m) for s, m, e in values if not e]
        result[name] = {
            "median_s": statistics.median(s for s, _ in ok) if ok else None,
            "min_s": min(s for s, _ in ok) if ok else None,
            "max_s": max(s for s, _ in ok) if ok else None,
            "peak_mb": max(m for _, m in ok) / 2**20 if ok else None,
            "error": errors[0] if errors else None,
        }
    if routes.has_native(keras.backend.backend(), format) and format not in NEW_FORMATS:
        # (The new formats' writers are ours, not Keras's exporter plus a
        # finishing pass, so there is no Keras part to take out.)
        own_s, side_bytes = our_own_part(model, format, target)
        result["our_own_part"] = {"median_s": own_s, "peak_mb": None, "error": None, "side_file_bytes": side_bytes}
    verifying = [(r.verify_seconds, 0, None) for r in reports]
    timed_apart = (("verification", verifying), ("gc_during_verified_export", gc_during_verified),
                   ("load_and_run_two_batches", load_and_run),
                   ("model_two_batches", model_runs), ("model_first_two_batches", [model_first]))
    for name, values in timed_apart:
        ok = [sec for sec, _, e in values if not e]
        result[name] = {
            "median_s": statistics.median(ok) if ok else None, "peak_mb": None,
            "error": next((e for _, _, e in values if e), None),
        }
    return result, size, sorted({r.route for r in reports})


def our_own_part(model, format, target, runs=30, budget_s=5.0):
    """Median seconds of `kerasexport.export(verify=False, route="native")`
    with Keras's exporter replaced by a copy of its own output.

    What is left is kerasexport's part of an unverified export: checks, the
    staging directory and rename, capturing third-party output, and the
    finishing pass over an ONNX file (side files folded in, doc strings
    removed), on the very file Keras writes. Up to `runs` runs, fewer (at
    least 3) when they would take over `budget_s` seconds.

    Returns:
        The median seconds, and the bytes Keras's exporter left in side
        files beside an ONNX file (which the finishing pass folds in).
    """
    fmt = formats.get(format)
    reference_dir = os.path.join(os.path.dirname(target), "reference")
    os.mkdir(reference_dir)
    # Same base name as the target: side files are found by relative name.
    model.export(os.path.join(reference_dir, os.path.basename(target)), format=format, verbose=False)
    side_bytes = sum(
        os.path.getsize(os.path.join(reference_dir, entry))
        for entry in os.listdir(reference_dir) if entry != os.path.basename(target)
    )

    def copy_of_keras_output(model, path, *args, **kwargs):
        for entry in os.listdir(reference_dir):
            source, dest = os.path.join(reference_dir, entry), os.path.join(os.path.dirname(path), entry)
            (shutil.copytree if os.path.isdir(source) else shutil.copyfile)(source, dest)

    real_write, fmt.write = fmt.write, copy_of_keras_output
    times = []
    try:
        while len(times) < runs and (len(times) < 3 or sum(times) < budget_s):
            _clear(target)
            started = time.perf_counter()
            kerasexport.export(model, target, format=format, verify=False, route=routes.NATIVE_NAME)
            times.append(time.perf_counter() - started)
    finally:
        fmt.write = real_write
        shutil.rmtree(reference_dir)
        _clear(target)
    return statistics.median(times), side_bytes


def _load_and_run(model, format, path):
    """Load the artifact once, as verification does, and run it on its two small batches."""
    specs = signature.normalize(model, None)
    run = verify.artifact_runner(formats.get(format).open(path), specs)
    for batch, size in zip(verify.BATCH_SIZES, verify.DYNAMIC_SIZES):
        run(verify.make_inputs(specs, batch, size))


def _model_on_two_batches(model):
    """What verification compares against: the model's own outputs."""
    specs = signature.normalize(model, None)
    for batch, size in zip(verify.BATCH_SIZES, verify.DYNAMIC_SIZES):
        verify.model_outputs(model, verify.make_inputs(specs, batch, size))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one small model, one run")
    parser.add_argument("--repeats", type=int, help=f"runs per model (default: {REPEATS})")
    parser.add_argument("--models", nargs="*", help=f"a part of the ladder {ladder.LADDER}")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    backend = keras.backend.backend()
    models = args.models or (ladder.QUICK if args.quick else ladder.LADDER)
    formats = [routes.NATIVE[backend][-1]] if args.quick else FORMATS
    with open(args.out, "a") as out, tempfile.TemporaryDirectory() as workdir:
        for name in models:
            model, shape = ladder.build(name)
            params = model.count_params()
            for format in formats:
                if format in NEW_FORMATS and not args.quick and name not in NEW_FORMAT_MODELS:
                    continue
                n = 1 if args.quick else args.repeats or (
                    NEW_FORMAT_REPEATS if format in NEW_FORMATS else REPEATS[name])
                result, size, taken = bench_one(model, format, n, workdir)
                row = {
                    "backend": backend, "model": name, "format": format,
                    "params": params, "repeats": n, "artifact_bytes": size,
                    "native_route": routes.has_native(backend, format),
                    "route_taken": taken, **result,
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{backend:10s} {name:18s} {format:14s} " + "  ".join(
                    f"{k}={v['median_s']:.2f}s" if v["median_s"] is not None else f"{k}=failed"
                    for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
