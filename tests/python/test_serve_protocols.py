"""Both protocols against one server: TF-Serving REST over plain HTTP, KServe v2
with tritonclient.http (binary data, its default, and JSON), versions, metrics.

Expected values are the Keras models' own outputs."""

import base64
import json

import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

RTOL = 1e-5


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True) as server:
        yield server


@pytest.fixture(scope="module")
def client(server):
    client = serving_kit.Client(server.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def triton(server):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield client
    client.close()


def rows(n, features, seed=0):
    return np.random.default_rng(seed).normal(size=(n, features)).astype("float32")


# TF-Serving: status and metadata ----


def test_status_lists_every_version_available(client):
    status, body = client.json("GET", "/v1/models/mlp")
    assert status == 200
    assert body == {"model_version_status": [
        {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in ("2", "1")
    ]}
    status, body = client.json("GET", "/v1/models/mlp/versions/1")
    assert status == 200 and [v["version"] for v in body["model_version_status"]] == ["1"]


def test_metadata_has_a_signature_def_per_endpoint(client):
    status, body = client.json("GET", "/v1/models/two/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "two", "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serve"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert list(signature["inputs"]) == ["a", "b"]
    assert signature["inputs"]["b"] == {
        "dtype": "DT_FLOAT", "name": "b",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "5", "name": ""}],
                         "unknown_rank": False},
    }
    assert sorted(signature["outputs"]) == ["first", "second"]
    status, body = client.json("GET", "/v1/models/mlp_sm/versions/1/metadata")
    assert status == 200
    assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]


# TF-Serving: predict ----


def test_row_format_single_input_and_output(client, serving_artifacts):
    x = rows(3, 4)
    status, body = client.json("POST", "/v1/models/mlp/versions/1:predict", {"instances": x.tolist()})
    assert status == 200
    expected = serving_kit.keras_outputs(serving_artifacts.models["mlp1"], x)
    np.testing.assert_allclose(body["predictions"], expected, rtol=RTOL, atol=1e-6)


def test_columnar_format_on_a_saved_model(client, serving_artifacts):
    x = rows(2, 4, seed=1)
    status, body = client.json("POST", "/v1/models/mlp_sm:predict",
                               {"signature_name": "serving_default", "inputs": x.tolist()})
    assert status == 200
    expected = serving_kit.keras_outputs(serving_artifacts.models["mlp1"], x)
    np.testing.assert_allclose(body["outputs"], expected, rtol=RTOL, atol=1e-6)


def test_named_inputs_and_outputs_in_both_formats(client, serving_artifacts):
    a, b = rows(2, 3, seed=2), rows(2, 5, seed=3)
    expected = serving_kit.keras_outputs(serving_artifacts.models["two"], {"a": a, "b": b})
    instances = [{"a": a[i].tolist(), "b": b[i].tolist()} for i in range(2)]
    status, body = client.json("POST", "/v1/models/two:predict", {"instances": instances})
    assert status == 200
    assert [sorted(p) for p in body["predictions"]] == [["first", "second"]] * 2
    for name in ("first", "second"):
        np.testing.assert_allclose([p[name] for p in body["predictions"]], expected[name], rtol=RTOL, atol=1e-6)
    status, body = client.json("POST", "/v1/models/two:predict",
                               {"inputs": {"b": b.tolist(), "a": a.tolist()}})
    assert status == 200
    for name in ("first", "second"):
        np.testing.assert_allclose(body["outputs"][name], expected[name], rtol=RTOL, atol=1e-6)


def test_unversioned_requests_go_to_the_latest_version(client, serving_artifacts):
    x = rows(2, 4, seed=4)
    _, latest = client.json("POST", "/v1/models/mlp:predict", {"instances": x.tolist()})
    _, first = client.json("POST", "/v1/models/mlp/versions/1:predict", {"instances": x.tolist()})
    np.testing.assert_allclose(latest["predictions"], serving_kit.keras_outputs(serving_artifacts.models["mlp2"], x), rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(first["predictions"], serving_kit.keras_outputs(serving_artifacts.models["mlp1"], x), rtol=RTOL, atol=1e-6)


def test_strings_in_and_b64_bytes_out(client):
    raw = b"\xff\x00binary"
    status, body = client.json("POST", "/v1/models/text:predict",
                               {"instances": ["hello", {"b64": base64.b64encode(raw).decode()}]})
    assert status == 200
    assert [p["length"] for p in body["predictions"]] == [5, len(raw)]
    # Outputs named *_bytes are binary, written as {"b64": ...} (TF-Serving's rule).
    assert [base64.b64decode(p["echo_bytes"]["b64"]) for p in body["predictions"]] == [b"hello", raw]


def test_nan_tokens_are_read_and_written(client):
    # TF-Serving's JSON allows NaN and Infinity tokens, both ways.
    status, _, data = client.request("POST", "/v1/models/mlp:predict",
                                     b'{"instances": [[NaN, 1.0, 2.0, Infinity]]}')
    assert status == 200
    predictions = json.loads(data)["predictions"]
    assert b"NaN" in data and np.isnan(predictions).all()


# KServe v2 ----


def test_health_and_server_metadata(triton, client):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("mlp") and triton.is_model_ready("mlp", "1")
    assert not triton.is_model_ready("mlp", "7")
    metadata = triton.get_server_metadata()
    assert metadata["name"] == "kerasexport" and "binary_tensor_data" in metadata["extensions"]
    status, _, data = client.request("GET", "/v2/health/live")
    assert (status, data) == (200, b"")


def test_model_metadata_in_v2_terms(triton):
    assert triton.get_model_metadata("two") == {
        "name": "two", "versions": ["1"], "platform": "onnxruntime_onnx",
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 3]},
                   {"name": "b", "datatype": "FP32", "shape": [-1, 5]}],
        "outputs": [{"name": "first", "datatype": "FP32", "shape": [-1, 2]},
                    {"name": "second", "datatype": "FP32", "shape": [-1, 1]}],
    }
    sm = triton.get_model_metadata("mlp_sm", "1")
    assert sm["platform"] == "tensorflow_savedmodel" and sm["inputs"][0]["shape"] == [-1, 4]
    assert triton.get_model_metadata("mlp")["versions"] == ["1", "2"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_infer_with_tritonclient(triton, serving_artifacts, binary):
    import tritonclient.http as httpclient

    a, b = rows(3, 3, seed=5), rows(3, 5, seed=6)
    expected = serving_kit.keras_outputs(serving_artifacts.models["two"], {"a": a, "b": b})
    inputs = []
    for name, value in (("a", a), ("b", b)):
        tensor = httpclient.InferInput(name, list(value.shape), "FP32")
        tensor.set_data_from_numpy(value, binary_data=binary)
        inputs.append(tensor)
    outputs = None if binary else [httpclient.InferRequestedOutput(n, binary_data=False)
                                   for n in ("first", "second")]
    result = triton.infer("two", inputs, request_id="req-7", outputs=outputs)
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_version"] == "1"
    assert all(("parameters" in o) == binary for o in response["outputs"])
    for name in ("first", "second"):
        np.testing.assert_allclose(result.as_numpy(name), expected[name], rtol=RTOL, atol=1e-6)


def test_requested_outputs_only_and_versions(triton, serving_artifacts):
    import tritonclient.http as httpclient

    x = rows(2, 4, seed=7)
    metadata = triton.get_model_metadata("mlp")
    tensor = httpclient.InferInput(metadata["inputs"][0]["name"], [2, 4], "FP32")
    tensor.set_data_from_numpy(x)
    output = metadata["outputs"][0]["name"]
    for version, model in (("1", "mlp1"), ("2", "mlp2"), ("", "mlp2")):
        result = triton.infer("mlp", [tensor], model_version=version,
                              outputs=[httpclient.InferRequestedOutput(output)])
        np.testing.assert_allclose(result.as_numpy(output),
                                   serving_kit.keras_outputs(serving_artifacts.models[model], x),
                                   rtol=RTOL, atol=1e-6)
    a, b = rows(1, 3), rows(1, 5)
    inputs = [httpclient.InferInput("a", [1, 3], "FP32"), httpclient.InferInput("b", [1, 5], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    response = triton.infer("two", inputs, outputs=[httpclient.InferRequestedOutput("second")]).get_response()
    assert [o["name"] for o in response["outputs"]] == ["second"]


def test_bytes_tensors_binary_and_json(triton):
    import tritonclient.http as httpclient

    words = np.array([b"a", b"\xffbc"], dtype=object)
    tensor = httpclient.InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(words)
    result = triton.infer("text", [tensor])
    assert result.as_numpy("length").tolist() == [1, 3]
    assert result.as_numpy("echo_bytes").tolist() == [b"a", b"\xffbc"]
    tensor.set_data_from_numpy(np.array(["hi", "there"], dtype=object), binary_data=False)
    result = triton.infer("text", [tensor], outputs=[httpclient.InferRequestedOutput("length", binary_data=False)])
    assert result.as_numpy("length").tolist() == [2, 5]


def test_nested_json_data_and_the_repository_index(client):
    status, body = client.json("POST", "/v2/models/mlp/versions/1/infer", {
        "inputs": [{"name": "keras_tensor", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2, 3, 4]]}]})
    assert status == 200, body
    assert body["outputs"][0]["shape"] == [1, 3] and len(body["outputs"][0]["data"]) == 3
    status, body = client.json("POST", "/v2/repository/index")
    assert status == 200
    assert {"name": "mlp", "version": "2", "state": "READY", "reason": ""} in body


# Metrics ----


def test_metrics_count_requests_batches_and_models(client):
    client.json("POST", "/v1/models/mlp/versions/2:predict", {"instances": rows(2, 4).tolist()})
    client.json("GET", "/v1/models/nope")
    status, headers, data = client.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = data.decode()
    assert 'kerasexport_requests_total{code="200",model="mlp",protocol="tfserving",version="2"}' in text
    assert 'kerasexport_requests_total{code="404",model="",protocol="tfserving",version=""}' in text
    assert 'kerasexport_batch_size_count{model="mlp",version="2"}' in text
    assert 'kerasexport_request_duration_seconds_bucket{le="0.005",protocol="tfserving"}' in text
    assert "kerasexport_models_loaded 6.0" in text
    assert 'kerasexport_model_versions_loaded{model="mlp"} 2.0' in text
