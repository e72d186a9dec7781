"""On every backend: artifacts exported from it serve correctly through both
protocols (the protocol suite itself runs on one backend)."""

import os

import keras
import numpy as np
import pytest

import serving_kit

from kerasexport import routes

# The formats this backend writes natively; a cross-route artifact is the
# worker backend's, checked on that backend's run already.
FORMATS = [f for f in ("tf_saved_model", "onnx", "openvino", "litert", "torch")
           if routes.has_native(keras.backend.backend(), f)]
FILE_NAMES = {"onnx": "model.onnx", "openvino": "model.xml", "litert": "model.tflite", "torch": "model.pt2"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import kerasexport

    root = str(tmp_path_factory.mktemp("backend-serving") / "models")
    model = serving_kit.two_io()
    for format in FORMATS:
        target = os.path.join(root, format, "1")
        kerasexport.export(model, os.path.join(target, FILE_NAMES[format]) if format in FILE_NAMES else target,
                           format=format)
    with kerasexport.Server(root, port=0, poll_seconds=0, quiet=True) as server:
        yield server, model


@pytest.mark.parametrize("format", FORMATS)
def test_an_artifact_from_this_backend_serves_both_protocols(served, format):
    import tritonclient.http as httpclient

    server, model = served
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 3)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")
    expected = serving_kit.keras_outputs(model, {"a": a, "b": b})

    client = serving_kit.Client(server.url)
    instances = [{"a": a[i].tolist(), "b": b[i].tolist()} for i in range(3)]
    status, body = client.json("POST", f"/v1/models/{format}:predict", {"instances": instances})
    client.close()
    assert status == 200, body
    for name in ("first", "second"):
        np.testing.assert_allclose([p[name] for p in body["predictions"]], expected[name], rtol=1e-5, atol=1e-5)

    triton = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    metadata = triton.get_model_metadata(format)
    assert [t["name"] for t in metadata["inputs"]] == ["a", "b"]
    assert [t["name"] for t in metadata["outputs"]] == ["first", "second"]
    inputs = []
    for name, value in (("a", a), ("b", b)):
        tensor = httpclient.InferInput(name, list(value.shape), "FP32")
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    result = triton.infer(format, inputs)
    triton.close()
    for name in ("first", "second"):
        np.testing.assert_allclose(result.as_numpy(name), expected[name], rtol=1e-5, atol=1e-5)
