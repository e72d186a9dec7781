"""`kerasexport predict` on the exports of `cli_exports`.

Predictions are compared with the Keras models' own outputs (built and
saved in this process, exported by the command line under JAX and PyTorch).
"""

import json

import numpy as np
import pytest

from cli_run import ONCE, files_under, outputs, run

pytestmark = ONCE
ATOL = 1e-5


@pytest.fixture(scope="module")
def inputs(cli_exports):
    """Input files in every format, written where the artifacts are."""
    rng = np.random.default_rng(5)
    directory = cli_exports.directory
    x = rng.normal(size=(5, 4)).astype("float32")
    a = rng.normal(size=(3, 4)).astype("float32")
    b = rng.normal(size=(3, 2)).astype("float32")
    np.save(directory / "x.npy", x)
    np.savez(directory / "x.npz", features=x)
    np.savez(directory / "ab.npz", a=a, b=b)
    np.savez(directory / "positional.npz", a, b)
    rows = {"instances": [{"a": a[i].tolist(), "b": b[i].tolist()} for i in range(3)]}
    (directory / "rows.json").write_text(json.dumps(rows))
    (directory / "columns.json").write_text(json.dumps({"inputs": {"a": a.tolist(), "b": b.tolist()}}))
    np.savez(directory / "only_a.npz", a=a)
    (directory / "not_a_request.json").write_text(json.dumps({"a": a.tolist()}))
    return {"x": x, "a": a, "b": b}


def predict(cli_exports, *args):
    result = run("predict", *args, cwd=cli_exports.directory)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result


def test_npy_on_the_saved_model_from_torch_matches_the_model(cli_exports, inputs):
    result = predict(cli_exports, "serving/scaled/1", "--input", "x.npy")
    answer = json.loads(result.stdout)
    assert list(answer) == ["outputs"]
    expected = outputs(cli_exports.models["scaled"], inputs["x"])
    np.testing.assert_allclose(np.array(answer["outputs"]), expected, rtol=1e-4, atol=ATOL)


def test_one_named_array_is_the_one_input_whatever_its_name(cli_exports, inputs):
    predict(cli_exports, "serving/scaled/1", "--input", "x.npz", "--output", "y.npy")
    expected = outputs(cli_exports.models["scaled"], inputs["x"])
    np.testing.assert_allclose(np.load(cli_exports.directory / "y.npy"), expected, rtol=1e-4, atol=ATOL)


def test_npz_by_name_to_an_npz_file(cli_exports, inputs):
    predict(cli_exports, "two.onnx", "--input", "ab.npz", "--output", "out.npz")
    expected = outputs(cli_exports.models["two"], {"a": inputs["a"], "b": inputs["b"]})
    with np.load(cli_exports.directory / "out.npz") as written:
        assert sorted(written.files) == ["score", "value"]
        for name in ("score", "value"):
            np.testing.assert_allclose(written[name], expected[name], rtol=1e-4, atol=ATOL)


def test_npz_of_unnamed_arrays_goes_by_position(cli_exports, inputs):
    answer = json.loads(predict(cli_exports, "two.onnx", "--input", "positional.npz").stdout)
    expected = outputs(cli_exports.models["two"], {"a": inputs["a"], "b": inputs["b"]})
    for name in ("score", "value"):
        np.testing.assert_allclose(np.array(answer["outputs"][name]), expected[name], rtol=1e-4, atol=ATOL)


def test_json_rows_answer_one_object_per_example(cli_exports, inputs):
    answer = json.loads(predict(cli_exports, "two.onnx", "--input", "rows.json").stdout)
    expected = outputs(cli_exports.models["two"], {"a": inputs["a"], "b": inputs["b"]})
    rows = answer["predictions"]
    assert len(rows) == 3 and all(sorted(row) == ["score", "value"] for row in rows)
    for name in ("score", "value"):
        np.testing.assert_allclose(np.array([row[name] for row in rows]), expected[name], rtol=1e-4, atol=ATOL)


def test_json_columns_in_batches_to_a_json_file(cli_exports, inputs):
    predict(cli_exports, "two.onnx", "--input", "columns.json", "--output", "out.json", "--batch-size", "2")
    answer = json.loads((cli_exports.directory / "out.json").read_text())
    expected = outputs(cli_exports.models["two"], {"a": inputs["a"], "b": inputs["b"]})
    for name in ("score", "value"):
        np.testing.assert_allclose(np.array(answer["outputs"][name]), expected[name], rtol=1e-4, atol=ATOL)


@pytest.mark.parametrize("arguments, code, words", [
    (["--input", "x.npy"], 1, ["takes 2 inputs"]),
    (["--input", "only_a.npz", "--output", "refused.npz"], 1, ["missing ['b']"]),
    (["--input", "not_a_request.json", "--output", "refused.json"], 1, ['"instances"', '"inputs"']),
    (["--input", "ab.npz", "--output", "refused.npy"], 1, ["2 outputs", ".npz or .json"]),
    (["--input", "ab.npz", "--endpoint", "serving_default"], 1, ["Unknown endpoint 'serving_default'"]),
    (["--input", "missing.npz"], 1, ["No such file: 'missing.npz'"]),
    (["--input", "cli_layers.py"], 2, ["--input", ".npy, .npz, .json"]),
    (["--input", "ab.npz", "--batch-size", "0"], 2, ["--batch-size"]),
    (["--output", "refused.json"], 2, ["--input"]),
], ids=["npy-for-two-inputs", "missing-input", "not-a-request", "npy-for-two-outputs",
        "unknown-endpoint", "missing-file", "unknown-suffix", "zero-batch", "no-input"])
def test_predict_refusals_name_the_problem_and_write_nothing(cli_exports, inputs, arguments, code, words):
    before = files_under(cli_exports.directory)
    result = run("predict", "two.onnx", *arguments, cwd=cli_exports.directory)
    assert result.returncode == code, result.stderr
    error = result.stderr.splitlines()[0]
    assert error.startswith("error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2 and result.stdout == ""
    for word in words:
        assert word in error, (word, error)
    assert files_under(cli_exports.directory) == before


def test_debug_shows_the_traceback(cli_exports, inputs):
    result = run("--debug", "predict", "two.onnx", "--input", "only_a.npz", cwd=cli_exports.directory)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "InputError" in result.stderr
