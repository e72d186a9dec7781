"""Reload artifacts in a fresh process: with their own runtime alone, then with `kerasexport.load()`.

Run as ``python fresh_reload.py MANIFEST.json`` in a fresh process, which
never sees the model's code. For each manifest entry (an artifact and its
inputs at some batch sizes) it first loads the artifact with the format's
runtime and its defaults, no kerasexport nor Keras imported yet, runs it,
and saves the outputs by name (``<outputs>.npz``). Then it imports
kerasexport and does the same through ``kerasexport.load(path).predict(x)``
(``<outputs>.load.npz``). One process serves both, so each artifact is
opened once per way. It prints one JSON line: the heavy packages imported
after each pass, and each entry's error if it failed to load or run.

The loaders, one per format:

- tf_saved_model: ``tf.saved_model.load(path).serve(x)``;
- onnx: ``onnxruntime.InferenceSession(path)``;
- openvino: ``openvino.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT":
  "f32"})``, as kerasexport tells users to, and also with no configuration
  (OpenVINO's defaults, bfloat16 on processors with bfloat16 units), whose
  outputs go to ``<outputs>.defaults.npz`` with the number of layers it runs
  in 16-bit floats in ``low_precision_layers``;
- litert: ``ai_edge_litert.interpreter.Interpreter(model_path=path)`` and its
  signature runner, one row at a time when the file's batch is fixed to 1;
- torch: ``torch.export.load(path).module()``.
"""

import json
import sys

import numpy as np

HEAVY = ("tensorflow", "keras", "jax", "torch")
# The batch sizes each zoo artifact is run at.
BATCH_SIZES = (1, 4)


def save_inputs(path, x):
    """Save a model argument (array, list or dict of arrays) for `load_inputs`; its structure."""
    if isinstance(x, dict):
        np.savez(path, **x)
        return "dict"
    if isinstance(x, (list, tuple)):
        np.savez(path, **{f"x{i}": v for i, v in enumerate(x)})
        return "list"
    np.savez(path, x=x)
    return "array"


def load_inputs(path, structure):
    data = np.load(path)
    if structure == "array":
        return data["x"]
    if structure == "list":
        return [data[f"x{i}"] for i in range(len(data.files))]
    return {k: data[k] for k in data.files}


def flat(x):
    """Leaves and their names (dict keys, else None), dicts sorted by key."""
    if isinstance(x, dict):
        return [(k, x[k]) for k in sorted(x)]
    if isinstance(x, list):
        return [(None, v) for v in x]
    return [(None, x)]


def by_name_or_position(names, leaves):
    """Feeds for inputs called `names`: by name when every name is a key."""
    keyed = {k: v for k, v in leaves if k is not None}
    if keyed and all(n in keyed for n in names):
        return [keyed[n] for n in names]
    assert len(names) == len(leaves), (names, [k for k, _ in leaves])
    return [v for _, v in leaves]


def saved_model(path):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)

    def run(x):
        out = loaded.serve(x)
        if isinstance(out, dict):
            return {k: np.asarray(v) for k, v in out.items()}
        out = tf.nest.flatten(out)
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(out)}

    return run


def onnx(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(x):
        feeds = dict(zip(names, by_name_or_position(names, flat(x))))
        outputs = session.run(None, feeds)
        return {o.name: r for o, r in zip(session.get_outputs(), outputs)}

    return run


def openvino(path, config=None):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"} if config is None else config)
    read = core.read_model(path)  # the IR's own port names

    def name(port):
        return sorted(port.get_names())[0]

    names = [name(p) for p in read.inputs]
    outputs = [name(p) for p in read.outputs]

    def run(x):
        result = compiled(by_name_or_position(names, flat(x)))
        return {n: np.asarray(result[o]) for n, o in zip(outputs, compiled.outputs)}

    run.compiled = compiled
    return run


def low_precision_layers(compiled):
    """How many layers of a compiled OpenVINO model run in 16-bit floats."""
    count = 0
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "runtimePrecision" in info and info["layerType"].astype(str) != "Const":
            count += info["runtimePrecision"].astype(str) in ("bf16", "f16")
    return count


def litert(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    key = next(iter(interpreter.get_signature_list()))
    runner = interpreter.get_signature_runner(key)
    details = runner.get_input_details()
    names = list(details)
    batch_of_one = all(d["shape_signature"][0] == 1 for d in details.values())

    def run(x):
        feeds = dict(zip(names, by_name_or_position(names, flat(x))))
        feeds = {n: np.asarray(v, dtype=details[n]["dtype"]) for n, v in feeds.items()}
        rows = next(iter(feeds.values())).shape[0]
        if not batch_of_one or rows == 1:
            return runner(**feeds)
        parts = [runner(**{n: v[i:i + 1] for n, v in feeds.items()}) for i in range(rows)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    return run


def torch_program(path):
    import torch

    module = torch.export.load(path).module()

    def to_torch(x):
        if isinstance(x, dict):
            return {k: to_torch(v) for k, v in x.items()}
        if isinstance(x, list):
            return [to_torch(v) for v in x]
        return torch.as_tensor(x)

    def run(x):
        with torch.no_grad():
            out = module(to_torch(x))
        if isinstance(out, dict):
            return {k: v.numpy() for k, v in out.items()}
        leaves = torch.utils._pytree.tree_leaves(out)
        return {f"output_{i}": v.numpy() for i, v in enumerate(leaves)}

    return run


LOADERS = {
    "tf_saved_model": saved_model, "onnx": onnx, "openvino": openvino,
    "litert": litert, "torch": torch_program,
}


def main(manifest_file):
    with open(manifest_file) as f:
        manifest = json.load(f)
    errors, low = runtime_alone(manifest)
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    load_errors = with_kerasexport(manifest)
    heavy_with_load = sorted(m for m in HEAVY if m in sys.modules)
    print(json.dumps({"heavy": heavy, "errors": errors, "low_precision_layers": low,
                      "heavy_with_load": heavy_with_load, "load_errors": load_errors}))


def runtime_alone(manifest):
    """Each entry through its runtime's own API; (errors, OpenVINO's low-precision layer counts)."""
    errors, low = {}, {}
    for entry in manifest:
        try:
            run = LOADERS[entry["format"]](entry["path"])
            for batch in entry["batches"]:
                outputs = run(load_inputs(batch["inputs"], entry["structure"]))
                np.savez(batch["outputs"], **outputs)
            if entry["format"] == "openvino":
                defaults = openvino(entry["path"], config={})
                low[entry["name"]] = low_precision_layers(defaults.compiled)
                for batch in entry["batches"]:
                    outputs = defaults(load_inputs(batch["inputs"], entry["structure"]))
                    np.savez(batch["outputs"].replace(".npz", ".defaults.npz"), **outputs)
        except Exception as exc:  # reported to the test, which fails
            errors[entry["name"]] = f"{type(exc).__name__}: {str(exc)[:500]}"
    return errors, low


def with_kerasexport(manifest):
    """Each entry through ``kerasexport.load(path).predict(x)``; errors by entry."""
    import kerasexport

    errors = {}
    for entry in manifest:
        try:
            artifact = kerasexport.load(entry["path"])
            for batch in entry["batches"]:
                y = artifact.predict(load_inputs(batch["inputs"], entry["structure"]))
                np.savez(batch["outputs"].replace(".npz", ".load.npz"), **(y if isinstance(y, dict) else {"y": y}))
        except Exception as exc:  # reported to the test, which fails
            errors[entry["name"]] = f"{type(exc).__name__}: {str(exc)[:500]}"
    return errors


if __name__ == "__main__":
    main(sys.argv[1])
