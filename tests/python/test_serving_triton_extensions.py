"""Triton's extensions over HTTP, read by tritonclient.http: model configuration,
statistics, the repository index, and load/unload. The gRPC side is in
test_serving_grpc.py; both read the same documents."""

import time

import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

tritonhttp = pytest.importorskip("tritonclient.http")

X = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True,
                            max_batch_size=16, max_delay_ms=2) as server:
        yield server


@pytest.fixture(scope="module")
def triton(server):
    client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
    yield client
    client.close()


def infer(triton, model, version, x):
    name = triton.get_model_metadata(model)["inputs"][0]["name"]
    tensor = tritonhttp.InferInput(name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return triton.infer(model, [tensor], model_version=version)


def test_model_config_says_what_the_server_does(triton):
    config = triton.get_model_config("mlp")
    assert config["name"] == "mlp" and config["platform"] == "onnxruntime_onnx"
    assert config["backend"] == "onnxruntime"
    assert config["max_batch_size"] == 16  # --max-batch-size; dims without the batch
    assert [(t["data_type"], t["dims"]) for t in config["input"]] == [("TYPE_FP32", [4])]
    assert [(t["data_type"], t["dims"]) for t in config["output"]] == [("TYPE_FP32", [3])]
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 2000
    assert config["parameters"]["precision"] == {"string_value": "float32"}
    assert triton.get_model_config("mlp", "1")["name"] == "mlp"


def test_a_fixed_batch_is_reported_as_no_batching(triton):
    config = triton.get_model_config("fixed")
    assert config["max_batch_size"] == 0 and "dynamic_batching" not in config
    assert config["input"][0]["dims"] == [2, 4]


def test_text_model_config_names_string_types(triton):
    config = triton.get_model_config("text")
    assert config["platform"] == "tensorflow_savedmodel"
    assert {t["name"]: t["data_type"] for t in config["output"]} == {
        "length": "TYPE_INT32", "echo_bytes": "TYPE_STRING"}


def test_the_config_parses_as_tritons_model_config(triton):
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2

    parsed = json_format.ParseDict(triton.get_model_config("mlp"), model_config_pb2.ModelConfig())
    assert parsed.parameters["precision"].string_value == "float32"


def test_statistics_count_requests_rows_and_runtime_calls(triton):
    def stats():
        return triton.get_inference_statistics("mlp", "1")["model_stats"][0]

    before = stats()
    for _ in range(4):
        infer(triton, "mlp", "1", X)
    after = stats()
    assert after["name"] == "mlp" and after["version"] == "1"
    assert after["inference_stats"]["success"]["count"] == before["inference_stats"]["success"]["count"] + 4
    assert after["inference_count"] == before["inference_count"] + 12
    assert after["execution_count"] >= before["execution_count"] + 1
    assert after["inference_stats"]["success"]["ns"] > before["inference_stats"]["success"]["ns"]
    assert after["inference_stats"]["compute_infer"]["ns"] > before["inference_stats"]["compute_infer"]["ns"]
    assert after["last_inference"] >= int(time.time() * 1000) - 60_000
    assert any(b["batch_size"] == 3 for b in after["batch_stats"])


def test_statistics_of_a_model_and_of_every_model(triton):
    versions = {s["version"] for s in triton.get_inference_statistics("mlp")["model_stats"]}
    assert versions == {"1", "2"}
    everything = {(s["name"], s["version"]) for s in triton.get_inference_statistics()["model_stats"]}
    assert {("mlp", "1"), ("two", "1"), ("text", "1")} <= everything
    with pytest.raises(tritonhttp.InferenceServerException) as caught:
        triton.get_inference_statistics("nope")
    assert "'nope' not found" in caught.value.message()


def test_the_repository_index(triton):
    index = triton.get_model_repository_index()
    assert {"name": "mlp", "version": "2", "state": "READY", "reason": ""} in index


def test_load_and_unload(serving_artifacts, tmp_path):
    import kerasexport

    root = str(tmp_path / "models")
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], root, "mlp", 1)
    with kerasexport.Server(root, port=0, poll_seconds=0.1, quiet=True) as server:
        client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
        client.unload_model("mlp")
        time.sleep(0.5)  # polls find the version on disk and leave it unloaded
        assert not client.is_model_ready("mlp")
        assert {"name": "mlp", "version": "", "state": "UNAVAILABLE", "reason": "unloaded"} in \
            client.get_model_repository_index()
        status, body = serving_kit.Client(server.url).json("POST", "/v1/models/mlp:predict",
                                                           {"instances": X.tolist()})
        assert status == 404 and "unloaded" in body["error"]
        client.load_model("mlp")
        assert client.is_model_ready("mlp")
        assert infer(client, "mlp", "", X).as_numpy(
            client.get_model_metadata("mlp")["outputs"][0]["name"]).shape == (3, 3)
        with pytest.raises(tritonhttp.InferenceServerException):
            client.unload_model("nope")
        client.close()
