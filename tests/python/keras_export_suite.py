"""pytest plugin: Keras's own SavedModel export tests, exporters routed through kerasexport.

Keras's ``keras/src/export/saved_model_test.py`` (from the installed Keras)
calls ``saved_model.export_saved_model``, ``saved_model.ExportArchive`` and
``model.export()``. With this plugin they call ``kerasexport.export`` (with
``overwrite=True``: Keras writes over an existing directory) and
``kerasexport.ExportArchive``. ``--keras-raw`` leaves Keras's own exporters in
place, to count what raw Keras passes on the same machine.

On PyTorch, Keras skips its whole ``ExportSavedModelTest`` class under NumPy 2
("via torch_xla ... incompatible"): that skip is about Keras's exporter, so
it is lifted here and the tests run, in both modes; per-test skips stay.

Run (one backend per process)::

    KERAS_BACKEND=torch python -m pytest -p keras_export_suite \
        --pyargs keras.src.export.saved_model_test

(``tests/python`` on ``PYTHONPATH``). ``scripts/keras-export-suite.sh`` runs
both modes on every backend and prints the counts.
"""

import importlib

import pytest

_KERAS_TESTS = "keras.src.export.saved_model_test"
_TORCH_XLA_SKIP = "incompatible with np 2.0"


def pytest_addoption(parser):
    parser.addoption(
        "--keras-raw", action="store_true", default=False,
        help="run Keras's tests against Keras's own exporters (for comparison)",
    )


def pytest_configure(config):
    import keras

    tests = importlib.import_module(_KERAS_TESTS)
    if keras.backend.backend() == "torch":
        cls = tests.ExportSavedModelTest
        cls.pytestmark = [
            mark for mark in getattr(cls, "pytestmark", [])
            if _TORCH_XLA_SKIP not in str(mark.kwargs.get("reason", ""))
        ]
    if not config.getoption("--keras-raw"):
        route_through_kerasexport(tests)


def export_saved_model(model, filepath, verbose=None, input_signature=None, **kwargs):
    """Keras's `export_saved_model()`, done by kerasexport."""
    import kerasexport

    kerasexport.export(
        model, filepath, format="tf_saved_model", verbose=verbose,
        input_signature=input_signature, overwrite=True, **kwargs,
    )


def routed_saved_model():
    """A copy of Keras's `saved_model` module whose entry points are kerasexport's."""
    import types

    from keras.src.export import saved_model

    import kerasexport

    routed = types.ModuleType(saved_model.__name__)
    routed.__dict__.update(vars(saved_model))
    routed.export_saved_model = export_saved_model
    routed.ExportArchive = kerasexport.ExportArchive
    return routed


def route_through_kerasexport(tests):
    """Point the test module's SavedModel entry points at kerasexport.

    Only the tests' own names change: kerasexport's native route calls
    Keras's real `saved_model.export_saved_model`, which must stay Keras's.
    """
    import keras.src.export as keras_export

    tests.saved_model = routed_saved_model()
    keras_export.export_saved_model = export_saved_model  # model.export() imports it from here


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    counts = {
        key: len(terminalreporter.stats.get(key, []))
        for key in ("passed", "failed", "error", "skipped")
    }
    ran = counts["passed"] + counts["failed"] + counts["error"]
    mode = "raw Keras" if terminalreporter.config.getoption("--keras-raw") else "kerasexport"
    import keras

    terminalreporter.write_line(
        f"keras-export-suite: {keras.backend.backend()} {mode}: "
        f"{counts['passed']} of {ran} passed ({counts['skipped']} skipped)"
    )
