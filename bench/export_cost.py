"""Export cost: kerasexport against raw `model.export()`, side by side.

Run once per backend (KERAS_BACKEND is fixed per process). For every model of
the ladder and every format, each repetition runs, in turn and in the same
process: raw Keras `model.export()`, `kerasexport.export(verify=False)` and
`kerasexport.export(verify=True)`. Medians and ratios come from those
interleaved runs. Peak memory is the highest resident set seen during the
operation, above what the process held before it. Results are JSON lines.
"""

import argparse
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

FORMATS = ("tf_saved_model", "onnx")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measured(fn):
    """Run `fn()`; return (seconds, peak extra resident bytes, error or None)."""
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


def _clear(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def artifact_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def bench_one(model, format, repeats, workdir):
    target = os.path.join(workdir, "artifact" + (".onnx" if format == "onnx" else ""))
    variants = {
        "raw_keras": lambda: model.export(target, format=format, verbose=False),
        "kerasexport_noverify": lambda: kerasexport.export(model, target, format=format, verify=False),
        "kerasexport_verify": lambda: kerasexport.export(model, target, format=format),
    }
    runs = {name: [] for name in variants}
    size = None
    # Untimed warm-up: imports and first tracing land on no variant.
    for fn in variants.values():
        _clear(target)
        measured(fn)
    for _ in range(repeats):
        for name, fn in variants.items():
            _clear(target)
            runs[name].append(measured(fn))
            if name == "kerasexport_verify" and os.path.exists(target):
                size = artifact_bytes(target)
    load_and_run = [measured(lambda: _load_and_run(model, format, target)) for _ in range(repeats)] if size else []
    _clear(target)
    result = {}
    for name, values in runs.items():
        errors = [e for _, _, e in values if e]
        ok = [(s, m) for s, m, e in values if not e]
        result[name] = {
            "median_s": statistics.median(s for s, _ in ok) if ok else None,
            "peak_mb": max(m for _, m in ok) / 2**20 if ok else None,
            "error": errors[0] if errors else None,
        }
    ok = [sec for sec, _, e in load_and_run if not e]
    result["load_and_run_two_batches"] = {
        "median_s": statistics.median(ok) if ok else None, "peak_mb": None,
        "error": next((e for _, _, e in load_and_run if e), None),
    }
    return result, size


def _load_and_run(model, format, path):
    """What verification cannot avoid: load the artifact, run two small batches."""
    fmt = formats.get(format)
    loaded = fmt.load(path)
    specs = signature.normalize(model, None)
    for batch in verify.BATCH_SIZES:
        args = verify.make_inputs(specs, batch, verify.DYNAMIC_SIZES[0])
        fmt.run(loaded, signature.flat_specs(args) if format == "onnx" else args)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one small model, one run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    backend = keras.backend.backend()
    models = ladder.QUICK if args.quick else ladder.LADDER
    repeats = 1 if args.quick else args.repeats
    formats = [routes.NATIVE[backend][-1]] if args.quick else FORMATS
    with open(args.out, "a") as out, tempfile.TemporaryDirectory() as workdir:
        for name in models:
            model, shape = ladder.build(name)
            params = model.count_params()
            for format in formats:
                # Large models once: their cost dwarfs the noise.
                n = 1 if name == "resnet50" and not args.quick else repeats
                result, size = bench_one(model, format, n, workdir)
                row = {
                    "backend": backend, "model": name, "format": format,
                    "params": params, "repeats": n, "artifact_bytes": size,
                    "native_route": format in routes.NATIVE[backend], **result,
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{backend:10s} {name:18s} {format:14s} " + "  ".join(
                    f"{k}={v['median_s']:.2f}s" if v["median_s"] is not None else f"{k}=failed"
                    for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
