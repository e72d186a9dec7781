"""Bad requests, as a table: each gets a 4xx (or a 500 for a runtime failure) with
a JSON error that says what was received, never a traceback or a local path, and
the server keeps serving."""

import json

import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

MLP = "/v1/models/mlp:predict"
TWO = "/v1/models/two:predict"
V2_MLP = "/v2/models/mlp/versions/1/infer"
V2_TWO = "/v2/models/two/infer"


def _v2(inputs, **extra):
    return json.dumps({"inputs": inputs, **extra}).encode()


def _fp32(name, shape, data, datatype="FP32", **extra):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data, **extra}


ROW4 = [[1.0, 2.0, 3.0, 4.0]]

# (id, method, path, body, headers, status, words the error must contain)
CASES = [
    ("malformed json", "POST", MLP, b'{"instances": [1, 2', {}, 400, ["not valid JSON"]),
    ("empty body", "POST", MLP, b"", {}, 400, ["empty"]),
    ("body is a list", "POST", MLP, b"[1, 2]", {}, 400, ["JSON list", "instances"]),
    ("both formats", "POST", MLP, json.dumps({"instances": ROW4, "inputs": ROW4}).encode(), {}, 400,
     ["both", "instances", "inputs"]),
    ("neither format", "POST", MLP, b'{"rows": []}', {}, 400, ["neither", "rows"]),
    ("empty instances", "POST", MLP, b'{"instances": []}', {}, 400, ["non-empty list"]),
    ("ragged instances", "POST", MLP, json.dumps({"instances": [[1, 2, 3, 4], [1, 2]]}).encode(), {},
     400, ["ragged"]),
    ("wrong rank", "POST", MLP, json.dumps({"instances": [1, 2, 3, 4]}).encode(), {}, 400,
     ["rank", "(None, 4)"]),
    ("wrong fixed dimension", "POST", MLP, json.dumps({"instances": [[1, 2, 3]]}).encode(), {}, 400,
     ["(None, 4)", "(1, 3)"]),
    ("strings for a numeric input", "POST", MLP, json.dumps({"instances": [["a", "b", "c", "d"]]}).encode(),
     {}, 400, ["strings", "float32"]),
    ("nulls for a numeric input", "POST", MLP, json.dumps({"instances": [[None, 1, 2, 3]]}).encode(), {},
     400, ["null", "float32"]),
    ("numbers for a string input", "POST", "/v1/models/text:predict", b'{"instances": [1, 2]}', {}, 400,
     ["int", "strings"]),
    ("unknown input", "POST", TWO, json.dumps({"inputs": {"a": [[1, 2, 3]], "b": [[1] * 5], "c": [1]}}).encode(),
     {}, 400, ["unexpected ['c']"]),
    ("missing input", "POST", TWO, json.dumps({"inputs": {"a": [[1, 2, 3]]}}).encode(), {}, 400,
     ["missing ['b']"]),
    ("instances without names, several inputs", "POST", TWO, json.dumps({"instances": [[1, 2, 3]]}).encode(),
     {}, 400, ["2 inputs", "object keyed by input name"]),
    ("unknown signature", "POST", MLP, json.dumps({"signature_name": "nope", "instances": ROW4}).encode(), {},
     400, ["'nope'", "Available"]),
    ("signature name not a string", "POST", MLP, json.dumps({"signature_name": 3, "instances": ROW4}).encode(),
     {}, 400, ["signature_name", "string"]),
    ("unknown model", "POST", "/v1/models/nope:predict", json.dumps({"instances": ROW4}).encode(), {}, 404,
     ["'nope' not found"]),
    ("unknown version", "POST", "/v1/models/mlp/versions/9:predict", json.dumps({"instances": ROW4}).encode(),
     {}, 404, ["Version 9", "Available versions: [1, 2]"]),
    ("version not a number", "GET", "/v1/models/mlp/versions/x1", None, {}, 400, ["positive whole number"]),
    ("version zero", "GET", "/v1/models/mlp/versions/0/metadata", None, {}, 400, ["positive whole number"]),
    ("dot-dot model name", "GET", "/v1/models/..", None, {}, 404, ["'..' not found"]),
    ("encoded slashes", "GET", "/v1/models/..%2F..%2Fetc%2Fpasswd", None, {}, 404, ["No route"]),
    ("encoded dots", "GET", "/v2/models/%2e%2e/ready", None, {}, 404, ["not found"]),
    ("hidden directory", "GET", "/v2/models/.staging/ready", None, {}, 404, ["not found"]),
    ("wrong method", "GET", MLP, None, {}, 404, ["not found"]),
    ("wrong method on v2", "GET", V2_MLP, None, {}, 405, ["GET is not allowed"]),
    ("wrong method on a version's :predict", "GET", "/v1/models/mlp/versions/1:predict", None, {}, 405,
     ["GET is not allowed"]),
    ("v2 unknown datatype", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4, datatype="FP33")]), {}, 400,
     ["unknown datatype 'FP33'"]),
    ("v2 no inputs", "POST", V2_MLP, b'{"outputs": []}', {}, 400, ["\"inputs\" must be a non-empty list"]),
    ("v2 input without data", "POST", V2_MLP, _v2([{"name": "x", "shape": [1, 4], "datatype": "FP32"}]), {},
     400, ["neither \"data\""]),
    ("v2 negative shape", "POST", V2_MLP, _v2([_fp32("x", [-1, 4], ROW4)]), {}, 400, ["non-negative"]),
    ("v2 shape and data disagree", "POST", V2_MLP, _v2([_fp32("x", [2, 4], ROW4)]), {}, 400,
     ["4 values", "needs 8"]),
    ("v2 wrong rank", "POST", V2_MLP, _v2([_fp32("x", [4], [1, 2, 3, 4])]), {}, 400, ["rank"]),
    ("v2 strings as FP32", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ["a", "b", "c", "d"])]), {}, 400,
     ["strings"]),
    ("v2 ragged data", "POST", V2_MLP, _v2([_fp32("x", [2, 4], [[1, 2, 3, 4], [1]])]), {}, 400, ["ragged"]),
    ("v2 unknown input", "POST", V2_TWO,
     _v2([_fp32("a", [1, 3], [1, 2, 3]), _fp32("b", [1, 5], [1] * 5), _fp32("z", [1, 1], [1])]), {}, 400,
     ["unexpected ['z']"]),
    ("v2 missing input", "POST", V2_TWO, _v2([_fp32("a", [1, 3], [1, 2, 3])]), {}, 400, ["missing ['b']"]),
    ("v2 input twice", "POST", V2_TWO, _v2([_fp32("a", [1, 3], [1, 2, 3])] * 2), {}, 400, ["twice"]),
    ("v2 unknown output", "POST", V2_TWO,
     _v2([_fp32("a", [1, 3], [1, 2, 3]), _fp32("b", [1, 5], [1] * 5)], outputs=[{"name": "third"}]), {}, 400,
     ["'third'", "first"]),
    ("v2 id not a string", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)], id=7), {}, 400, ["\"id\" must be a string"]),
    ("v2 header length beyond the body", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)]),
     {"Inference-Header-Content-Length": "100000"}, 400, ["100000", "between 0"]),
    ("v2 negative header length", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)]),
     {"Inference-Header-Content-Length": "-5"}, 400, ["-5"]),
    ("v2 header length not a number", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)]),
     {"Inference-Header-Content-Length": "ten"}, 400, ["whole number", "'ten'"]),
    ("v2 binary size larger than the data", "POST", V2_MLP, None, "binary-short", 400,
     ["declares 16 bytes", "only 8 remain"]),
    ("v2 binary bytes left over", "POST", V2_MLP, None, "binary-long", 400, ["24 bytes of binary data",
                                                                            "declare 16"]),
    ("v2 unknown model", "POST", "/v2/models/nope/infer", _v2([_fp32("x", [1, 4], ROW4)]), {}, 404,
     ["'nope' not found"]),
    # Found by schemathesis (test_serving_openapi.py): a shape whose size overflows int64 was a 500.
    ("v2 shape too large to exist", "POST", V2_MLP, _v2([_fp32("x", [2**62, 4], [])]), {}, 400,
     ["0 values", "needs 18446744073709551616"]),
    ("v2 binary_data not a boolean", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)],
     outputs=[{"name": "y", "parameters": {"binary_data": {}}}]), {}, 400, ["binary_data must be true or false"]),
    ("v2 binary_data_output not a boolean", "POST", V2_MLP, _v2([_fp32("x", [1, 4], ROW4)],
     parameters={"binary_data_output": 1}), {}, 400, ["binary_data_output\" must be true or false"]),
    ("v2 fractional shape", "POST", V2_MLP, _v2([_fp32("x", [1.5, 4], ROW4)]), {}, 400, ["non-negative whole"]),
    ("unknown model, bad body", "POST", "/v1/models/nope:predict", b"{", {}, 404, ["'nope' not found"]),
    ("v2 unknown model, bad body", "POST", "/v2/models/nope/infer", b"[]", {}, 404, ["'nope' not found"]),
    ("runtime failure", "POST", "/v1/models/picky:predict", b'{"instances": [[-1.0, 2.0]]}', {}, 500,
     ["runtime failed", "negative input"]),
]


def _binary_body(kind):
    header = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}]}).encode()
    data = b"\0" * (8 if kind == "binary-short" else 24)
    return header + data, {"Inference-Header-Content-Length": str(len(header))}


@pytest.fixture(scope="module")
def client(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True) as server:
        client = serving_kit.Client(server.url)
        yield client
        client.close()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_a_json_error(client, serving_artifacts, case):
    _, method, path, body, headers, status, words = case
    if isinstance(headers, str):
        body, headers = _binary_body(headers)
    got, response_headers, data = client.request(method, path, body, headers)
    assert got == status, data
    assert response_headers["content-type"] == "application/json"
    message = json.loads(data)["error"]
    for word in words:
        assert word in message
    assert "Traceback" not in message and serving_artifacts.root not in message
    assert "/tmp" not in message and "site-packages" not in message
    assert client.request("GET", "/v2/health/live")[0] == 200


def test_a_v2_shape_of_whole_floats_is_a_shape(client):
    status, body = client.json("POST", V2_MLP, {"inputs": [_fp32("x", [1.0, 4.0], ROW4)]})
    assert status == 200 and body["outputs"][0]["shape"] == [1, 3]


def test_a_wrong_method_on_predict_names_the_method_it_takes(client):
    status, headers, _ = client.request("OPTIONS", "/v1/models/mlp/versions/1:predict")
    assert status == 405 and headers["allow"] == "POST"


def test_the_server_still_answers_after_every_bad_request(client):
    status, body = client.json("POST", MLP, {"instances": ROW4})
    assert status == 200 and len(body["predictions"][0]) == 3
