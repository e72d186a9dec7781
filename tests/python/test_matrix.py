"""Every model kind x all five formats, on this process's Keras backend.

Each artifact is exported with `kerasexport.export` (shared with the other
tests through the session's `zoo_export`), then reloaded in a fresh process
by its runtime alone with the runtime's defaults (`fresh_reload.py`: no
kerasexport, Keras or model code) and compared with the model at two batch
sizes. OpenVINO IRs are compiled in float32 as kerasexport tells users to,
and with no configuration too, which must be float32 unless the export
reported and warned otherwise. One fresh process per format reloads all that format's artifacts.
`make test` runs this file once per backend: 3 backends x 5 formats x the zoo.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import fresh_reload
import zoo
from kerasexport import routes

FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
BATCH_SIZES = (1, 4)
RTOL = 1e-4
HERE = os.path.dirname(os.path.abspath(__file__))
# What a fresh process may import to run each format, among the heavy
# packages. TensorFlow imports Keras itself, and Keras its backend (the
# KERAS_BACKEND the test process passes on): a SavedModel is not checked.
RUNTIME_PACKAGES = {
    "tf_saved_model": {"tensorflow", "keras", "jax", "torch"}, "onnx": set(), "openvino": set(),
    "litert": set(), "torch": {"torch"},
}


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def reloaded(zoo_export, tmp_path_factory):
    """`reloaded(format)`: per model, the export's failure or the fresh
    process's outputs and the model's, at each batch size."""
    done = {}

    def reload(format):
        if format in done:
            return done[format]
        directory = tmp_path_factory.mktemp(f"fresh-{format}")
        manifest, cells = [], {}
        for name in sorted(zoo.MODELS):
            try:
                model, path, report = zoo_export(name, format)
            except Exception as exc:  # the cell's test re-raises it
                cells[name] = {"error": exc}
                continue
            entry = {"name": name, "format": format, "path": path, "batches": []}
            expected = {}
            for batch in BATCH_SIZES:
                x = zoo.inputs(name, batch, seed=batch)
                stem = directory / f"{name}-{batch}"
                entry["structure"] = fresh_reload.save_inputs(f"{stem}-in.npz", x)
                entry["batches"].append({"inputs": f"{stem}-in.npz", "outputs": f"{stem}-out.npz"})
                expected[batch] = keras.tree.map_structure(_numpy, model(x, training=False))
            manifest.append(entry)
            cells[name] = {"report": report, "expected": expected, "stem": directory / name}
        with open(directory / "manifest.json", "w") as f:
            json.dump(manifest, f)
        completed = subprocess.run(
            [sys.executable, os.path.join(HERE, "fresh_reload.py"), str(directory / "manifest.json")],
            capture_output=True, text=True, timeout=900,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        info = json.loads(completed.stdout.strip().splitlines()[-1])
        done[format] = (cells, info)
        return done[format]

    return reload


def assert_same(expected, got_file, where):
    """The model's outputs against a fresh process's saved outputs, within `RTOL`."""
    error = worst_error(expected, got_file, where)
    assert error <= RTOL, (where, error)


def worst_error(expected, got_file, where):
    """The worst relative error of a fresh process's saved outputs against the model's."""
    got = np.load(got_file)
    if isinstance(expected, dict):
        want = sorted(expected.items())
        assert sorted(got.files) == [k for k, _ in want], where
        pairs = [(k, ref, got[k]) for k, ref in want]
    else:
        # A list's outputs pair by position: the artifact keeps the model's order.
        want = keras.tree.flatten(expected)
        assert len(got.files) == len(want), where
        pairs = [(n, ref, got[n]) for n, ref in zip(got.files, want)]
    worst = 0.0
    for name, reference, result in pairs:
        assert result.shape == reference.shape, (where, name)
        scale = max(float(np.max(np.abs(reference))), 1e-6)
        worst = max(worst, float(np.max(np.abs(result.astype(np.float64) - reference))) / scale)
    return worst


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("format", FORMATS)
def test_export_reload_in_a_fresh_process_and_compare(reloaded, format, name):
    cells, info = reloaded(format)
    cell = cells[name]
    if "error" in cell:
        raise cell["error"]
    report = cell["report"]

    assert report.verified and report.max_relative_error <= RTOL
    if not routes.has_native(keras.backend.backend(), format):
        assert report.route == "cross-backend"
    assert name not in info["errors"], info["errors"].get(name)
    assert set(info["heavy"]) <= RUNTIME_PACKAGES[format], info["heavy"]
    for batch, expected in cell["expected"].items():
        assert_same(expected, f"{cell['stem']}-{batch}-out.npz", (format, name, batch))
    if format == "openvino":
        check_openvino_defaults(report, info["low_precision_layers"][name], cell, name)


def check_openvino_defaults(report, low, cell, name):
    """A default compile in the fresh process is what the report said: float32, or rounded and measured.

    Where OpenVINO's CPU plugin has bf16 units it rounds some layers of a
    default ``compile_model(path, "CPU")`` whatever the IR says; the export
    must have said so (no silent bf16), and a default compile the report
    says nothing about must be float32.
    """
    defaults = report.runtime_defaults
    if defaults is None:
        assert low == 0, (name, low)
        for batch, expected in cell["expected"].items():
            assert_same(expected, f"{cell['stem']}-{batch}-out.defaults.npz", ("openvino defaults", name, batch))
        return
    assert defaults["low_precision_layers"] == low, (name, defaults, low)
    assert defaults["max_relative_error"] > 0
    assert any(f"{defaults['max_relative_error']:.2g}" in w for w in report.warnings), report.warnings
