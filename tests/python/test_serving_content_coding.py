"""Compressed bodies (serving/content_coding.py): tritonclient's request and
response compression over HTTP (gzip, deflate) and gRPC, TF-Serving REST with
gzip, Accept-Encoding's weights, and the refusals: a coding the server does
not read (415), a body that is not what it says (400), one that inflates past
--max-body-mb (413, over gRPC RESOURCE_EXHAUSTED)."""

import gzip
import http.client
import urllib.request
import zlib

import grpc
import numpy as np
import orjson
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

tritonhttp = pytest.importorskip("tritonclient.http")
tritongrpc = pytest.importorskip("tritonclient.grpc")

X = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
LIMIT_MB = 1


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, grpc_port=serving_kit.free_port(),
                            poll_seconds=0, quiet=True, max_body_mb=LIMIT_MB) as server:
        yield server


@pytest.fixture(scope="module")
def expected(serving_artifacts):
    return serving_kit.keras_outputs(serving_artifacts.models["mlp1"], X)


def _post(server, path, body, headers, chunked=False):
    """(status, headers as a dict of lower-case names, raw body) of one POST."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        if chunked:  # no Content-Length: the request goes through the ASGI path
            connection.request("POST", path, body=iter([body[:7], body[7:]]), headers=headers,
                               encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _v2_body(x=X):
    return orjson.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                                     "data": x.ravel().tolist()}]})


def _v2_outputs(content):
    output = orjson.loads(content)["outputs"][0]
    return np.asarray(output["data"], "float32").reshape(output["shape"])


def _input_name(client):
    metadata = client.get_model_metadata("mlp")
    return metadata["inputs"][0]["name"] if isinstance(metadata, dict) else metadata.inputs[0].name


# tritonclient, as its users ask for compression ----


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("request_coding, response_coding",
                         [("gzip", None), ("deflate", None), (None, "gzip"), (None, "deflate"),
                          ("gzip", "gzip"), ("deflate", "gzip")])
def test_tritonclient_http_compression(server, expected, binary, request_coding, response_coding):
    client = tritonhttp.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        tensor = tritonhttp.InferInput(_input_name(client), list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=binary)
        outputs = [tritonhttp.InferRequestedOutput(client.get_model_metadata("mlp")["outputs"][0]["name"],
                                                   binary_data=binary)]
        result = client.infer("mlp", [tensor], model_version="1", outputs=outputs,
                              request_compression_algorithm=request_coding,
                              response_compression_algorithm=response_coding)
        np.testing.assert_allclose(result.as_numpy(outputs[0].name()), expected, rtol=1e-5, atol=1e-6)
    finally:
        client.close()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_tritonclient_grpc_compression(server, expected, algorithm):
    client = tritongrpc.InferenceServerClient(server.grpc_address)
    try:
        tensor = tritongrpc.InferInput(_input_name(client), list(X.shape), "FP32")
        tensor.set_data_from_numpy(X)
        result = client.infer("mlp", [tensor], model_version="1", compression_algorithm=algorithm)
        name = client.get_model_metadata("mlp").outputs[0].name
        np.testing.assert_allclose(result.as_numpy(name), expected, rtol=1e-5, atol=1e-6)
    finally:
        client.close()


def test_tfserving_grpc_predict_with_gzip(server, expected):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mlp"
    request.model_spec.version.value = 1
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(X))
    with grpc.insecure_channel(server.grpc_address, compression=grpc.Compression.Gzip) as channel:
        reply = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    (output,) = reply.outputs.values()
    np.testing.assert_allclose(tf.make_ndarray(output), expected, rtol=1e-5, atol=1e-6)


def test_a_grpc_message_that_inflates_past_the_limit_is_resource_exhausted(server):
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    zeros = np.zeros((LIMIT_MB * 2**20 // 16 + 1, 4), "float32")  # over the limit, compresses to little
    request = service_pb2.ModelInferRequest(model_name="mlp", model_version="1")
    request.inputs.add(name="x", datatype="FP32", shape=list(zeros.shape))
    request.raw_input_contents.append(zeros.tobytes())
    assert len(gzip.compress(request.SerializeToString())) < LIMIT_MB * 2**20 // 10
    with grpc.insecure_channel(server.grpc_address, compression=grpc.Compression.Gzip) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-body-mb" in failure.value.details()


# What goes over the wire ----


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw deflate, as some clients send it
    ("identity", lambda body: body),
    ("gzip, deflate", lambda body: zlib.compress(gzip.compress(body))),  # applied in order
])
def test_a_compressed_v2_body_is_read(server, expected, coding, compress, chunked):
    status, _, content = _post(server, "/v2/models/mlp/versions/1/infer", compress(_v2_body()),
                               {"Content-Type": "application/json", "Content-Encoding": coding},
                               chunked=chunked)
    assert status == 200, content
    np.testing.assert_allclose(_v2_outputs(content), expected, rtol=1e-5, atol=1e-6)


def test_a_gzip_body_of_several_members_is_read_whole(server, expected):
    body = _v2_body()
    status, _, content = _post(server, "/v2/models/mlp/versions/1/infer",
                               gzip.compress(body[:20]) + gzip.compress(body[20:]),
                               {"Content-Encoding": "gzip"})
    assert status == 200, content
    np.testing.assert_allclose(_v2_outputs(content), expected, rtol=1e-5, atol=1e-6)


def test_tfserving_rest_reads_and_answers_gzip_through_urllib(server, expected):
    body = gzip.compress(orjson.dumps({"instances": X.tolist()}))
    request = urllib.request.Request(f"{server.url}/v1/models/mlp/versions/1:predict", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        raw = response.read()
    assert int(response.headers["Content-Length"]) == len(raw)
    predictions = np.asarray(orjson.loads(gzip.decompress(raw))["predictions"], "float32")
    np.testing.assert_allclose(predictions, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("accept, coding", [
    ("gzip", "gzip"), ("deflate", "deflate"), ("deflate, gzip", "gzip"), ("gzip;q=0.5, deflate", "deflate"),
    ("br, zstd", None), ("*", "gzip"), ("*;q=0, identity", None), ("identity", None),
    ("gzip;q=0", None), ("gzip;q=0.5", "gzip"), ("gzip;q=0.4, identity;q=0.9", None), ("GZIP; Q=1", "gzip"), ("", None),
])
def test_accept_encoding_weights_pick_the_answer_coding(server, expected, accept, coding):
    status, headers, content = _post(server, "/v2/models/mlp/versions/1/infer", _v2_body(),
                                     {"Accept-Encoding": accept})
    assert status == 200
    assert headers.get("content-encoding") == coding
    assert int(headers["content-length"]) == len(content)
    plain = {"gzip": gzip.decompress, "deflate": zlib.decompress, None: lambda c: c}[coding](content)
    np.testing.assert_allclose(_v2_outputs(plain), expected, rtol=1e-5, atol=1e-6)


def test_binary_answers_keep_the_json_length_of_the_inflated_body(server, expected):
    name = orjson.loads(_get(server, "/v2/models/mlp/versions/1"))["outputs"][0]["name"]
    request = orjson.loads(_v2_body())
    request["outputs"] = [{"name": name, "parameters": {"binary_data": True}}]
    status, headers, content = _post(server, "/v2/models/mlp/versions/1/infer", orjson.dumps(request),
                                     {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    plain = gzip.decompress(content)
    length = int(headers["inference-header-content-length"])
    assert orjson.loads(plain[:length])["outputs"][0]["parameters"]["binary_data_size"] == expected.nbytes
    np.testing.assert_allclose(np.frombuffer(plain[length:], "float32").reshape(expected.shape), expected,
                               rtol=1e-5, atol=1e-6)


def _get(server, path):
    with urllib.request.urlopen(f"{server.url}{path}", timeout=30) as response:
        return response.read()


# Refusals ----


@pytest.mark.parametrize("path", ["/v2/models/mlp/versions/1/infer", "/v1/models/mlp:predict"])
def test_a_coding_the_server_does_not_read_is_415_naming_those_it_does(server, path):
    status, headers, content = _post(server, path, b"\x00compressed", {"Content-Encoding": "br"})
    assert status == 415
    assert headers["accept-encoding"] == "gzip, deflate"
    message = orjson.loads(content)["error"]
    assert "'br'" in message and "gzip" in message and "deflate" in message


@pytest.mark.parametrize("coding, body, words", [
    ("gzip", b"this is not gzip", "is not gzip data"),
    ("deflate", b"\x78\x9c not zlib either", "is not deflate data"),
    ("gzip", gzip.compress(_v2_body())[:-12], "ends before"),
    ("deflate", zlib.compress(_v2_body()) + b"tail", "after its compressed data"),
    ("gzip", b"", "ends before"),
])
def test_a_body_that_is_not_what_its_coding_says_is_400(server, coding, body, words):
    status, _, content = _post(server, "/v2/models/mlp/versions/1/infer", body,
                               {"Content-Encoding": coding})
    assert status == 400
    assert words in orjson.loads(content)["error"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_that_inflates_past_the_limit_is_413_and_the_server_serves_on(server, expected, chunked):
    zeros = b"0" * (LIMIT_MB * 2**20 + 1)
    bomb = gzip.compress(zeros)
    assert len(bomb) < 2**20 // 100
    status, _, content = _post(server, "/v2/models/mlp/versions/1/infer", bomb,
                               {"Content-Encoding": "gzip"}, chunked=chunked)
    assert status == 413
    assert "--max-body-mb" in orjson.loads(content)["error"]
    status, _, content = _post(server, "/v2/models/mlp/versions/1/infer", gzip.compress(_v2_body()),
                               {"Content-Encoding": "gzip"})
    assert status == 200
    np.testing.assert_allclose(_v2_outputs(content), expected, rtol=1e-5, atol=1e-6)


def test_errors_are_answered_uncompressed(server):
    status, headers, content = _post(server, "/v2/models/nope/infer", _v2_body(), {"Accept-Encoding": "gzip"})
    assert status == 404 and "content-encoding" not in headers
    assert "nope" in orjson.loads(content)["error"]


def test_the_openapi_document_names_the_codings(server):
    doc = orjson.loads(_get(server, "/openapi.json"))
    for path in ("/v2/models/mlp/versions/1/infer", "/v1/models/mlp:predict", "/v2/models/{model}/infer",
                 "/v1/models/{model}/labels/{label}:predict"):
        operation = doc["paths"][path]["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert "gzip" in headers["Content-Encoding"]["schema"]["enum"] and "Accept-Encoding" in headers
        assert "Content-Encoding" in operation["responses"]["200"]["headers"]
        assert operation["responses"]["415"] == {"$ref": "#/components/responses/UnsupportedEncoding"}


def test_a_body_inflating_to_exactly_the_limit_is_read(serving_artifacts):
    from kerasexport.errors import KerasexportError
    from kerasexport.serving import content_coding

    limit = 4096
    body = bytes(range(256)) * 16
    assert content_coding.decode(gzip.compress(body), ["gzip"], limit) == body
    with pytest.raises(KerasexportError, match="more than 4095 bytes"):
        content_coding.decode(gzip.compress(body), ["gzip"], limit - 1)
