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
