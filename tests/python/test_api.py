"""Export, reload with the format's own runtime only, compare with the model."""

import os

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors
from kerasexport import routes

from conftest import predict

BATCH_SIZES = (1, 6)


def native_formats():
    return routes.NATIVE[keras.backend.backend()]


def reload_and_run(path, format, x):
    """Run the artifact with its runtime alone: TensorFlow or onnxruntime."""
    if format == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
        return np.asarray(loaded.serve(x))
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def target_for(tmp_path, format):
    return str(tmp_path / ("model.onnx" if format == "onnx" else "model"))


@pytest.mark.parametrize("format", ["tf_saved_model", "onnx"])
def test_native_export_reproduces_the_model(tmp_path, small_model, format):
    if format not in native_formats():
        pytest.skip(f"{format} has no native route on {keras.backend.backend()}")
    target = target_for(tmp_path, format)
    report = kerasexport.export(small_model, target, format=format)
    assert report.verified and report.route == "native"
    assert report.max_relative_error <= 1e-4
    rng = np.random.default_rng(0)
    for batch in BATCH_SIZES:
        x = rng.standard_normal((batch, 4)).astype("float32")
        np.testing.assert_allclose(reload_and_run(target, format, x), predict(small_model, x), rtol=1e-4, atol=1e-5)


def test_report_says_route_backend_format(tmp_path, small_model):
    format = native_formats()[0]
    report = kerasexport.export(small_model, target_for(tmp_path, format), format=format)
    assert report.backend == keras.backend.backend()
    assert report.format == format
    assert "native route" in report.summary()
    assert report.seconds > 0


def test_report_times_verification_within_the_export(tmp_path, small_model):
    format = native_formats()[0]
    verified = kerasexport.export(small_model, target_for(tmp_path, format), format=format)
    unverified = kerasexport.export(
        small_model, target_for(tmp_path, format), format=format, verify=False, overwrite=True
    )
    assert 0 < verified.verify_seconds < verified.seconds
    assert unverified.verify_seconds is None and unverified.max_relative_error is None


def test_unknown_format_lists_the_formats(tmp_path, small_model):
    with pytest.raises(errors.FormatError, match="Available formats: tf_saved_model, onnx"):
        kerasexport.export(small_model, str(tmp_path / "m"), format="tflite")
    assert os.listdir(tmp_path) == []


def test_an_option_that_does_not_apply_names_those_that_do(tmp_path, small_model):
    with pytest.raises(errors.OptionError, match="opset_version do not apply.*Options that apply"):
        kerasexport.export(small_model, str(tmp_path / "m"), format="tf_saved_model", opset_version=17)
    assert os.listdir(tmp_path) == []


def test_not_a_model_is_a_model_error(tmp_path):
    with pytest.raises(errors.ModelError, match="received an object of type builtins.dict"):
        kerasexport.export({"a": 1}, str(tmp_path / "m"))


def _artifacts_off_by_one(monkeypatch):
    """Make verification see every artifact's outputs shifted by 1.0."""
    from kerasexport import verify

    check = verify.check

    def check_shifted(model, run_artifact, signature, rtol=verify.DEFAULT_RTOL):
        def shifted(args):
            return keras.tree.map_structure(lambda a: np.asarray(a) + 1.0, run_artifact(args))

        return check(model, shifted, signature, rtol)

    monkeypatch.setattr(verify, "check", check_shifted)


def test_a_failed_verification_leaves_nothing(tmp_path, small_model, monkeypatch):
    _artifacts_off_by_one(monkeypatch)
    format = native_formats()[0]
    target = target_for(tmp_path, format)
    with pytest.raises(errors.VerificationError):
        kerasexport.export(small_model, target, format=format)
    assert os.listdir(tmp_path) == []


def test_a_failed_export_removes_the_directories_it_made(tmp_path, small_model, monkeypatch):
    _artifacts_off_by_one(monkeypatch)
    format = native_formats()[0]
    with pytest.raises(errors.VerificationError):
        kerasexport.export(small_model, target_for(tmp_path / "path" / "to", format), format=format)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("format", ["onnx"])
def test_a_single_file_format_takes_any_file_name(tmp_path, small_model, format):
    import onnxruntime

    target = tmp_path / "path" / "to" / "location"
    kerasexport.export(small_model, str(target), format=format)
    assert sorted(os.listdir(target.parent)) == ["location"]
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0],
                               predict(small_model, x), rtol=1e-5, atol=1e-6)
    assert isinstance(kerasexport.load(target), kerasexport.Artifact)


@pytest.mark.parametrize("rtol", [-1, "1e-4", float("nan"), True])
def test_rtol_must_be_a_non_negative_number(tmp_path, small_model, rtol):
    with pytest.raises(errors.ArgumentError, match="`rtol` must be a non-negative number"):
        kerasexport.export(small_model, str(tmp_path / "m"), rtol=rtol)
    assert os.listdir(tmp_path) == []


def test_onnx_dict_outputs_carry_the_model_names(tmp_path):
    x = keras.Input((4,), name="x")
    model = keras.Model(x, {"score": keras.layers.Dense(1)(x), "logits": keras.layers.Dense(3)(x)})
    target = str(tmp_path / "m.onnx")
    kerasexport.export(model, target, format="onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(target, providers=["CPUExecutionProvider"])
    assert sorted(o.name for o in session.get_outputs()) == ["logits", "score"]
    xs = np.ones((2, 4), dtype="float32")
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: xs})))
    want = model(xs)
    for name in ("logits", "score"):
        np.testing.assert_allclose(got[name], keras.ops.convert_to_numpy(want[name]), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf2onnx leaves Bitcast as it is")
def test_an_onnx_file_with_undefined_operations_says_which_and_what_to_do(tmp_path):
    # The TensorFlow backend's argmax uses a bit cast, which tf2onnx keeps.
    x = keras.Input((4,))
    model = keras.Model(x, keras.ops.argmax(keras.layers.Dense(3)(x), axis=-1))
    with pytest.raises(errors.VerificationError) as info:
        kerasexport.export(model, str(tmp_path / "m.onnx"), format="onnx", route="native")
    message = str(info.value)
    assert "operations ONNX does not define: Bitcast" in message
    assert "format='tf_saved_model'" in message
    assert "staging" not in message
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf2onnx behaviour")
def test_an_onnx_file_asking_for_more_inputs_than_the_model_says_why(tmp_path):
    # An adapted Normalization holds its mean and variance as tensors, not
    # variables; tf2onnx makes graph inputs of them, without values.
    norm = keras.layers.Normalization()
    norm.adapt(np.arange(12, dtype="float32").reshape(4, 3))
    model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(2)])
    with pytest.raises(errors.VerificationError) as info:
        kerasexport.export(model, str(tmp_path / "m.onnx"), format="onnx", route="native")
    message = str(info.value)
    assert "The ONNX file takes 3 inputs, the model 1" in message
    assert "normalization" in message and "format='tf_saved_model'" in message
    assert os.listdir(tmp_path) == []


# One opener ----

SUFFIXES = {"tf_saved_model": "", "onnx": ".onnx", "openvino": ".xml", "litert": ".tflite", "torch": ".pt2"}


@pytest.mark.parametrize("format", sorted(SUFFIXES))
def test_verification_and_load_open_the_artifact_with_one_function(tmp_path, small_model, monkeypatch, format):
    """The format's `open` serves both: export's verification calls it, then
    `load()` does; nothing else opens the artifact."""
    from kerasexport import formats

    if format not in native_formats():
        pytest.skip(f"{format} is written by a worker process on {keras.backend.backend()}")
    fmt = formats.get(format)
    real_open = fmt.open
    opened = []

    def recording_open(path, **options):
        artifact = real_open(path, **options)
        opened.append((os.path.basename(path), options, artifact))
        return artifact

    monkeypatch.setattr(fmt, "open", recording_open)
    target = str(tmp_path / f"model{SUFFIXES[format]}")
    report = kerasexport.export(small_model, target, format=format)
    loaded = kerasexport.load(target)
    assert report.verified
    as_users_open = [(name, options) for name, options, _ in opened if not options]
    assert as_users_open == [("model" + SUFFIXES[format], {})] * 2  # verification, then load()
    # Besides, only OpenVINO's look at its CPU plugin's bare defaults.
    assert [options for _, options, _ in opened if options] == (
        [{"config": {}}] if format == "openvino" else [])
    assert loaded is opened[-1][2]
    x = np.ones((3, 4), "float32")
    np.testing.assert_allclose(loaded.predict(x), predict(small_model, x), rtol=1e-4, atol=1e-5)


def test_every_format_module_keeps_the_format_contract():
    from kerasexport import formats

    for name in formats.FORMATS:
        module = formats.get(name)
        assert isinstance(module, formats.Format), name
        assert module.FORMAT == name
        assert set(module.OPTIONS) == set(routes.NATIVE), name
        assert all(s.startswith(".") for s in module.SUFFIXES), name
