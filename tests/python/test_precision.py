"""Reduced precision (`precision=`): each format's toolchain, a budget, refusals before work.

Every reduced artifact is reopened here by its runtime alone with its
defaults (onnxruntime, `openvino.Core().compile_model(path, "CPU")`, the
LiteRT interpreter) and compared with the float model by this file's own
measure, on rows the export never saw; sizes are read from disk.
"""

import os

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors
from kerasexport.precision import budget as budget_lib
from kerasexport.precision import calibration as calibration_lib

import cli_run

ROWS = 256
# (format, file name, precision, export options, the budget this file holds it to)
CELLS = [
    ("onnx", "m.onnx", "float16", {}, ("rtol", 1e-2)),
    ("onnx", "m.onnx", "int8", {"calibrate": True}, ("agreement", 0.99)),
    # Dynamic int8 needs no calibration; the rows still serve to measure the budget on.
    ("onnx", "m.onnx", "int8", {"quantization": "dynamic", "calibrate": True}, ("agreement", 0.99)),
    ("openvino", "m.xml", "float16", {}, ("rtol", 1e-2)),
    ("openvino", "m.xml", "bfloat16", {}, ("rtol", 1e-2)),
    ("openvino", "m.xml", "int8", {"calibrate": True}, ("agreement", 0.99)),
    ("litert", "m.tflite", "float16", {}, ("rtol", 1e-2)),
    ("litert", "m.tflite", "int8", {"calibrate": True}, ("agreement", 0.99)),
    # Keras's own int8 (dynamic), carried by the SavedModel and .pt2 exporters.
    ("tf_saved_model", "sm", "int8", {"calibrate": True}, ("agreement", 0.99)),
    ("torch", "m.pt2", "int8", {"calibrate": True}, ("agreement", 0.99)),
]
# Largest share of float32's bytes, per precision (Keras's int8 keeps float biases and scales).
SIZE_SHARE = {"float16": 0.55, "int8": 0.35}
KERAS_INT8_SHARE = 0.75


_CENTERS = np.random.default_rng(0).normal(scale=2.0, size=(10, 32)).astype("float32")


def _rows(seed, n=ROWS, labels=False):
    """Rows around ten class centres, as a classifier's real inputs cluster."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    x = (_CENTERS[y] + rng.normal(size=(n, 32))).astype("float32")
    return (x, y) if labels else x


def _classifier():
    """A small trained classifier (int8 budgets are about its decisions, so it must make some)."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((32,), name="features")
    h = keras.layers.Dense(256, activation="relu")(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    x, y = _rows(100, 2048, labels=True)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def classifier():
    return _classifier()


@pytest.fixture(scope="module")
def float_sizes(classifier, tmp_path_factory):
    """Bytes on disk of each format's float32 artifact of the classifier."""
    root = tmp_path_factory.mktemp("float32")
    sizes = {}
    for format, name, *_ in CELLS:
        if format in sizes:
            continue
        path = root / name
        kerasexport.export(classifier, str(path), format=format)
        sizes[format] = _disk_size(path)
    return sizes


def _disk_size(path):
    path = str(path)
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    size = os.path.getsize(path)
    if path.endswith(".xml"):
        size += os.path.getsize(path[:-4] + ".bin")
    return size


def _run_with_runtime_defaults(path, x):
    """The artifact's outputs, run by its runtime alone with that runtime's defaults."""
    path = str(path)
    if path.endswith(".onnx"):
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    if path.endswith(".xml"):
        import openvino

        compiled = openvino.Core().compile_model(path, "CPU")
        return compiled(x)[compiled.outputs[0]]
    if os.path.isdir(path):
        import tensorflow as tf

        serve = tf.saved_model.load(path).signatures["serving_default"]
        (name,) = serve.structured_input_signature[1]
        return next(iter(serve(**{name: tf.constant(x)}).values())).numpy()
    if path.endswith(".pt2"):
        import torch

        module = torch.export.load(path).module()
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    (name,) = runner.get_input_details()
    return next(iter(runner(**{name: x}).values()))


@pytest.mark.parametrize("format,name,precision,options,held", CELLS,
                         ids=[f"{c[0]}-{c[2]}" + ("-dynamic" if c[3].get("quantization") == "dynamic" else "")
                              for c in CELLS])
def test_reduced_artifacts_compute_the_model_within_budget_in_their_runtime(
        classifier, float_sizes, tmp_path, format, name, precision, options, held):
    options = dict(options)
    if options.pop("calibrate", False):
        options["calibration_data"] = _rows(1)
    path = tmp_path / name
    report = kerasexport.export(classifier, str(path), format=format, precision=precision, **options)

    assert report.precision == precision
    assert report.reduced["precision"] == precision and report.reduced["size"] == _disk_size(path)
    assert kerasexport.load(path).precision == precision
    assert precision in report.summary()

    x = _rows(2)  # rows the export never saw
    expected = cli_run.outputs(classifier, x)
    got = np.asarray(_run_with_runtime_defaults(path, x))
    assert got.shape == expected.shape
    kind, limit = held
    if kind == "rtol":
        worst = np.max(np.abs(got.astype(np.float64) - expected)) / np.max(np.abs(expected))
        assert worst <= limit, worst
    else:
        agreement = np.mean(got.argmax(axis=1) == expected.argmax(axis=1))
        assert agreement >= limit, agreement

    # bfloat16 changes how OpenVINO computes, not what it stores.
    share = KERAS_INT8_SHARE if format in ("tf_saved_model", "torch") else SIZE_SHARE.get(precision, 1.0)
    assert _disk_size(path) <= share * float_sizes[format], (_disk_size(path), float_sizes[format])


def test_the_report_gives_the_measured_figures_and_the_budget(classifier, tmp_path):
    report = kerasexport.export(classifier, str(tmp_path / "m.onnx"), format="onnx", precision="int8",
                                calibration_data=_rows(1))
    reduced = report.reduced
    assert reduced["rows"] == ROWS
    assert reduced["agreement"] == 0.99 and reduced["rtol"] is None  # class scores: agreement holds
    assert 0.99 <= reduced["top1_agreement"] <= 1
    assert 0 < reduced["mean_relative_error"] <= reduced["max_relative_error"]
    assert reduced["float32_size"] > reduced["size"]
    assert "static int8" in reduced["method"]


def test_an_impossible_budget_is_refused_with_the_figures_and_nothing_written(classifier, tmp_path):
    path = tmp_path / "out" / "m.onnx"
    with pytest.raises(errors.VerificationError, match=r"over its budget: worst relative error [0-9.e-]+ > rtol 1e-09"):
        kerasexport.export(classifier, str(path), format="onnx", precision="float16", rtol=1e-9)
    assert os.listdir(tmp_path) == []


def test_an_int8_classifier_given_an_rtol_is_held_to_it_too(classifier, tmp_path):
    # Class scores are held to agreement by default; an rtol the user passes applies as well.
    with pytest.raises(errors.VerificationError, match=r"worst relative error [0-9.e-]+ > rtol 1e-06"):
        kerasexport.export(classifier, str(tmp_path / "m.tflite"), format="litert", precision="int8",
                           calibration_data=_rows(1), rtol=1e-6)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("format,name,precision,error,words", [
    ("onnx", "m.onnx", "bfloat16", errors.PrecisionError, "offers float16, int8"),
    ("litert", "m.tflite", "bfloat16", errors.PrecisionError, "offers float16, int8"),
    ("tf_saved_model", "sm", "float16", errors.PrecisionError, "offers int8"),
    ("torch", "m.pt2", "bfloat16", errors.PrecisionError, "offers int8"),
    ("onnx", "m.onnx", "int4", errors.PrecisionError, "must be one of"),
    ("onnx", "m.onnx", "int8", errors.CalibrationError, "calibration_data="),
])
def test_what_a_toolchain_cannot_do_is_refused_before_any_work(classifier, tmp_path, format, name,
                                                               precision, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        kerasexport.export(classifier, str(tmp_path / name), format=format, precision=precision)
    assert os.listdir(tmp_path) == []


def test_keras_int8_is_dynamic_only(classifier, tmp_path):
    with pytest.raises(errors.PrecisionError, match="offers dynamic"):
        kerasexport.export(classifier, str(tmp_path / "sm"), format="tf_saved_model", precision="int8",
                           quantization="static", calibration_data=_rows(1))
    assert os.listdir(tmp_path) == []


def test_options_that_set_the_precision_themselves_conflict_with_it(classifier, tmp_path):
    with pytest.raises(errors.OptionError, match="compress_to_fp16"):
        kerasexport.export(classifier, str(tmp_path / "m.xml"), format="openvino", precision="float16",
                           compress_to_fp16=True)
    with pytest.raises(errors.ArgumentError, match="reduced precision only"):
        kerasexport.export(classifier, str(tmp_path / "m.onnx"), format="onnx", calibration_data=_rows(1))
    assert os.listdir(tmp_path) == []


def test_calibration_data_in_every_accepted_form():
    inputs = {"a": keras.InputSpec(shape=(None, 3), dtype="float32", name="a"),
              "b": keras.InputSpec(shape=(None, 2), dtype="float32", name="b")}
    signature = [inputs]
    a, b = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    names = calibration_lib.normalize({"a": a, "b": b}, signature).names
    for form in ({"a": a, "b": b}, [{"a": a[:2], "b": b[:2]}, {"a": a[2:], "b": b[2:]}],
                 ({"a": a[i:i + 1], "b": b[i:i + 1]} for i in range(4))):
        got = calibration_lib.normalize(form, signature)
        assert got.rows == 4 and got.names == names
        np.testing.assert_array_equal(got.arrays[names.index("a")], a)
    with pytest.raises(errors.CalibrationError, match="the model's inputs are"):
        calibration_lib.normalize({"a": a}, signature)
    with pytest.raises(errors.CalibrationError, match="is one array, but the model takes 2 inputs"):
        calibration_lib.normalize(a, signature)


def test_calibration_rows_must_match_the_input_shape(classifier, tmp_path):
    with pytest.raises(errors.CalibrationError, match=r"has shape \(8, 5\); the model takes \(None, 32\)"):
        kerasexport.export(classifier, str(tmp_path / "m.onnx"), format="onnx", precision="int8",
                           calibration_data=np.zeros((8, 5), "float32"))
    assert os.listdir(tmp_path) == []


def test_the_budget_measures_agreement_only_on_class_scores():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    moved = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.3, 0.7]])  # row 3's decision flips
    measured = budget_lib.compare([("y", scores, moved)])
    assert measured.classifier and measured.top1_agreement == 0.75
    assert measured.max_relative_error == pytest.approx(0.2 / 0.9)
    regression = budget_lib.compare([("y", np.array([[1.0, 3.0]]), np.array([[1.0, 2.7]]))])
    assert not regression.classifier and regression.top1_agreement is None
    with pytest.raises(errors.VerificationError, match="top-1 agreement 0.75 < agreement 0.99"):
        budget_lib.judge(budget_lib.budget("int8"), measured)
    with pytest.raises(errors.VerificationError, match="worst relative error 0.1 > rtol 0.05"):
        budget_lib.judge(budget_lib.budget("int8"), regression)
    assert budget_lib.judge(budget_lib.budget("int8", rtol=0.2), regression)["rtol"] == 0.2


def test_the_command_line_writes_and_refuses_reduced_precision(classifier, tmp_path):
    model = tmp_path / "model.keras"
    classifier.save(model)
    np.save(tmp_path / "rows.npy", _rows(1))
    result = cli_run.run("export", model, "m.onnx", "--precision", "int8", "--calibration-data", "rows.npy",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "int8" in result.stdout and "top-1 agreement" in result.stdout
    inspected = cli_run.run("inspect", "m.onnx", cwd=tmp_path)
    assert "precision: int8" in inspected.stdout
    refused = cli_run.run("export", model, "m16.onnx", "--precision", "bfloat16", cwd=tmp_path)
    cli_run.assert_refused(refused, 1, "bfloat16", "onnx")
    assert not (tmp_path / "m16.onnx").exists()
