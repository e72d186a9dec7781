"""A selection of Keras's own export tests, run with their exporters routed through kerasexport.

Keras's ``keras/src/export/saved_model_test.py`` is the contract our
`kerasexport.export` and `kerasexport.ExportArchive` follow. The full suite
runs (both routed and raw, every backend) with
``scripts/keras-export-suite.sh``; here, in this process, the tests that
cover what kerasexport adds or changes on each backend.
"""

import importlib
import unittest

import keras
import pytest

import keras_export_suite

BACKEND = keras.backend.backend()
SELECTION = {
    "tensorflow": [
        "ExportArchiveTest::test_low_level_model_export_subclass",
        "ExportArchiveTest::test_low_level_model_export_with_alias",
        "ExportArchiveTest::test_endpoint_registration_tf_function",
        "ExportArchiveTest::test_model_combined_with_tf_preprocessing",
        "ExportArchiveTest::test_variable_collection",
        "ExportArchiveTest::test_export_archive_errors",
        "ExportArchiveTest::test_export_saved_model_errors",
        "ExportSavedModelTest::test_model_with_rng_export_functional",
    ],
    "jax": [
        "ExportArchiveTest::test_low_level_model_export_with_dynamic_dims_functional",
        "ExportArchiveTest::test_low_level_model_export_with_jax2tf_kwargs",
        "ExportArchiveTest::test_low_level_model_export_with_jax2tf_polymorphic_shapes",
        "ExportArchiveTest::test_jax_endpoint_registration_tf_function",
        "ExportArchiveTest::test_track_multiple_layers",
        "ExportArchiveTest::test_export_archive_errors",
        "ExportSavedModelTest::test_jax_specific_kwargs_subclass_true_none",
    ],
    "torch": [
        "ExportSavedModelTest::test_standard_model_export_subclass",
        "ExportSavedModelTest::test_model_with_input_structure_tuple",
        "ExportSavedModelTest::test_model_with_input_structure_dict",
        "ExportSavedModelTest::test_model_with_multiple_inputs",
        "ExportSavedModelTest::test_input_signature_subclass_backend_tensor",
        "ExportSavedModelTest::test_model_with_tf_data_layer_functional",
    ],
}


@pytest.fixture
def keras_tests(monkeypatch):
    """Keras's test module, its exporters pointed at kerasexport for the test."""
    import keras.src.export as keras_export

    tests = importlib.import_module("keras.src.export.saved_model_test")
    monkeypatch.setattr(tests, "saved_model", keras_export_suite.routed_saved_model())
    monkeypatch.setattr(keras_export, "export_saved_model", keras_export_suite.export_saved_model)
    filtering = keras.config.is_traceback_filtering_enabled()
    yield tests
    if filtering:  # Keras's TestCase turns it off, for every later test of the session
        keras.config.enable_traceback_filtering()


@pytest.mark.parametrize("name", SELECTION[BACKEND])
def test_keras_own_export_test_passes_through_kerasexport(keras_tests, name):
    case, method = name.split("::")
    result = unittest.TestResult()
    getattr(keras_tests, case)(method).run(result)
    problems = [text for _, text in result.failures + result.errors]
    assert result.testsRun == 1 and not problems and not result.skipped, "\n".join(problems)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="backend-independent signature check; runs once")
def test_where_only_keras_wording_differs_the_exception_class_is_keras(keras_tests):
    # `input_signature=(123,)`: Keras reads a tuple holding the number 123
    # ("Unsupported x=123", a TypeError); we read the shape (123,), which
    # does not fit the model. Same class, our own words.
    result = unittest.TestResult()
    keras_tests.ExportSavedModelTest("test_input_signature_error").run(result)
    (failure,) = [text for _, text in result.failures]
    assert 'AssertionError: "Unsupported x=" does not match "Input #1 has rank 2' in failure
