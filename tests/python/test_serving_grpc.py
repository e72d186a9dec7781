"""gRPC with the official clients: tritonclient.grpc (KServe v2 / Triton) and
TF-Serving's generated stubs, on one port beside HTTP. Metadata, inference
(raw and typed tensors, named inputs and outputs, versions), Triton's
configuration, statistics and repository extensions, every bad call as its
status code with the HTTP message, the token, the size limit, and a hot
reload under 16 client threads without a failed call."""

import os
import threading
import time

import grpc
import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

tritongrpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402

tfs_apis = pytest.importorskip("tensorflow_serving.apis")
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,  # noqa: E402
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

TOKEN = "grpc-secret"
X = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
Code = grpc.StatusCode


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, max_batch_size=8) as server:
        yield server


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_address) as channel:
        yield channel


@pytest.fixture(scope="module")
def triton(server):
    client = tritongrpc.InferenceServerClient(server.grpc_address)
    yield client
    client.close()


@pytest.fixture(scope="module")
def kserve_stub(channel):
    return service_pb2_grpc.GRPCInferenceServiceStub(channel)


@pytest.fixture(scope="module")
def predict_stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def expected(serving_artifacts, version, x=X):
    return serving_kit.keras_outputs(serving_artifacts.models[f"mlp{version}"], x)


def infer_input(name, array, datatype="FP32"):
    tensor = tritongrpc.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def input_name(triton, model="mlp"):
    return triton.get_model_metadata(model).inputs[0].name


def tensor_proto(array):
    import tensorflow as tf

    return tf.make_tensor_proto(array)


# Health and metadata ----


def test_the_start_lines_name_both_ports(server):
    lines = server.describe().splitlines()
    assert lines[0] == f"Serving on {server.url}"
    assert lines[-1] == f"gRPC on {server.grpc_address} (KServe v2 and TF-Serving)"


def test_server_health_and_metadata(triton):
    assert triton.is_server_live() and triton.is_server_ready()
    metadata = triton.get_server_metadata(as_json=True)
    assert metadata["name"] == "kerasexport"
    assert {"model_configuration", "statistics", "model_repository"} <= set(metadata["extensions"])


def test_model_metadata_and_readiness(triton):
    metadata = triton.get_model_metadata("mlp", as_json=True)
    assert metadata["versions"] == ["1", "2"] and metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"][0]["datatype"] == "FP32" and metadata["inputs"][0]["shape"] == ["-1", "4"]
    assert triton.is_model_ready("mlp") and triton.is_model_ready("mlp", "1")
    assert not triton.is_model_ready("mlp", "9") and not triton.is_model_ready("nope")


# Inference ----


def test_infer_with_raw_tensors_and_versions(triton, serving_artifacts):
    name = input_name(triton)
    for version, answered in (("", 2), ("1", 1), ("2", 2)):
        result = triton.infer("mlp", [infer_input(name, X)], model_version=version, request_id="r-7")
        response = result.get_response()
        assert response.model_version == str(answered) and response.id == "r-7"
        np.testing.assert_allclose(result.as_numpy(response.outputs[0].name),
                                   expected(serving_artifacts, answered), rtol=1e-5, atol=1e-6)


def test_infer_with_typed_contents(kserve_stub, triton, serving_artifacts):
    request = service_pb2.ModelInferRequest(model_name="mlp", model_version="1", id="typed")
    tensor = request.inputs.add(name=input_name(triton), datatype="FP32", shape=[2, 4])
    tensor.contents.fp32_contents.extend(X.ravel().tolist())
    response = kserve_stub.ModelInfer(request, timeout=30)
    assert response.id == "typed" and response.model_version == "1"
    out = np.frombuffer(response.raw_output_contents[0], "<f4").reshape(list(response.outputs[0].shape))
    np.testing.assert_allclose(out, expected(serving_artifacts, 1), rtol=1e-5, atol=1e-6)


def test_named_inputs_and_a_requested_output(triton, serving_artifacts):
    a = np.arange(6, dtype="float32").reshape(2, 3)
    b = np.arange(10, dtype="float32").reshape(2, 5)
    want = serving_kit.keras_outputs(serving_artifacts.models["two"], {"a": a, "b": b})
    result = triton.infer("two", [infer_input("b", b), infer_input("a", a)],
                          outputs=[tritongrpc.InferRequestedOutput("second")])
    assert [o.name for o in result.get_response().outputs] == ["second"]
    np.testing.assert_allclose(result.as_numpy("second"), want["second"], rtol=1e-5, atol=1e-6)
    both = triton.infer("two", [infer_input("a", a), infer_input("b", b)])
    np.testing.assert_allclose(both.as_numpy("first"), want["first"], rtol=1e-5, atol=1e-6)


def test_strings_travel_as_bytes(triton):
    text = np.array([b"ab", b"", "héllo".encode()], dtype=object)
    result = triton.infer("text", [infer_input("text", text, "BYTES")])
    assert result.as_numpy("length").tolist() == [2, 0, 6]
    assert result.as_numpy("echo_bytes").tolist() == text.tolist()


def test_a_request_larger_than_a_batch_runs_alone(triton, serving_artifacts):
    x = np.linspace(-2, 2, 40 * 4, dtype="float32").reshape(40, 4)  # max_batch_size is 8
    before = triton.get_inference_statistics("mlp", "1", as_json=True)["model_stats"][0]
    result = triton.infer("mlp", [infer_input(input_name(triton), x)], model_version="1")
    np.testing.assert_allclose(result.as_numpy(result.get_response().outputs[0].name),
                               expected(serving_artifacts, 1, x), rtol=1e-5, atol=1e-6)
    after = triton.get_inference_statistics("mlp", "1", as_json=True)["model_stats"][0]
    sizes = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in after.get("batch_stats", [])}
    earlier = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in before.get("batch_stats", [])}
    assert sizes[40] == earlier.get(40, 0) + 1


# TF-Serving ----


def test_predict_by_version_and_signature(predict_stub, serving_artifacts):
    import tensorflow as tf

    for version, answered in ((None, 2), (1, 1)):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "mlp"
        request.model_spec.signature_name = "serving_default"
        if version is not None:
            request.model_spec.version.value = version
        request.inputs["x"].CopyFrom(tensor_proto(X))  # its one input, under any name
        response = predict_stub.Predict(request, timeout=30)
        assert response.model_spec.version.value == answered
        (name, out), = response.outputs.items()
        np.testing.assert_allclose(tf.make_ndarray(out), expected(serving_artifacts, answered),
                                   rtol=1e-5, atol=1e-6)


def test_predict_with_an_output_filter_and_strings(predict_stub):
    import tensorflow as tf

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "text"
    request.inputs["text"].CopyFrom(tensor_proto(np.array([b"abc", b"de"])))
    request.output_filter.append("length")
    response = predict_stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["length"]
    assert tf.make_ndarray(response.outputs["length"]).tolist() == [3, 2]


def test_get_model_metadata_lists_the_signatures(predict_stub):
    import tensorflow as tf

    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "two"
    request.metadata_field.append("signature_def")
    response = predict_stub.GetModelMetadata(request, timeout=30)
    assert response.model_spec.name == "two" and response.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    signature = next(iter(signatures.signature_def.values()))
    assert sorted(signature.inputs) == ["a", "b"] and sorted(signature.outputs) == ["first", "second"]
    assert signature.inputs["a"].dtype == tf.float32.as_datatype_enum
    assert [d.size for d in signature.inputs["b"].tensor_shape.dim] == [-1, 5]
    assert signature.method_name == "tensorflow/serving/predict"


def test_get_model_status(channel):
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "mlp"
    response = stub.GetModelStatus(request, timeout=30)
    states = get_model_status_pb2.ModelVersionStatus.State
    assert [(s.version, s.state) for s in response.model_version_status] == [
        (2, states.Value("AVAILABLE")), (1, states.Value("AVAILABLE"))]
    request.model_spec.version.value = 9
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetModelStatus(request, timeout=30)
    assert caught.value.code() == Code.NOT_FOUND and "Version 9" in caught.value.details()


# Bad calls: the HTTP table's cases as status codes, with the same words ----


def _infer(model="mlp", version="", inputs=(), outputs=(), raw=None, id=""):
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version, id=id)
    for name, datatype, shape, values in inputs:
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
        if values is not None:
            field = {"FP32": "fp32_contents", "BYTES": "bytes_contents"}.get(datatype, "fp32_contents")
            getattr(tensor.contents, field).extend(values)
    for name in outputs:
        request.outputs.add(name=name)
    if raw is not None:
        request.raw_input_contents.extend(raw)
    return ("kserve", request)


def _predict(model="mlp", version=None, signature="", inputs=None, output_filter=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, array in (inputs if inputs is not None else {"x": np.ones((1, 4), "float32")}).items():
        request.inputs[name].CopyFrom(tensor_proto(array))
    request.output_filter.extend(output_filter)
    return ("predict", request)


ROW = [1.0, 2.0, 3.0, 4.0]
ONES_3 = np.ones((1, 3), "float32")
ONES_5 = np.ones((1, 5), "float32")

# (id, call, status code, words the message must contain: those of the HTTP table)
CASES = [
    ("unknown datatype", _infer(inputs=[("x", "FP33", [1, 4], None)]), Code.INVALID_ARGUMENT,
     ["unknown datatype 'FP33'"]),
    ("no inputs", _infer(), Code.INVALID_ARGUMENT, ["\"inputs\" must be a non-empty list"]),
    ("input without data", _infer(inputs=[("x", "FP32", [1, 4], None)]), Code.INVALID_ARGUMENT,
     ["neither \"data\""]),
    ("negative shape", _infer(inputs=[("x", "FP32", [-1, 4], ROW)]), Code.INVALID_ARGUMENT,
     ["non-negative"]),
    ("shape and data disagree", _infer(inputs=[("x", "FP32", [2, 4], ROW)]), Code.INVALID_ARGUMENT,
     ["4 values", "needs 8"]),
    ("raw size and shape disagree", _infer(inputs=[("x", "FP32", [1, 4], None)], raw=[b"\0" * 8]),
     Code.INVALID_ARGUMENT, ["8 bytes of FP32", "needs 16"]),
    ("raw entries and inputs disagree", _infer(inputs=[("x", "FP32", [1, 4], None)], raw=[b"", b""]),
     Code.INVALID_ARGUMENT, ["2 entries", "1 inputs"]),
    ("wrong rank", _infer(inputs=[("x", "FP32", [4], ROW)]), Code.INVALID_ARGUMENT, ["rank"]),
    ("wrong fixed dimension", _infer(inputs=[("x", "FP32", [1, 3], ROW[:3])]), Code.INVALID_ARGUMENT,
     ["(None, 4)", "(1, 3)"]),
    ("unknown input", _infer("two", inputs=[("a", "FP32", [1, 3], [1] * 3), ("b", "FP32", [1, 5], [1] * 5),
                                            ("z", "FP32", [1, 1], [1])]),
     Code.INVALID_ARGUMENT, ["unexpected ['z']"]),
    ("missing input", _infer("two", inputs=[("a", "FP32", [1, 3], [1] * 3)]), Code.INVALID_ARGUMENT,
     ["missing ['b']"]),
    ("input twice", _infer("two", inputs=[("a", "FP32", [1, 3], [1] * 3)] * 2), Code.INVALID_ARGUMENT,
     ["twice"]),
    ("unknown output", _infer("two", inputs=[("a", "FP32", [1, 3], [1] * 3), ("b", "FP32", [1, 5], [1] * 5)],
                              outputs=["third"]), Code.INVALID_ARGUMENT, ["'third'", "first"]),
    ("numbers for a string input", _infer("text", inputs=[("text", "FP32", [2], [1.0, 2.0])]),
     Code.INVALID_ARGUMENT, ["'text'", "string", "float32"]),
    ("unknown model", _infer("nope", inputs=[("x", "FP32", [1, 4], ROW)]), Code.NOT_FOUND,
     ["'nope' not found"]),
    ("unknown version", _infer(version="9", inputs=[("x", "FP32", [1, 4], ROW)]), Code.NOT_FOUND,
     ["Version 9", "Available versions: [1, 2]"]),
    ("version not a number", _infer(version="x1", inputs=[("x", "FP32", [1, 4], ROW)]),
     Code.INVALID_ARGUMENT, ["positive whole number"]),
    ("version zero", _infer(version="0", inputs=[("x", "FP32", [1, 4], ROW)]), Code.INVALID_ARGUMENT,
     ["positive whole number"]),
    ("dot-dot model name", _infer("..", inputs=[("x", "FP32", [1, 4], ROW)]), Code.NOT_FOUND,
     ["'..' not found"]),
    ("runtime failure", _infer("picky", inputs=[("x", "FP32", [1, 2], [-1.0, 2.0])]), Code.INTERNAL,
     ["runtime failed", "negative input"]),
    ("tfs unknown signature", _predict(signature="nope"), Code.NOT_FOUND, ["'nope'", "Available"]),
    ("tfs unknown model", _predict("nope"), Code.NOT_FOUND, ["'nope' not found"]),
    ("tfs unknown version", _predict(version=9), Code.NOT_FOUND, ["Version 9", "Available versions: [1, 2]"]),
    ("tfs version zero", _predict(version=0), Code.INVALID_ARGUMENT, ["positive whole number"]),
    ("tfs no inputs", _predict(inputs={}), Code.INVALID_ARGUMENT, ["no inputs"]),
    ("tfs wrong rank", _predict(inputs={"x": np.ones(4, "float32")}), Code.INVALID_ARGUMENT, ["rank"]),
    ("tfs wrong fixed dimension", _predict(inputs={"x": np.ones((1, 3), "float32")}), Code.INVALID_ARGUMENT,
     ["(None, 4)", "(1, 3)"]),
    ("tfs strings for a numeric input", _predict(inputs={"x": np.array([[b"a", b"b", b"c", b"d"]])}),
     Code.INVALID_ARGUMENT, ["float32", "strings"]),
    ("tfs missing input", _predict("two", inputs={"a": ONES_3}), Code.INVALID_ARGUMENT, ["missing ['b']"]),
    ("tfs unknown input", _predict("two", inputs={"a": ONES_3, "b": ONES_5, "c": ONES_3}),
     Code.INVALID_ARGUMENT, ["unexpected ['c']"]),
    ("tfs unknown output", _predict(output_filter=["nope"]), Code.INVALID_ARGUMENT, ["'nope'", "Available"]),
    ("tfs runtime failure", _predict("picky", inputs={"x": np.array([[-1.0, 2.0]], "float32")}),
     Code.INTERNAL, ["runtime failed", "negative input"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_calls_get_their_status_code_and_message(kserve_stub, predict_stub, triton, serving_artifacts,
                                                     case):
    _, (service, request), code, words = case
    call = kserve_stub.ModelInfer if service == "kserve" else predict_stub.Predict
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    assert caught.value.code() == code, caught.value.details()
    message = caught.value.details()
    for word in words:
        assert word in message
    assert "Traceback" not in message and serving_artifacts.root not in message
    assert triton.is_server_live()


def test_the_http_and_grpc_messages_are_the_same(server, kserve_stub):
    client = serving_kit.Client(server.url)
    status, body = client.json("POST", "/v2/models/mlp/versions/9/infer", {
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ROW}]})
    client.close()
    _, request = _infer(version="9", inputs=[("x", "FP32", [1, 4], ROW)])
    with pytest.raises(grpc.RpcError) as caught:
        kserve_stub.ModelInfer(request, timeout=30)
    assert status == 404 and caught.value.details() == body["error"]


# Token and size limit ----


@pytest.fixture(scope="module")
def guarded(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, token=TOKEN, max_body_mb=0.01) as server:
        client = tritongrpc.InferenceServerClient(server.grpc_address)
        yield server, client
        client.close()


@pytest.mark.parametrize("headers, what", [(None, "no Authorization header"),
                                           ({"authorization": "Bearer wrong"}, "a wrong token")])
def test_every_call_but_health_needs_the_token(guarded, headers, what):
    server, client = guarded
    assert client.is_server_live(headers=headers) and client.is_server_ready(headers=headers)
    for call in (lambda: client.get_model_metadata("model", headers=headers),
                 lambda: client.infer("model", [infer_input("x", X)], headers=headers),
                 lambda: client.get_model_config("model", headers=headers),
                 lambda: client.get_inference_statistics("model", headers=headers),
                 lambda: client.get_model_repository_index(headers=headers),
                 lambda: client.unload_model("model", headers=headers)):
        with pytest.raises(tritongrpc.InferenceServerException) as caught:
            call()
        assert caught.value.status() == "StatusCode.UNAUTHENTICATED"
        assert what in caught.value.message() and "Bearer" in caught.value.message()
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        _, request = _predict("model")
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=30, metadata=tuple((headers or {}).items()))
        assert caught.value.code() == Code.UNAUTHENTICATED
        assert stub.Predict(request, timeout=30, metadata=(("authorization", f"Bearer {TOKEN}"),)).outputs


def test_the_right_token_opens_every_call(guarded):
    _, client = guarded
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert client.is_model_ready("model", headers=headers)
    result = client.infer("model", [infer_input("x", X)], headers=headers)
    assert result.as_numpy(result.get_response().outputs[0].name).shape == (2, 3)
    assert client.get_model_config("model", headers=headers).config.max_batch_size == 32


def test_a_message_over_the_limit_is_resource_exhausted(guarded):
    _, client = guarded
    big = np.ones((1000, 4), "float32")  # 16 kB of tensor; the limit is 10485 bytes
    with pytest.raises(tritongrpc.InferenceServerException) as caught:
        client.infer("model", [infer_input("x", big)], headers={"authorization": f"Bearer {TOKEN}"})
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert "this server accepts at most 10485 (--max-body-mb)" in caught.value.message()


# Repository load and unload; hot reload under load ----


def test_an_explicit_unload_holds_until_an_explicit_load(serving_artifacts, tmp_path):
    import kerasexport

    root = str(tmp_path / "models")
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], root, "mlp", 1)
    serving_kit.copy_version(serving_artifacts.onnx["two"], root, "two", 1)
    with kerasexport.Server(root, port=0, grpc_port=serving_kit.free_port(), poll_seconds=0.1,
                            quiet=True) as server:
        client = tritongrpc.InferenceServerClient(server.grpc_address)
        client.unload_model("mlp")
        assert not client.is_model_ready("mlp") and client.is_model_ready("two")
        assert client.is_server_ready()  # an unloaded model is the operator's choice
        serving_kit.copy_version(serving_artifacts.onnx["mlp2"], root, "mlp", 2)
        time.sleep(1.0)  # ten polls: they find versions 1 and 2 and leave them alone
        assert not client.is_model_ready("mlp")
        with pytest.raises(tritongrpc.InferenceServerException) as caught:
            client.infer("mlp", [infer_input("x", X)])
        assert caught.value.status() == "StatusCode.NOT_FOUND" and "unloaded" in caught.value.message()
        index = client.get_model_repository_index(as_json=True)["models"]
        assert {"name": "mlp", "state": "UNAVAILABLE", "reason": "unloaded"} in index
        client.load_model("mlp")
        assert client.is_model_ready("mlp", "1") and client.is_model_ready("mlp", "2")
        result = client.infer("mlp", [infer_input("x", X)])
        assert result.get_response().model_version == "2"
        with pytest.raises(tritongrpc.InferenceServerException) as caught:
            client.load_model("nope")
        assert caught.value.status() == "StatusCode.NOT_FOUND"
        client.close()


def test_versions_swap_under_16_grpc_clients_without_a_failed_call(serving_artifacts, tmp_path):
    import kerasexport

    root = str(tmp_path / "models")
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], root, "mlp", 1)
    outputs = {v: expected(serving_artifacts, v) for v in (1, 2)}
    results, lock, stop = [], threading.Lock(), threading.Event()
    deadline = time.monotonic() + 60

    def client_thread(address, name):
        client = tritongrpc.InferenceServerClient(address)
        for _ in range(250):
            if stop.is_set() or time.monotonic() > deadline:
                break
            try:
                result = client.infer("mlp", [infer_input(name, X)], client_timeout=30)
                answer = (result.get_response().model_version,
                          result.as_numpy(result.get_response().outputs[0].name))
            except tritongrpc.InferenceServerException as exc:
                answer = ("failed", exc.message())
            with lock:
                results.append(answer)
        client.close()

    def answered_by(version):
        with lock:
            latest = results[-8:]
        return len(latest) == 8 and all(v == str(version) and np.allclose(out, outputs[version], atol=1e-5)
                                        for v, out in latest)

    with kerasexport.Server(root, port=0, grpc_port=serving_kit.free_port(), poll_seconds=0.2,
                            quiet=True) as server:
        name = tritongrpc.InferenceServerClient(server.grpc_address).get_model_metadata("mlp").inputs[0].name
        threads = [threading.Thread(target=client_thread, args=(server.grpc_address, name))
                   for _ in range(16)]
        for t in threads:
            t.start()
        try:
            serving_kit.wait_for(lambda: answered_by(1), seconds=20)
            serving_kit.copy_version(serving_artifacts.onnx["mlp2"], root, "mlp", 2)
            serving_kit.wait_for(lambda: answered_by(2), seconds=20)
            os.rename(os.path.join(root, "mlp", "2"), os.path.join(root, "mlp", ".removed-2"))
            serving_kit.wait_for(lambda: answered_by(1), seconds=20)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
    failures = [out for version, out in results if version == "failed"]
    assert len(results) > 100 and not failures, failures[:3]


# The command line ----


def test_kerasexport_serve_grpc_port_answers_and_stops_on_sigterm(serving_artifacts):
    import signal
    import socket
    import subprocess

    from test_serve_command import command

    port = serving_kit.free_port()
    process = subprocess.Popen([*command(), "serve", serving_artifacts.onnx["mlp1"], "--port", "0",
                                "--grpc-port", str(port), "--quiet", "--max-delay-ms", "1500"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline().rstrip("\n") for _ in range(4)]
        assert lines[0].startswith("Serving on http://127.0.0.1:") and lines[1].startswith("Page: http://")
        assert lines[2] == "  model: version 1"
        assert lines[3] == f"gRPC on 127.0.0.1:{port} (KServe v2 and TF-Serving)"
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        result = client.infer("model", [infer_input("x", X)])
        assert result.as_numpy(result.get_response().outputs[0].name).shape == (2, 3)
        client.close()
        # The port is taken: a second server says so in one line and exits 1.
        second = subprocess.run([*command(), "serve", serving_artifacts.onnx["mlp1"], "--port", "0",
                                 "--grpc-port", str(port)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, second.stderr
        errors = [line for line in second.stderr.splitlines()
                  if line.startswith(("error", "E1", "E0", "Traceback"))]
        assert errors == [f"error: Cannot listen for gRPC on 127.0.0.1:{port}: the port is in use or the "
                          "address is not available. Pick another --grpc-port (0 turns gRPC off)."]
        # A call in flight (waiting 1.5 s for company) when SIGTERM comes is answered.
        client = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        late = tritongrpc.InferenceServerClient(f"127.0.0.1:{port}")
        assert late.is_server_live()  # its channel is connected before the signal
        answers = []
        caller = threading.Thread(target=lambda: answers.append(client.infer("model", [infer_input("x", X)])))
        caller.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        # While it finishes, a new call on an open channel is refused UNAVAILABLE (retryable),
        # with the reason.
        time.sleep(0.3)
        with pytest.raises(tritongrpc.InferenceServerException) as caught:
            late.infer("model", [infer_input("x", X)])
        late.close()
        assert caught.value.status() == "StatusCode.UNAVAILABLE"
        assert "shutting down" in caught.value.message()
        assert caller.is_alive()  # the call in flight was still waiting for company
        caller.join(30)
        assert len(answers) == 1 and answers[0].as_numpy(answers[0].get_response().outputs[0].name).shape == (2, 3)
        client.close()
        assert process.wait(30) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()


def _seconds_to_run_together(threads, timeout=30):
    """Start `threads` at once and wait for them all (each at most `timeout` s); the seconds it took."""
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return time.monotonic() - start


def test_http_and_grpc_requests_share_one_batch(serving_artifacts):
    import kerasexport
    import tritonclient.http as tritonhttp

    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, max_batch_size=2, max_delay_ms=2000) as server:
        grpc_client = tritongrpc.InferenceServerClient(server.grpc_address)
        http_client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
        row = X[:1]
        http_input = tritonhttp.InferInput("x", [1, 4], "FP32")
        http_input.set_data_from_numpy(row)
        answers = {}
        threads = [threading.Thread(target=lambda: answers.setdefault(
                       "grpc", grpc_client.infer("model", [infer_input("x", row)]))),
                   threading.Thread(target=lambda: answers.setdefault(
                       "http", http_client.infer("model", [http_input])))]
        # Two rows fill the batch: it runs at once, well before the 2 s delay.
        assert _seconds_to_run_together(threads) < 1.5
        stats = grpc_client.get_inference_statistics("model", as_json=True)["model_stats"][0]
        assert int(stats["execution_count"]) == 1 and int(stats["inference_count"]) == 2
        assert [int(b["batch_size"]) for b in stats["batch_stats"]] == [2]
        want = expected(serving_artifacts, 1, row)
        np.testing.assert_allclose(answers["grpc"].as_numpy(answers["grpc"].get_response().outputs[0].name),
                                   want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(answers["http"].as_numpy(
            answers["http"].get_response()["outputs"][0]["name"]), want, rtol=1e-5, atol=1e-6)
        grpc_client.close()
        http_client.close()


def _one_batch_of_callers(server, model, callers, serving_artifacts):
    """Send `callers` one-row gRPC calls at once; assert each answer; the seconds and executions."""
    client = tritongrpc.InferenceServerClient(server.grpc_address)
    rows = [np.full((1, 4), i / callers, "float32") for i in range(callers)]
    answers = [None] * callers

    def call(i):
        result = client.infer(model, [infer_input("x", rows[i])], client_timeout=20)
        answers[i] = result.as_numpy(result.get_response().outputs[0].name)

    seconds = _seconds_to_run_together([threading.Thread(target=call, args=(i,)) for i in range(callers)])
    for row, answer in zip(rows, answers):
        np.testing.assert_allclose(answer, expected(serving_artifacts, 1, row), rtol=1e-5, atol=1e-6)
    stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    client.close()
    assert int(stats["inference_count"]) == callers
    return seconds, int(stats["execution_count"])


def test_grpc_calls_that_arrive_together_merge_even_beyond_the_worker_threads(serving_artifacts):
    # More callers than grpcio's worker threads: every call is answered, the ones that
    # arrived together ran as full batches, and only the last one waited out the delay.
    import kerasexport
    from kerasexport.serving.grpc import WORKER_THREADS

    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, max_batch_size=8, max_delay_ms=1000) as server:
        seconds, executions = _one_batch_of_callers(server, "model", WORKER_THREADS + 4, serving_artifacts)
    assert seconds < 10 and executions <= 3  # 8, 8, then the last 4 after the delay


def test_grpc_workers_grow_for_batches_that_wait_for_their_rows():
    # A batch with a delay waits for its rows: with fewer calls in flight than rows
    # it could never fill. Without a delay batches take what is there, and fewer
    # threads answer more calls.
    from kerasexport.serving.grpc import WORKER_THREADS, Workers

    workers = Workers()
    try:
        workers.fit(WORKER_THREADS * 4, 0)
        assert workers.size == WORKER_THREADS
        workers.fit(WORKER_THREADS * 4, 2)
        workers.fit(8, 2)  # a smaller version loaded later takes no thread away
        assert workers.size == WORKER_THREADS * 4
        together = threading.Barrier(WORKER_THREADS * 4, timeout=20)
        # Each task waits for all the others: this only ends if the pool runs them all at once.
        done = [workers.submit(together.wait) for _ in range(WORKER_THREADS * 4)]
        assert sorted(f.result(timeout=30) for f in done) == list(range(WORKER_THREADS * 4))
    finally:
        workers.shutdown(wait=False)


def test_grpc_fills_a_batch_larger_than_the_default_threads_before_its_delay(serving_artifacts):
    import kerasexport
    from kerasexport.serving.grpc import WORKER_THREADS

    rows = WORKER_THREADS + 8
    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, max_batch_size=rows, max_delay_ms=8000) as server:
        seconds, executions = _one_batch_of_callers(server, "model", rows, serving_artifacts)
    # With only WORKER_THREADS calls in flight, the batch would wait out its 8 s.
    assert executions == 1 and seconds < 6


def test_grpc_workers_follow_a_triton_configs_batching(serving_artifacts, tmp_path):
    import kerasexport
    from kerasexport.serving.grpc import WORKER_THREADS

    rows = WORKER_THREADS + 8
    out = str(tmp_path / "models")
    kerasexport.write_repository(serving_artifacts.onnx["mlp1"], out, engine="triton",
                                 max_batch_size=rows, max_queue_delay_us=8_000_000)
    # The server's own settings batch without a delay; the model's config.pbtxt waits 8 s.
    with kerasexport.Server(out, port=0, grpc_port=serving_kit.free_port(), poll_seconds=0,
                            quiet=True) as server:
        seconds, executions = _one_batch_of_callers(server, "model", rows, serving_artifacts)
    assert executions == 1 and seconds < 6


def _import_in_fresh_python(environment):
    """(stdout, stderr) of a new Python that imports the gRPC server, then grpcio."""
    import subprocess
    import sys

    import kerasexport

    code = ("import os, kerasexport.serving.grpc, grpc; "
            "print(os.environ.get('GRPC_EXPERIMENTS', '<unset>'))")
    env = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    env.update(environment)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(kerasexport.__file__)))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip(), done.stderr


def test_grpc_is_imported_with_its_posix_tcp_experiments_which_the_pinned_grpcio_knows():
    shown, stderr = _import_in_fresh_python({})
    assert "Unknown experiment" not in stderr  # grpcio names each experiment it does not know
    assert shown == "<unset>"  # set for grpcio's import only, not left for later processes


def test_an_operators_own_grpc_experiments_win():
    shown, stderr = _import_in_fresh_python({"GRPC_EXPERIMENTS": "no_such_experiment"})
    assert shown == "no_such_experiment"
    assert "Unknown experiment: no_such_experiment" in stderr  # it reached grpcio, ours did not
