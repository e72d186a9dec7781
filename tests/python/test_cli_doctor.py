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


def cpuinfo_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.split(":")[0].strip() in ("flags", "Features"):
                return set(line.split(":", 1)[1].split())
    return set()


def test_doctor_names_the_processor_units_and_the_precision_each_runtime_defaults_to(tmp_path):
    result = run("doctor", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    processor = json.loads(result.stdout)["processor"]
    flags = cpuinfo_flags()
    assert processor["features"]["bf16"] == [f for f in ("avx512_bf16", "amx_bf16", "bf16") if f in flags]
    assert set(processor["features"]["int8"]) == flags & {
        "avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8", "asimddp", "i8mm"}
    runtimes = {r["runtime"]: r for r in processor["runtimes"]}
    assert runtimes["onnxruntime"]["default"] == "f32"
    if installed("openvino"):
        import openvino

        # OpenVINO's own answer, asked here in another process.
        plugin = openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
        assert runtimes["openvino"]["default"] == plugin
        if plugin != "f32":
            assert "INFERENCE_PRECISION_HINT f32" in runtimes["openvino"]["note"]
    text = run("doctor", cwd=tmp_path).stdout
    assert "Processor units that change the runtimes' defaults" in text
    bf16_line = next(line for line in text.splitlines() if line.split()[:1] == ["bf16"])
    assert bf16_line.split(None, 1)[1] == (", ".join(processor["features"]["bf16"]) or "none")


def test_the_processor_survey_reads_x86_and_arm_flags(tmp_path):
    from kerasexport import cpu

    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_int8 avx512_vnni\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp bf16 i8mm\n")
    assert cpu.features(cpu.flags(str(x86))) == {
        "bf16": ["avx512_bf16"], "fp16": [], "int8": ["avx512_vnni", "amx_int8"]}
    assert cpu.features(cpu.flags(str(arm))) == {
        "bf16": ["bf16"], "fp16": ["asimdhp"], "int8": ["asimddp", "i8mm"]}
    assert cpu.flags(str(tmp_path / "missing")) == frozenset()
    rounded = {r["runtime"]: r for r in cpu.runtimes(cpu.features(frozenset()), openvino_precision="bf16")}
    assert rounded["openvino"]["default"] == "bf16"
    assert "no int8 dot-product units" in rounded["onnxruntime"]["note"]
