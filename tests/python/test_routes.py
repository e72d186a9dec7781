"""Route choice, forced routes, fallback, the worker's errors and options."""

import os
import re

import keras
import pytest

import kerasexport
import zoo
from kerasexport import atomic
from kerasexport import errors
from kerasexport import formats
from kerasexport import routes


def backend():
    return keras.backend.backend()


def leftovers(parent):
    return [e for e in os.listdir(parent) if e.startswith(atomic.STAGING_PREFIX)]


def artifact_bytes(path):
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    chunks = []
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                chunks.append(f.read())
    return b"".join(chunks)


# plan() --------------------------------------------------------------------


def test_the_plan_is_native_then_cross_where_native_exists():
    assert [r.name for r in routes.plan("jax", "onnx")] == ["native", "cross-backend"]
    assert [r.backend for r in routes.plan("jax", "onnx")] == ["jax", "tensorflow"]


def test_torch_savedmodel_has_only_the_cross_route():
    (only,) = routes.plan("torch", "tf_saved_model")
    assert only.name == "cross-backend"
    assert "no native tf_saved_model exporter on the torch backend" in only.reason


def test_forcing_native_where_there_is_none_is_a_route_error():
    with pytest.raises(errors.RouteError, match="no native tf_saved_model exporter.*route='cross-backend'"):
        routes.plan("torch", "tf_saved_model", "native")


def test_an_unknown_route_lists_the_routes():
    with pytest.raises(errors.RouteError, match="Unknown route 'fast'.*native, cross-backend"):
        routes.plan("jax", "onnx", "fast")


def test_describe_gives_the_error_keras_wrapped_not_the_wrapper():
    wrapped = AttributeError(
        "Exception encountered when calling Functional.call().\n\n"
        "\x1b[1m'str' object has no attribute '_error_repr'\x1b[0m\n\n"
        "Arguments received by Functional.call():\n  \u2022 inputs=jnp.ndarray(shape=(batch, 2))"
    )
    assert routes.describe(wrapped) == (
        "AttributeError: 'str' object has no attribute '_error_repr' (in Functional.call())"
    )
    symbolic = ValueError(
        "Exception encountered when calling L.call().\n\n\x1b[1mCould not automatically "
        "infer the output shape / dtype of 'l' (of type L). Either ... Error encountered:"
        "\n\ninner text\x1b[0m\n\nArguments received by L.call():\n  \u2022 args=()"
    )
    assert routes.describe(symbolic) == "ValueError: inner text (in L.call())"
    nested = TypeError(
        "<class 'Sequential'> could not be deserialized properly. Please ...\n\nconfig={...}.\n\n"
        "Exception encountered: <class 'Lambda'> could not be deserialized properly.\n\n"
        "config={...}.\n\nException encountered: Could not locate function 'square'. Make sure ..."
    )
    assert routes.describe(nested) == "TypeError: Could not locate function 'square'. Make sure ..."
    assert routes.describe(ValueError("plain\nsecond line")) == "ValueError: plain"


def test_a_native_failure_inside_a_layer_is_reported_with_its_own_text(tmp_path, monkeypatch):
    fmt = formats.get("onnx")

    class Broken(keras.layers.Layer):
        def call(self, x):
            raise ValueError("the exporter cannot trace this")

    def write(model, *args, **kwargs):
        Broken()(keras.ops.ones((1, 2)))  # raises as Keras wraps it

    monkeypatch.setattr(fmt, "write", write)
    with pytest.raises(errors.RouteError) as info:
        kerasexport.export(zoo.build("sequential"), str(tmp_path / "m.onnx"), format="onnx", route="native")
    assert str(info.value) == (
        "The native route failed: ValueError: the exporter cannot trace this (in Broken.call())"
    )


def test_a_fallback_failing_the_same_way_is_not_told_twice():
    from kerasexport import api

    native, cross = routes.plan("jax", "onnx")
    same = errors.VerificationError("The ONNX file takes 3 inputs, the model 1.")
    combined = api._combined([(native, same), (cross, errors.VerificationError(str(same)))])
    assert str(combined) == (
        "The ONNX file takes 3 inputs, the model 1. (The native route failed the same way first.)"
    )
    other = api._combined([(native, ValueError("boom")), (cross, same)])
    assert str(other).endswith("(Tried first: the native route, which failed with ValueError: boom.)")


# export() by route -----------------------------------------------------------


@pytest.mark.parametrize("format", ["tf_saved_model", "onnx"])
def test_forced_cross_route_writes_a_verified_artifact_without_local_paths(tmp_path, format):
    model = zoo.build("sequential")
    target = str(tmp_path / ("m.onnx" if format == "onnx" else "m"))
    report = kerasexport.export(model, target, format=format, route="cross-backend")
    assert report.route == "cross-backend"
    assert "route='cross-backend' was requested" in report.reason
    assert report.verified and report.max_relative_error <= 1e-4
    content = artifact_bytes(target)
    assert str(tmp_path).encode() not in content
    assert atomic.STAGING_PREFIX.encode() not in content
    assert b"model.keras" not in content
    assert leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(target)]


def test_automatic_choice_reports_native_where_it_works(tmp_path):
    report = kerasexport.export(zoo.build("sequential"), str(tmp_path / "m.onnx"), format="onnx")
    assert report.route == "native"
    assert report.reason == f"Keras exports onnx natively on the {backend()} backend"


def test_a_failing_native_exporter_falls_back_to_the_cross_route(tmp_path, monkeypatch):
    fmt = formats.get("onnx")

    def broken(*args, **kwargs):
        raise ValueError("Reverse scan is not supported")

    monkeypatch.setattr(fmt, "write", broken)  # the worker imports its own copy
    report = kerasexport.export(zoo.build("sequential"), str(tmp_path / "m.onnx"), format="onnx")
    assert report.route == "cross-backend"
    assert "the native route failed (ValueError: Reverse scan is not supported)" in report.reason


def test_an_artifact_its_runtime_rejects_falls_back_too(tmp_path, monkeypatch):
    fmt = formats.get("onnx")

    def garbage(model, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"not an onnx file")

    monkeypatch.setattr(fmt, "write", garbage)
    report = kerasexport.export(zoo.build("sequential"), str(tmp_path / "m.onnx"), format="onnx")
    assert report.route == "cross-backend"
    assert "VerificationError: The exported artifact could not be loaded" in report.reason


def test_forced_native_does_not_fall_back(tmp_path, monkeypatch):
    fmt = formats.get("onnx")
    monkeypatch.setattr(fmt, "write", lambda *a, **k: (_ for _ in ()).throw(ValueError("boom")))
    with pytest.raises(errors.RouteError, match="The native route failed: ValueError: boom"):
        kerasexport.export(zoo.build("sequential"), str(tmp_path / "m.onnx"), format="onnx", route="native")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch has no native SavedModel")
def test_torch_savedmodel_goes_cross_backend_and_says_why(tmp_path):
    report = kerasexport.export(zoo.build("cnn"), str(tmp_path / "m"))
    assert report.route == "cross-backend"
    assert report.reason.startswith("Keras has no native tf_saved_model exporter on the torch backend")


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax2onnx behaviour")
def test_jax_onnx_of_a_bidirectional_lstm_falls_back(tmp_path):
    report = kerasexport.export(zoo.build("lstm"), str(tmp_path / "m.onnx"), format="onnx")
    assert report.route == "cross-backend"
    assert "Reverse scan is not supported" in report.reason


# models that cannot take the cross route ---------------------------------------


def cross_route_refusal(tmp_path, model, format="onnx", **options):
    """The message of the forced cross route's RouteError; nothing left on disk."""
    target = tmp_path / ("m.onnx" if format == "onnx" else "m")
    with pytest.raises(errors.RouteError) as info:
        kerasexport.export(model, str(target), format=format, route="cross-backend", **options)
    assert os.listdir(tmp_path) == []
    return str(info.value)


def test_registered_functions_reach_the_worker(tmp_path):
    # zoo holds no custom class of this model: only its functions name it.
    report = kerasexport.export(zoo.with_functions(), str(tmp_path / "m.onnx"), format="onnx", route="cross-backend")
    assert report.verified and report.max_relative_error <= 1e-4


def test_an_r_function_is_called_one_in_the_message(tmp_path):
    # reticulate wraps an R closure in a Python function of its module rpytools.
    def python_function(x):
        return x

    python_function.__module__ = "rpytools.call"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(python_function)])
    message = cross_route_refusal(tmp_path, model)
    assert re.search("layer 'lambda.*' uses an R function \\(passed through reticulate\\)", message)
    assert "R code runs only in this R session" in message


def test_a_lambda_of_its_argument_only_takes_the_cross_route(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * t + 1.0)])
    report = kerasexport.export(model, str(tmp_path / "m.onnx"), format="onnx", route="cross-backend")
    assert report.verified and report.max_relative_error <= 1e-4


def test_a_model_reloaded_without_its_weights_is_refused_with_keras_advice(tmp_path):
    # Reloaded from its .keras file, the model has no weights; exported, it
    # would get fresh random ones.
    message = cross_route_refusal(tmp_path, zoo.two_inputs(), input_signature=[(None, 3), (None, 4)])
    assert "the model reloaded from its .keras file has 0 weights, the original 2" in message
    assert "build_from_config" in message
    assert "register_keras_serializable" not in message


def test_a_worker_failure_carries_its_last_error_line_and_stays_quiet(tmp_path, capfd):
    message = cross_route_refusal(tmp_path, zoo.fails_to_reload())
    assert "could not reload the model from its .keras file" in message
    assert "FailsToReload refuses to be rebuilt" in message.split("Worker's last error: ")[1]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="needs a model the TF backend cannot call")
def test_a_worker_failure_inside_a_layer_names_the_layers_error(tmp_path):
    # Keras wraps errors raised in `call()`: the first line names the layer,
    # the error's own text follows, and the last lines list the arguments.
    last_error = cross_route_refusal(tmp_path, zoo.fails_on_tensorflow()).split("Worker's last error: ")[1]
    assert last_error.startswith(
        "ValueError: FailsOnTensorFlow refuses the tensorflow backend (in FailsOnTensorFlow.call())"
    )


def test_verbose_shows_the_worker_output(tmp_path, capfd):
    with pytest.raises(errors.RouteError):
        kerasexport.export(
            zoo.fails_to_reload(), str(tmp_path / "m.onnx"), format="onnx",
            route="cross-backend", verbose=True,
        )
    assert "Traceback (most recent call last)" in capfd.readouterr().err


# options ------------------------------------------------------------------------


def test_opset_version_reaches_the_onnx_file_on_both_routes(tmp_path):
    import onnx

    for route in ("native", "cross-backend"):
        target = str(tmp_path / f"{route}.onnx")
        kerasexport.export(zoo.build("sequential"), target, format="onnx", route=route, opset_version=13)
        opsets = {o.domain: o.version for o in onnx.load(target).opset_import}
        assert opsets[""] == 13, route


def test_cross_route_options_are_the_tensorflow_backends(tmp_path):
    with pytest.raises(errors.OptionError, match=r"is_static do not apply.*none by the cross-backend route \(tensorflow backend\)"):
        kerasexport.export(zoo.build("sequential"), str(tmp_path / "m"), route="cross-backend", is_static=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax-only options")
def test_jax_savedmodel_options_are_passed_to_keras(tmp_path, monkeypatch):
    from keras.src.export import saved_model

    seen = {}
    original = saved_model.export_saved_model

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(saved_model, "export_saved_model", spy)
    report = kerasexport.export(
        zoo.build("sequential"), str(tmp_path / "m"), is_static=True,
        jax2tf_kwargs={"enable_xla": True},
    )
    assert report.route == "native"
    assert seen["is_static"] is True and seen["jax2tf_kwargs"] == {"enable_xla": True}


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch has no SavedModel options")
def test_torch_savedmodel_options_error_names_what_applies(tmp_path):
    with pytest.raises(errors.OptionError, match="jax2tf_kwargs do not apply to tf_saved_model exported from the torch backend.*none by the cross-backend route"):
        kerasexport.export(zoo.build("sequential"), str(tmp_path / "m"), jax2tf_kwargs={})
