"""No path of the exporting machine ends up inside an artifact."""

import os
import sys
import tempfile

import keras
import pytest

import kerasexport
from kerasexport import routes


def machine_paths(tmp_path):
    paths = {
        "the export directory": str(tmp_path),
        "the temporary directory": tempfile.gettempdir(),
        "the home directory": os.path.expanduser("~"),
        "the Python environment": sys.prefix,
        "the working directory": os.getcwd(),
        "the kerasexport sources": os.path.dirname(kerasexport.__file__),
        "the keras sources": os.path.dirname(keras.__file__),
    }
    return {what: p for what, p in paths.items() if len(p) > 1}


def paths_found(target, tmp_path):
    """Each machine path found in the artifact at `target`, and where."""
    return [
        f"{what} ({needle}) in {name}"
        for name, data in artifact_bytes(target)
        for what, needle in machine_paths(tmp_path).items()
        if needle.encode() in data
    ]


def conv_model():
    keras.utils.set_random_seed(3)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.Dense(2)(keras.layers.Flatten()(y))
    return keras.Model(x, y)


def artifact_bytes(path):
    if os.path.isfile(path):
        files = [path] + [p for p in [os.path.splitext(path)[0] + ".bin"] if path.endswith(".xml")]
    else:
        files = [os.path.join(root, f) for root, _, names in os.walk(path) for f in names]
    for name in files:
        with open(name, "rb") as f:
            yield os.path.relpath(name, os.path.dirname(path)), f.read()


def route_cases():
    """(format, route, verbose): every route this backend can take, verbose
    on and off; the cross-backend route only verbose where a native route
    exists (its worker runs the same way from every backend)."""
    backend = keras.backend.backend()
    cases = []
    for format in ("tf_saved_model", "onnx"):
        native = routes.has_native(backend, format)
        if native:
            cases += [(format, routes.NATIVE_NAME, False), (format, routes.NATIVE_NAME, True)]
        cases += [(format, routes.CROSS_NAME, True)] + ([] if native else [(format, routes.CROSS_NAME, False)])
    return cases


@pytest.mark.parametrize("format,route,verbose", route_cases())
def test_artifacts_hold_no_machine_paths(tmp_path, format, route, verbose):
    target = str(tmp_path / ("model.onnx" if format == "onnx" else "model"))
    report = kerasexport.export(conv_model(), target, format=format, route=route, verbose=verbose)
    assert report.route == route
    assert paths_found(target, tmp_path) == []


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="archives need the TensorFlow or JAX backend")
def test_archives_hold_no_machine_paths(tmp_path):
    model = conv_model()
    target = str(tmp_path / "archive")
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [keras.InputSpec(shape=(None, 8, 8, 3), dtype="float32")])
    archive.write_out(target)
    assert paths_found(target, tmp_path) == []


@pytest.mark.parametrize("format, name", [("openvino", "model.xml"), ("litert", "model.tflite"), ("torch", "model.pt2")])
def test_new_formats_hold_no_machine_paths(tmp_path, format, name):
    # One export each, verbose (the exporters' most talkative), by the route
    # this backend takes: the matrix covers the rest of the routes.
    target = str(tmp_path / name)
    kerasexport.export(conv_model(), target, format=format, verbose=True)
    assert paths_found(target, tmp_path) == []
