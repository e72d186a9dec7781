"""`kerasexport export`, run as the installed console script."""

import os
import sys

import pytest

from cli_run import ONCE, assert_refused, files_under, run

pytestmark = ONCE


def test_onnx_from_jax_with_an_option_shows_its_stages_on_a_terminal(cli_exports):
    import onnx

    code, out, err = cli_exports.onnx_run
    assert code == 0, err
    assert out.splitlines() == [out.strip()]
    assert out.startswith("Exported onnx from the jax backend by the native route; verified, max relative error")
    stages = [line.split("]")[0] + "]" for line in err.splitlines() if line.startswith("[")]
    assert stages == ["[load]", "[export]", "[verify]"], err
    assert "[load] Loading two.keras with the jax backend." in err
    assert "Traceback" not in err
    # --option opset_version=18 reached the exporter as the integer 18.
    opsets = {o.domain: o.version for o in onnx.load(str(cli_exports.onnx)).opset_import}
    assert opsets[""] == 18


def test_a_saved_model_from_torch_takes_the_cross_route_quietly_when_piped(cli_exports):
    result = cli_exports.saved_model_run
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "Exported tf_saved_model from the torch backend by the cross-backend route; verified"
    )
    assert len(result.stdout.splitlines()) == 1
    # Not a terminal: no stages, and no third-party logs (TensorFlow, torch).
    assert result.stderr == ""
    assert (cli_exports.saved_model / "saved_model.pb").is_file()
    # The custom module was imported from its file, without leaving bytecode.
    assert not (cli_exports.directory / "__pycache__").exists()


def refusals():
    """(arguments, exit code, words in the one error line)."""
    cases = {
        "existing-file": (["two.keras", "two.onnx"], 1, ["'two.onnx' already exists", "--overwrite"]),
        "existing-directory": (["scaled.keras", "serving/scaled/1"], 1, ["already exists"]),
        "missing-file": (["missing.keras", "new.onnx"], 1, ["No such file: 'missing.keras'"]),
        "not-keras": (["two.onnx", "new.onnx"], 1, ["'two.onnx' is not a .keras file"]),
        "not-keras-either": (["cli_layers.py", "new.onnx"], 1, ["is not a .keras file"]),
        "artifact-as-model": (["serving/scaled/1", "new.onnx"], 1, ["is an exported SavedModel"]),
        "unknown-format": (["two.keras", "new", "--format", "tflight"], 2, ["'tflight' is not one of"]),
        "unknown-suffix": (["two.keras", "new.tflight"], 2, ["'.tflight'", "--format"]),
        "unknown-backend": (["two.keras", "new", "--backend", "mxnet"], 2, ["--backend"]),
        "bad-json": (["two.keras", "new", "--input-signature", "[[null, 4"], 2, ["not valid JSON"]),
        "bad-option": (["two.keras", "new", "--option", "opset_version"], 2, ["KEY=VALUE"]),
        "negative-rtol": (["two.keras", "new", "--rtol", "-1"], 2, ["--rtol"]),
        "missing-module-file": (["scaled.keras", "new", "--custom-module", "gone.py"], 1,
                                ["'gone.py': no such file"]),
        "missing-module": (["scaled.keras", "new", "--custom-module", "no_such_module_here"], 1,
                           ["no module of that name"]),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize("arguments, code, words", refusals())
def test_refusals_are_one_line_and_write_nothing(cli_exports, arguments, code, words):
    before = files_under(cli_exports.directory)
    result = run("export", *arguments, cwd=cli_exports.directory)
    assert_refused(result, code, *words)
    assert str(cli_exports.directory) not in result.stderr  # paths as the user gave them
    assert files_under(cli_exports.directory) == before


def test_an_existing_openvino_weights_file_is_refused_before_loading(cli_exports):
    weights = cli_exports.directory / "taken.bin"
    weights.write_bytes(b"old weights")
    try:
        before = files_under(cli_exports.directory)
        result = run("export", "two.keras", "taken.xml", cwd=cli_exports.directory)
        assert_refused(result, 1, "'taken.bin' (written beside 'taken.xml') already exists", "--overwrite")
        assert files_under(cli_exports.directory) == before
        assert weights.read_bytes() == b"old weights"
    finally:
        weights.unlink()


def test_a_route_that_cannot_be_is_refused_before_loading_in_command_line_terms(cli_exports):
    before = files_under(cli_exports.directory)
    result = run("export", "two.keras", "new", "--backend", "torch", "--route", "native",
                 cwd=cli_exports.directory)
    assert result.returncode == 1
    error, hint = result.stderr.splitlines()
    assert error.startswith("error: route='native' was requested, but Keras has no native tf_saved_model")
    assert hint.startswith("hint: ") and "--route" in hint
    assert files_under(cli_exports.directory) == before


def test_a_model_whose_custom_class_is_not_imported_is_refused_naming_the_option(cli_exports):
    before = files_under(cli_exports.directory)
    result = run("export", "scaled.keras", "new.onnx", "--backend", "jax", cwd=cli_exports.directory)
    assert_refused(result, 1, "Keras could not load 'scaled.keras'", "Scale", "--custom-module")
    assert files_under(cli_exports.directory) == before


# The backend is chosen before Keras is imported ----


def test_the_default_backend_is_keras_backend_else_the_first_installed(monkeypatch):
    from kerasexport.commands import backend

    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.default() == "torch"
    monkeypatch.delenv("KERAS_BACKEND")
    assert backend.default() == "tensorflow"
    monkeypatch.setattr(backend, "installed", lambda name: name != "tensorflow")
    assert backend.default() == "jax"


def test_a_process_that_imported_keras_under_another_backend_restarts(monkeypatch):
    import click

    from kerasexport import cli
    from kerasexport.commands import backend

    calls = []
    monkeypatch.setattr(os, "execve", lambda *args: calls.append(args))
    monkeypatch.setattr(sys, "argv", ["kerasexport", "export", "m.keras", "m.onnx", "--backend", "jax"])
    monkeypatch.delenv("KERASEXPORT_CLI_RESTARTED", raising=False)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # as this test process has Keras
    with click.Context(cli.main):  # as a command runs: the entry point restarts
        assert backend.use("jax") == "jax"
    (executable, argv, env), = calls
    assert executable == sys.executable
    assert argv == [sys.executable, "-m", "kerasexport.cli", "export", "m.keras", "m.onnx", "--backend", "jax"]
    assert env["KERAS_BACKEND"] == "jax" and env["KERASEXPORT_CLI_RESTARTED"] == "1"
    # The backend Keras already has needs no restart.
    calls.clear()
    assert backend.use("tensorflow") == "tensorflow" and calls == []


def test_options_are_json_when_they_parse():
    from kerasexport.commands import parameters

    parsed = parameters.parse_options(None, None, [
        "opset_version=17", "is_static=true", 'jax2tf_kwargs={"native_serialization": false}',
        "name=serving", "empty=",
    ])
    assert parsed == {"opset_version": 17, "is_static": True,
                      "jax2tf_kwargs": {"native_serialization": False}, "name": "serving", "empty": ""}


def test_signatures_in_json_become_what_the_api_takes():
    import keras

    from kerasexport.commands import parameters

    assert parameters.to_specs([[None, 28, 28, 1]]) == [[None, 28, 28, 1]]
    specs = parameters.to_specs({"a": {"shape": [None, 4], "dtype": "int32"}, "b": [None, 2],
                                 "c": {"shape": [None, 3]}})
    assert isinstance(specs["a"], keras.InputSpec)
    assert (specs["a"].shape, specs["a"].dtype) == ((None, 4), "int32")
    assert specs["b"] == [None, 2] and specs["c"] == [None, 3]  # the model's dtype applies


@pytest.mark.parametrize("output, expected", [
    ("model.onnx", "onnx"), ("out/model.xml", "openvino"), ("model.TFLITE", "litert"),
    ("model.pt2", "torch"), ("serving/model/1", "tf_saved_model"), ("serving/model/1.2", "tf_saved_model"),
    ("model.savedmodel/", "tf_saved_model"),
])
def test_the_format_follows_keras_s_suffix_of_output(output, expected):
    from kerasexport.commands.export import format_for

    assert format_for(output) == expected
