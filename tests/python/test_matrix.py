"""Every model kind x all five formats, on this process's Keras backend.

Each artifact is exported with `kerasexport.export` (shared with the other
tests through the session's `zoo_export`), then reloaded in a fresh process
by its runtime alone with the runtime's defaults (`fresh_reload.py`: no
kerasexport, Keras or model code) and compared with the model at two batch
sizes; the same process then loads them with `kerasexport.load()`, which
`test_artifact.py` checks (the session's `fresh_reloads`). OpenVINO IRs are compiled in float32 as kerasexport tells users to,
and with no configuration too, which must be float32 unless the export
reported and warned otherwise. One fresh process per format reloads all that format's artifacts.
`make test` runs this file once per backend: 3 backends x 5 formats x the zoo.
"""

import keras
import numpy as np
import pytest

import zoo
from kerasexport import routes

FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
RTOL = 1e-4
# What a fresh process may import to run each format, among the heavy
# packages. TensorFlow imports Keras itself, and Keras its backend (the
# KERAS_BACKEND the test process passes on): a SavedModel is not checked.
RUNTIME_PACKAGES = {
    "tf_saved_model": {"tensorflow", "keras", "jax", "torch"}, "onnx": set(), "openvino": set(),
    "litert": set(), "torch": {"torch"},
}


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
def test_export_reload_in_a_fresh_process_and_compare(fresh_reloads, format, name):
    cells, info = fresh_reloads(format)
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
