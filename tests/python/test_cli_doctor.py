"""`kerasexport doctor` on this machine, and the survey behind it."""

import importlib.metadata
import importlib.util
import json

from cli_run import ONCE, run

from kerasexport import formats

pytestmark = ONCE
BACKENDS = ("tensorflow", "jax", "torch")


def installed(module):
    return importlib.util.find_spec(module) is not None


def test_doctor_json_lists_every_format_for_each_installed_backend(tmp_path):
    result = run("doctor", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    survey = json.loads(result.stdout)
    assert [b["name"] for b in survey["backends"]] == list(BACKENDS)
    for backend in survey["backends"]:
        assert backend["installed"] == installed(backend["name"])
    here = [b for b in BACKENDS if installed(b)]
    assert [(f["backend"], f["format"]) for f in survey["formats"]] == [
        (b, f) for b in here for f in formats.FORMATS
    ]
    by_pair = {(f["backend"], f["format"]): f for f in survey["formats"]}
    if "torch" in here:  # Keras has no SavedModel exporter on PyTorch
        assert [r["route"] for r in by_pair["torch", "tf_saved_model"]["routes"]] == ["cross-backend"]
    packages = {p["module"]: p for p in survey["packages"]}
    for module in ("keras", "onnx", "onnxruntime"):
        assert packages[module]["installed"] == installed(module)
    if installed("onnxruntime"):
        assert packages["onnxruntime"]["version"] == importlib.metadata.version("onnxruntime")


def test_doctor_prints_tables_and_what_is_missing(tmp_path):
    result = run("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Backends" in text and "Runtimes and converters" in text
    for backend in BACKENDS:
        if installed(backend):
            assert any(line.split()[:2] == [backend, "onnx"] for line in text.splitlines())
    assert text.splitlines()[-1].startswith("Missing: ")


def test_a_missing_converter_leaves_the_other_route(monkeypatch):
    from kerasexport.commands import capabilities
    from kerasexport.commands import doctor

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax2onnx" else real(name, *a))
    survey = capabilities.survey()
    jax_onnx = next(f for f in survey["formats"] if (f["backend"], f["format"]) == ("jax", "onnx"))
    native, cross = jax_onnx["routes"]
    assert (native["route"], native["available"], native["missing"]) == ("native", False, ["jax2onnx"])
    assert cross["available"] and jax_onnx["writable"]
    text = doctor.render(survey)
    assert text.splitlines()[-1] == "Missing: jax2onnx. Install with: pip install jax2onnx"
    assert "jax2onnx        missing" in text
