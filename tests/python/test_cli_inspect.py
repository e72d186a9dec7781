"""`kerasexport inspect` on the exports of `cli_exports`."""

import json
import os

import pytest

from cli_run import ONCE, assert_refused, run

pytestmark = ONCE


def test_inspect_json_describes_the_onnx_file(cli_exports):
    result = run("inspect", "two.onnx", "--json", cwd=cli_exports.directory)
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["path"] == "two.onnx"
    assert described["format"] == "onnx"
    assert described["size"] == os.path.getsize(cli_exports.onnx)
    (endpoint,) = described["endpoints"]
    assert described["default_endpoint"] == endpoint["name"] == "serve"
    assert endpoint["inputs"] == [{"name": "a", "dtype": "float32", "shape": [None, 4]},
                                  {"name": "b", "dtype": "float32", "shape": [None, 2]}]
    assert endpoint["outputs"] == [{"name": "score", "dtype": "float32", "shape": [None, 3]},
                                   {"name": "value", "dtype": "float32", "shape": [None, 1]}]


def test_inspect_prints_a_saved_models_endpoints(cli_exports):
    result = run("inspect", "serving/scaled/1", cwd=cli_exports.directory)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["kerasexport artifact (tf_saved_model)", "path: serving/scaled/1"]
    assert "  serve" in lines
    assert any(line.startswith("  serving_default (same as serve, serving default") for line in lines)
    assert sum("input " in line and "float32 (None, 4)" in line for line in lines) == 2
    assert result.stderr == ""


@pytest.mark.parametrize("path, words", [
    ("nothing.onnx", ["No such file or directory: 'nothing.onnx'"]),
    ("two.keras", ["saved Keras model, not an exported artifact"]),
    ("cli_layers.py", ["not an ONNX model"]),
])
def test_inspect_refuses_what_is_not_an_artifact(cli_exports, path, words):
    result = run("inspect", path, cwd=cli_exports.directory)
    assert_refused(result, 1, *words)
    assert str(cli_exports.directory) not in result.stderr  # the path as the user gave it
