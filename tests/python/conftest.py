import os

import keras
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def backend():
    return keras.backend.backend()


@pytest.fixture
def small_model():
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )


def predict(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


# Keras's suffix for each format (a SavedModel is a directory).
SUFFIXES = {"tf_saved_model": "", "onnx": ".onnx", "openvino": ".xml", "litert": ".tflite", "torch": ".pt2"}


@pytest.fixture(scope="session")
def zoo_export(tmp_path_factory):
    """`zoo_export(name, format)`: the zoo model and its verified artifact.

    Each model is exported once per format and session, so the matrix
    (reloading with the runtimes alone) and the fresh-process round trip
    (reloading with `kerasexport.load`) check the same artifacts.

    Returns:
        A function returning `(model, path, report)`.
    """
    import kerasexport
    import zoo

    exported = {}

    def export(name, format):
        if (name, format) not in exported:
            model = zoo.build(name)
            directory = tmp_path_factory.mktemp(f"zoo-{name}-{format}")
            path = str(directory / f"model{SUFFIXES[format]}")
            exported[name, format] = (model, path, kerasexport.export(model, path, format=format))
        return exported[name, format]

    return export


@pytest.fixture(scope="session")
def cli_exports(tmp_path_factory):
    """The command line tests' models, saved once, and their two exports (`cli_run.Exports`)."""
    import cli_run

    return cli_run.Exports(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="session")
def serving_artifacts(tmp_path_factory):
    """The serving tests' model repository, exported once (see serving_kit.py)."""
    import serving_kit

    return serving_kit.build(str(tmp_path_factory.mktemp("serving")))


@pytest.fixture(scope="session")
def fresh_reloads(zoo_export, tmp_path_factory):
    """`fresh_reloads(format)`: per zoo model, the export's failure, or its
    report and the model's outputs at each batch size, and what one fresh
    process (`fresh_reload.py`) said of the format's artifacts: reloaded by
    the runtime alone (`<stem>-<batch>-out.npz`), then by `kerasexport.load()`
    (`...-out.load.npz`). One process per format and session."""
    import json
    import subprocess
    import sys

    import fresh_reload
    import zoo
    done = {}

    def reload(format):
        if format in done:
            return done[format]
        directory = tmp_path_factory.mktemp(f"fresh-{format}")
        manifest, cells = [], {}
        for name in sorted(zoo.MODELS):
            try:
                model, path, report = zoo_export(name, format)
            except Exception as exc:  # the cell's test re-raises it
                cells[name] = {"error": exc}
                continue
            entry = {"name": name, "format": format, "path": path, "batches": []}
            expected = {}
            for batch in fresh_reload.BATCH_SIZES:
                x = zoo.inputs(name, batch, seed=batch)
                stem = directory / f"{name}-{batch}"
                entry["structure"] = fresh_reload.save_inputs(f"{stem}-in.npz", x)
                entry["batches"].append({"inputs": f"{stem}-in.npz", "outputs": f"{stem}-out.npz"})
                expected[batch] = _reference(model, x)
            manifest.append(entry)
            cells[name] = {"report": report, "expected": expected, "stem": directory / name}
        with open(directory / "manifest.json", "w") as f:
            json.dump(manifest, f)
        completed = subprocess.run(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fresh_reload.py"), str(directory / "manifest.json")],
            capture_output=True, text=True, timeout=900,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        info = json.loads(completed.stdout.strip().splitlines()[-1])
        done[format] = (cells, info)
        return done[format]

    return reload


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _reference(model, x):
    """The model's outputs on `x` in inference mode, NumPy leaves. On JAX through Keras's
    own jitted `predict()`: called eagerly, a MobileNet compiles each operation apart at
    each new batch size (about 10 s, against 2 s for the whole model)."""
    if keras.backend.backend() == "jax":
        batch = len(keras.tree.flatten(x)[0])
        return keras.tree.map_structure(np.asarray, model.predict(x, batch_size=batch, verbose=0))
    return keras.tree.map_structure(_numpy, model(x, training=False))


@pytest.fixture(scope="session")
def deploy_source(tmp_path_factory):
    """The deploy tests' source repository in four formats, exported once (see deploy_kit.py)."""
    import deploy_kit

    return deploy_kit.build(str(tmp_path_factory.mktemp("deploy")))
