"""The bearer token, the body limit, and the warning for open addresses."""

import http.client
import json

import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    # One artifact: served as model "model" (its file name), version 1.
    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, token=TOKEN,
                            max_body_mb=0.01, quiet=True) as server:
        yield server


def test_a_single_artifact_is_served_as_version_1_of_its_name(server):
    status, body = serving_kit.Client(server.url, token=TOKEN).json("GET", "/v1/models/model")
    assert status == 200 and body["model_version_status"][0]["version"] == "1"


@pytest.mark.parametrize("path", ["/v1/models/model", "/v2/models/model", "/metrics", "/v2"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_routes_refuse_a_missing_or_wrong_token(server, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    status, response_headers, data = serving_kit.Client(server.url).request("GET", path, headers=headers)
    assert status == 401
    assert response_headers["www-authenticate"] == "Bearer"
    assert "bearer token" in json.loads(data)["error"]
    assert TOKEN not in data.decode()


def test_health_routes_need_no_token(server):
    client = serving_kit.Client(server.url)
    assert client.request("GET", "/v2/health/live")[0] == 200
    assert client.request("GET", "/v2/health/ready")[0] == 200


def test_the_right_token_opens_every_route(server):
    import tritonclient.http as httpclient

    client = serving_kit.Client(server.url, token=TOKEN)
    status, body = client.json("POST", "/v1/models/model:predict", {"instances": [[1, 2, 3, 4]]})
    assert status == 200 and len(body["predictions"]) == 1
    assert client.request("GET", "/metrics")[0] == 200
    triton = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    name = triton.get_model_metadata("model", headers=headers)["inputs"][0]["name"]
    tensor = httpclient.InferInput(name, [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), "float32"))
    assert triton.infer("model", [tensor], headers=headers).as_numpy(
        triton.get_model_metadata("model", headers=headers)["outputs"][0]["name"]).shape == (1, 3)
    triton.close()


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server):
    # Headers only: the server answers without waiting for the 1 GB it announces.
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/v1/models/model:predict")
    connection.putheader("Authorization", f"Bearer {TOKEN}")
    connection.putheader("Content-Length", str(10**9))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "at most 10485 " in json.loads(response.read())["error"]
    connection.close()


def test_a_streamed_body_is_cut_off_at_the_limit(server):
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b"[" + b"0.5, " * 1000 + b"0.5]," for _ in range(20))  # ~100 kB, no Content-Length
    connection.request("POST", "/v1/models/model:predict", body=chunks, encode_chunked=True,
                       headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    assert response.status == 413
    assert "passed 10485 bytes" in json.loads(response.read())["error"]
    connection.close()
    assert serving_kit.Client(server.url).request("GET", "/v2/health/live")[0] == 200


def test_the_token_comes_from_the_environment(monkeypatch, serving_artifacts):
    import kerasexport

    monkeypatch.setenv("KERASEXPORT_SERVE_TOKEN", "from-env")
    assert kerasexport.Server(serving_artifacts.onnx["mlp1"]).token == "from-env"
    assert kerasexport.Server(serving_artifacts.onnx["mlp1"], token="given").token == "given"


@pytest.mark.parametrize("host, token, warned", [
    ("0.0.0.0", None, True), ("192.168.1.1", None, True), ("::", None, True),
    ("0.0.0.0", "t", False), ("127.0.0.1", None, False), ("::1", None, False), ("localhost", None, False),
])
def test_a_non_loopback_address_without_a_token_is_warned_about(capsys, host, token, warned):
    from kerasexport.serving import server

    server._warn_if_open(host, token)  # no socket is bound: the check alone
    err = capsys.readouterr().err
    assert ("without a token" in err) == warned


@pytest.mark.parametrize("option, value", [("port", -1), ("port", 1.5), ("max_batch_size", 0),
                                           ("max_body_mb", 0), ("poll_seconds", "5"), ("host", "")])
def test_bad_options_are_refused(serving_artifacts, option, value):
    import kerasexport

    with pytest.raises(kerasexport.errors.ArgumentError, match=f"`{option}`"):
        kerasexport.Server(serving_artifacts.onnx["mlp1"], **{option: value})
