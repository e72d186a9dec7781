"""Artifact speed: kerasexport's predict against the runtimes and Keras.

For each format and each model (the ladder's CNN and its light CNN), at
batch 1 and 64, in one process and in interleaved blocks: the runtime called
directly (onnxruntime `run`, the SavedModel's `serving_default` concrete
function, OpenVINO's compiled model, LiteRT's signature runner, the `.pt2`
program's module), `kerasexport.load(path).predict(x)`, Keras's `model(x)`
and `model.predict(x)`. Writes a Markdown section.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import keras
import numpy as np

import kerasexport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ladder  # noqa: E402

BATCHES = (1, 64)
FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
SUFFIXES = {"tf_saved_model": "", "onnx": ".onnx", "openvino": ".xml", "litert": ".tflite", "torch": ".pt2"}
MODELS = ("light_cnn", "cnn")


def timed_blocks(fns, reps, block=10):
    """Median ms of each fn, run in alternating blocks so load is shared."""
    times = {name: [] for name in fns}
    while min(len(t) for t in times.values()) < reps:
        for name, fn in fns.items():
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def direct_runner(format, runtime):
    """The runtime called directly: `runtime` is the artifact's own (an
    onnxruntime session, a loaded SavedModel, an OpenVINO compiled model, a
    LiteRT signature runner, a torch ExportedProgram), so both share one."""
    if format == "onnx":
        name = runtime.get_inputs()[0].name
        return lambda x: runtime.run(None, {name: x})
    if format == "openvino":
        request = runtime.create_infer_request()
        return lambda x: request.infer([x])
    if format == "litert":
        name = next(iter(runtime.get_input_details()))
        return lambda x: runtime(**{name: x})
    if format == "torch":
        import torch

        module = runtime.module()

        def run(x):
            with torch.no_grad():
                return module(torch.from_numpy(x)).numpy()

        return run
    import tensorflow as tf

    fn = runtime.signatures["serving_default"]
    key = list(fn.structured_input_signature[1])[0]
    return lambda x: fn(**{key: tf.constant(x)})


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    model_names = ("mlp",) if args.quick else MODELS
    formats = ("onnx",) if args.quick else FORMATS
    reps = {1: 30, 64: 10} if args.quick else {1: 300, 64: 60}
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for model_name in model_names:
            model, shape = ladder.build(model_name)
            for format in formats:
                path = os.path.join(workdir, model_name + SUFFIXES[format])
                kerasexport.export(model, path, format=format)
                artifact = kerasexport.load(path)
                direct = direct_runner(format, artifact.runtime)
                for batch in BATCHES:
                    x = np.random.default_rng(0).standard_normal((batch,) + shape).astype("float32")
                    fns = {
                        "direct": lambda: direct(x),
                        "kerasexport": lambda: artifact.predict(x),
                        "model(x)": lambda: model(x, training=False),
                        "model.predict": lambda: model.predict(x, verbose=0),
                    }
                    for fn in fns.values():  # warm-up (tracing, first allocation)
                        fn()
                    rows.append((model_name, model.count_params(), format, batch, timed_blocks(fns, reps[batch])))

    lines = [
        "## Artifact speed (Python)",
        "",
        f"Models: {', '.join(f'`{m}`' for m in model_names)} from the ladder, "
        f"{keras.backend.backend()} backend. Median ms over interleaved blocks; "
        "ratios against the runtime called directly.",
        "",
        "| model | format | batch | direct runtime ms | kerasexport predict ms | ratio | model(x) ms | model.predict ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model_name, _, format, batch, t in rows:
        lines.append(
            f"| {model_name} | {format} | {batch} | {t['direct']:.3f} | {t['kerasexport']:.3f} | "
            f"{t['kerasexport'] / t['direct']:.2f}× | {t['model(x)']:.3f} | {t['model.predict']:.3f} |"
        )
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
