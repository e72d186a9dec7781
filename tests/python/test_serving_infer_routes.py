"""The inference routes answered before Starlette's router (serving/infer_routes.py):
the same answers as the app's other routes give, for failures too."""

import http.client
import logging

import numpy as np
import orjson
import pytest

from serving_kit import Client, keras_outputs, requires_tensorflow_backend, wait_for

pytestmark = requires_tensorflow_backend


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True) as server:
        yield server


@pytest.fixture()
def client(server):
    client = Client(server.url)
    yield client
    client.close()


def test_a_failure_that_is_not_the_request_s_is_a_500_and_the_server_goes_on(server, client, monkeypatch,
                                                                             caplog):
    from kerasexport.codec import kserve

    def broken(*args):
        raise KeyError("a bug")

    monkeypatch.setattr(kserve, "encode_infer", broken)
    caplog.set_level(logging.ERROR, logger="kerasexport.serve")
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0.1, 0.2, 0.3, 0.4]}]}
    status, headers, data = client.request("POST", "/v2/models/mlp/infer", body)
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert orjson.loads(data) == {"error": "Internal server error (KeyError); the server keeps serving. "
                                           "See the server's log."}
    # The server logs the failure after it has answered, in its own thread: wait for the line.
    wait_for(lambda: any("POST /v2/models/mlp/infer failed: KeyError" in r.getMessage()
                         for r in caplog.records), seconds=10)
    monkeypatch.undo()
    status, answer = client.json("POST", "/v2/models/mlp/infer", body)
    assert status == 200 and answer["model_version"] == "2"


def test_a_chunked_body_is_read_whole(server, serving_artifacts):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    body = orjson.dumps({"instances": x.tolist()})
    connection = http.client.HTTPConnection(server.url.split("//")[1], timeout=30)
    try:
        connection.request("POST", "/v1/models/mlp/versions/1:predict",
                           body=iter([body[:7], body[7:20], body[20:]]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        answer = orjson.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200
    expected = keras_outputs(serving_artifacts.models["mlp1"], x)
    np.testing.assert_allclose(np.asarray(answer["predictions"]), expected, rtol=1e-5, atol=1e-6)


def test_a_label_and_a_version_reach_the_same_answers_as_the_other_routes(server, client):
    status, body = client.json("POST", "/v1/models/mlp/labels/stable:predict", {"instances": [[0.0] * 4]})
    assert status == 404  # no model config file, hence no labels
    assert "label" in body["error"].lower()
    status, body = client.json("POST", "/v2/models/mlp/versions/x/infer", {"inputs": []})
    assert status == 400 and "not a version number" in body["error"]
    status, headers, _ = client.request("GET", "/v2/models/mlp/infer")
    assert status == 405 and headers["allow"] == "POST"
