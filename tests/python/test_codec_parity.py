"""One TF-Serving codec: `kerasexport predict --input req.json` and ``POST :predict`` agree.

Each body of the table goes to both: the command line (a subprocess, as a
user runs it) and a running server's ``:predict`` route on the same
artifact. A body both accept gets the same JSON answer, compared with the
model's own outputs; a body they refuse gets the same words, the server's
``{"error": ...}`` and the command line's ``error: ...`` line (exit 1).
"""

import json

import numpy as np
import orjson
import pytest

from cli_run import run
from serving_kit import Client, keras_outputs, requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

X = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 3.0]], "float32")
A = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]], "float32")
B = np.array([[1, 2, 3, 4, 5], [0.5, 0.5, 0.5, 0.5, 0.5]], "float32")

# (id, model, body): bodies both must accept.
ACCEPTED = [
    ("rows one input", "mlp", {"instances": X.tolist()}),
    ("columns one input", "mlp", {"inputs": X.tolist()}),
    ("columns under another name", "mlp", {"inputs": {"whatever": X.tolist()}}),
    ("rows named inputs", "two", {"instances": [{"a": a.tolist(), "b": b.tolist()} for a, b in zip(A, B)]}),
    ("columns named inputs", "two", {"inputs": {"a": A.tolist(), "b": B.tolist()}}),
    ("unknown keys ignored", "mlp", {"instances": X.tolist(), "model_spec": {"name": "mlp"}}),
    ("serving_default on ONNX", "mlp", {"signature_name": "serving_default", "inputs": X.tolist()}),
    ("integers cast to float32", "mlp", {"instances": [[1, 2, 3, 4]]}),
]
# (id, model, raw body): bodies both must refuse.
REFUSED = [
    ("not JSON", "mlp", b"{instances: [1, 2"),
    ("empty", "mlp", b""),
    ("a list", "mlp", b"[1, 2, 3]"),
    ("both formats", "mlp", orjson.dumps({"instances": X.tolist(), "inputs": X.tolist()})),
    ("neither format", "mlp", orjson.dumps({"instance": X.tolist()})),
    ("ragged", "mlp", orjson.dumps({"instances": [[1, 2, 3, 4], [1, 2]]})),
    ("strings for floats", "mlp", orjson.dumps({"instances": [["a", "b", "c", "d"]]})),
    ("wrong width", "mlp", orjson.dumps({"instances": [[1, 2, 3]]})),
    ("a scalar for a matrix", "mlp", orjson.dumps({"inputs": {"a": 1}})),
    ("missing input", "two", orjson.dumps({"inputs": {"a": A.tolist()}})),
    ("unknown input", "two", orjson.dumps({"inputs": {"a": A.tolist(), "b": B.tolist(), "c": [1]}})),
    ("mixed instances", "two", orjson.dumps({"instances": [{"a": A[0].tolist(), "b": B[0].tolist()}, [1, 2]]})),
    ("row format needs objects", "two", orjson.dumps({"instances": A.tolist()})),
    ("unknown signature", "mlp", orjson.dumps({"signature_name": "nope", "inputs": X.tolist()})),
    ("signature_name not a string", "mlp", orjson.dumps({"signature_name": 3, "inputs": X.tolist()})),
    ("empty instances", "mlp", orjson.dumps({"instances": []})),
]


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True) as running:
        yield running


@pytest.fixture(scope="module")
def artifacts(serving_artifacts):
    """The artifact of each model the server serves (latest version), for the command line."""
    return {"mlp": serving_artifacts.onnx["mlp2"], "two": serving_artifacts.onnx["two"]}


def through_both(server, artifacts, tmp_path, model, body):
    """(server's status and JSON, command line's result) for one body."""
    status, answer = Client(server.url).json("POST", f"/v1/models/{model}:predict", body,
                                             {"Content-Type": "application/json"})
    request = tmp_path / "request.json"
    request.write_bytes(body)
    result = run("predict", artifacts[model], "--input", str(request), cwd=tmp_path)
    return status, answer, result


@pytest.mark.parametrize("model, body", [(m, b) for _, m, b in ACCEPTED], ids=[i for i, _, _ in ACCEPTED])
def test_accepted_bodies_get_the_same_answer(server, artifacts, serving_artifacts, tmp_path, model, body):
    status, answer, result = through_both(server, artifacts, tmp_path, model, orjson.dumps(body))
    assert status == 200, answer
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == answer
    # And the answer is the model's: the latest version of each.
    keras_model = serving_artifacts.models["mlp2" if model == "mlp" else "two"]
    key = "predictions" if "instances" in body else "outputs"
    got = answer[key]
    if model == "mlp":
        x = np.asarray(body["instances"] if "instances" in body else
                       (next(iter(body["inputs"].values())) if isinstance(body["inputs"], dict) else body["inputs"]),
                       "float32")
        np.testing.assert_allclose(np.asarray(got), keras_outputs(keras_model, x), rtol=1e-5, atol=1e-6)
    else:
        want = keras_outputs(keras_model, {"a": A, "b": B})
        if key == "outputs":
            for name in ("first", "second"):
                np.testing.assert_allclose(np.asarray(got[name]), want[name], rtol=1e-5, atol=1e-6)
        else:
            for i, row in enumerate(got):
                for name in ("first", "second"):
                    np.testing.assert_allclose(np.asarray(row[name]), want[name][i], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model, body", [(m, b) for _, m, b in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_refused_bodies_get_the_same_words(server, artifacts, tmp_path, model, body):
    status, answer, result = through_both(server, artifacts, tmp_path, model, body)
    assert status == 400, answer
    assert result.returncode == 1, result.stdout
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ")
    assert first[len("error: "):] == " ".join(answer["error"].split())
    assert result.stdout == ""


def test_the_server_lives_on(server):
    assert Client(server.url).request("GET", "/v2/health/ready")[0] == 200
