"""ExportArchive: each example of Keras's ExportArchive docs, written,
reloaded with TensorFlow alone and compared with the model."""

import os

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors

from conftest import predict

BACKEND = keras.backend.backend()
BATCH_SIZES = (1, 6)

needs_archive = pytest.mark.skipif(
    BACKEND not in ("tensorflow", "jax"), reason="ExportArchive needs the TensorFlow or JAX backend"
)
needs_tensorflow = pytest.mark.skipif(BACKEND != "tensorflow", reason="needs the TensorFlow backend")


def spec(*shape, dtype="float32"):
    return keras.InputSpec(shape=shape, dtype=dtype)


def reload(path):
    import tensorflow as tf

    return tf.saved_model.load(path)


def as_numpy(structure):
    return keras.tree.map_structure(lambda t: np.asarray(t), structure)


def call_serving_default(loaded, *args):
    """Call the `serving_default` signature the way TF-Serving does: by name."""
    signature = loaded.signatures["serving_default"]
    arg_specs = keras.tree.flatten(signature.structured_input_signature)
    feeds = keras.tree.flatten(args)
    outputs = signature(**{s.name: v for s, v in zip(arg_specs, feeds)})
    return [np.asarray(v) for _, v in sorted(outputs.items())]


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.fixture
def dropout_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(2),
    ])


@pytest.fixture
def three_features():
    keras.utils.set_random_seed(4)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def two_input_functional(as_dict):
    keras.utils.set_random_seed(5)
    x1 = keras.Input((3,), name="x1")
    x2 = keras.Input((4,), name="x2")
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([x1, x2]))
    inputs = {"x1": x1, "x2": x2} if as_dict else [x1, x2]
    return keras.Model(inputs=inputs, outputs=outputs)


class TwoArguments(keras.Model):
    """A subclassed model whose call() takes two positional tensors."""

    def __init__(self):
        super().__init__()
        self.left = keras.layers.Dense(2)
        self.right = keras.layers.Dense(2)

    def call(self, x1, x2):
        return self.left(x1) + self.right(x2)


# Keras's examples ----


@needs_archive
def test_one_serve_endpoint(tmp_path, three_features):
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(three_features)
    archive.add_endpoint("serve", three_features.call, [spec(None, 3)])
    report = archive.write_out(target)

    assert report.endpoints == ("serve",) and report.serving_default == "serve"
    assert list(report.verified) == ["serve"] and report.unverified == {}
    loaded = reload(target)
    assert set(loaded.signatures.keys()) == {"serve", "serving_default"}
    for batch in BATCH_SIZES:
        x = data(batch, 3, seed=batch)
        np.testing.assert_allclose(np.asarray(loaded.serve(x)), predict(three_features, x), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(call_serving_default(loaded, x)[0], predict(three_features, x), rtol=1e-5, atol=1e-6)
    assert len(loaded.variables) == len(three_features.variables)


@needs_archive
def test_inference_and_training_endpoints(tmp_path, dropout_model):
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(dropout_model)
    archive.add_endpoint("call_inference", lambda x: dropout_model.call(x, training=False), [spec(None, 3)], reference=dropout_model)
    archive.add_endpoint("call_training", lambda x: dropout_model.call(x, training=True), [spec(None, 3)])
    report = archive.write_out(target)

    assert list(report.verified) == ["call_inference"]
    assert list(report.unverified) == ["call_training"]
    assert report.serving_default == "call_inference"
    loaded = reload(target)
    assert {"call_inference", "call_training", "serving_default"} <= set(loaded.signatures.keys())
    x = data(16, 3)
    expected = predict(dropout_model, x)
    np.testing.assert_allclose(np.asarray(loaded.call_inference(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(call_serving_default(loaded, x)[0], expected, rtol=1e-5, atol=1e-6)
    training = np.asarray(loaded.call_training(x))
    assert training.shape == expected.shape
    assert np.max(np.abs(training - expected)) > 1e-3  # dropout is on


@needs_archive
def test_augmentation_layers_are_identity_in_a_model_endpoint(tmp_path):
    import zoo

    model = zoo.build("augmented")
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model, [spec(None, 12, 12, 3)])
    archive.add_endpoint("augment", lambda x: model.layers[0](x, training=True), [spec(None, 12, 12, 3)])
    report = archive.write_out(target)

    assert list(report.verified) == ["serve"]
    loaded = reload(target)
    x = zoo.inputs("augmented", 4, seed=2)
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), predict(model, x), rtol=1e-4, atol=1e-5)
    assert np.max(np.abs(np.asarray(loaded.augment(x)) - x)) > 1  # still flips when asked


@needs_archive
def test_two_positional_inputs(tmp_path):
    keras.utils.set_random_seed(6)
    model = TwoArguments()
    model(data(2, 3), data(2, 4))  # build
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [spec(None, 3), spec(None, 4)])
    report = archive.write_out(target)

    assert list(report.verified) == ["serve"]
    loaded = reload(target)
    assert "serving_default" in loaded.signatures
    for batch in BATCH_SIZES:
        x1, x2 = data(batch, 3, seed=1), data(batch, 4, seed=2)
        expected = np.asarray(keras.ops.convert_to_numpy(model(x1, x2)))
        np.testing.assert_allclose(np.asarray(loaded.serve(x1, x2)), expected, rtol=1e-5, atol=1e-6)


@needs_archive
@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_functional_model_with_two_inputs(tmp_path, as_dict):
    model = two_input_functional(as_dict)
    specs = {"x1": spec(None, 3), "x2": spec(None, 4)} if as_dict else [spec(None, 3), spec(None, 4)]
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [specs])  # Keras's form: one argument
    report = archive.write_out(target)

    assert list(report.verified) == ["serve"]
    loaded = reload(target)
    assert "serving_default" in loaded.signatures
    for batch in BATCH_SIZES:
        x1, x2 = data(batch, 3, seed=3), data(batch, 4, seed=4)
        inputs = {"x1": x1, "x2": x2} if as_dict else [x1, x2]
        expected = predict(model, inputs)
        np.testing.assert_allclose(np.asarray(loaded.serve(inputs)), expected, rtol=1e-5, atol=1e-6)


@needs_tensorflow
def test_endpoint_from_a_traced_tf_function(tmp_path, three_features):
    import tensorflow as tf

    @tf.function()
    def serving_fn(x):
        return three_features(x)

    serving_fn(tf.random.normal(shape=(2, 3)))  # trace it once
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(three_features)
    archive.add_endpoint("serve", serving_fn, reference=three_features)
    archive.add_endpoint("unchecked", serving_fn)
    report = archive.write_out(target)

    assert list(report.verified) == ["serve"] and list(report.unverified) == ["unchecked"]
    loaded = reload(target)
    assert "serving_default" in loaded.signatures
    x = data(2, 3)  # the traced shape
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), predict(three_features, x), rtol=1e-5, atol=1e-6)


@needs_archive
def test_variable_collection_is_read_back(tmp_path, three_features):
    three_features.compile(optimizer="adam", loss="mse")
    three_features.fit(data(8, 3), data(8, 2), epochs=1, verbose=0)  # optimizer state != 0
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(three_features)
    archive.add_endpoint("serve", three_features.call, [spec(None, 3)])
    archive.add_variable_collection("optimizer_variables", three_features.optimizer.variables)
    report = archive.write_out(target)

    assert report.variable_collections == ("optimizer_variables",)
    revived = reload(target).optimizer_variables
    expected = [keras.ops.convert_to_numpy(v.value) for v in three_features.optimizer.variables]
    assert len(revived) == len(expected) > 0
    for got, want in zip(revived, expected):
        np.testing.assert_allclose(got.numpy(), want)
    assert any(np.any(w != 0) for w in expected[2:])  # moments were trained


@needs_tensorflow
def test_string_lookup_model(tmp_path):
    keras.utils.set_random_seed(8)
    inputs = keras.Input((2,), dtype="string")
    indices = keras.layers.StringLookup(vocabulary=["a", "b", "c"])(inputs)
    outputs = keras.layers.Flatten()(keras.layers.Embedding(5, 3)(indices))
    model = keras.Model(inputs, outputs)
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [spec(None, 2, dtype="string")])
    report = archive.write_out(target)

    assert list(report.verified) == ["serve"]
    loaded = reload(target)
    assert "serving_default" in loaded.signatures
    x = np.array([["a", "c"], ["zzz", "b"], ["b", "b"]], dtype=object)
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), predict(model, x), rtol=1e-6)
    # The out-of-vocabulary token maps to index 0, like "zzz" in the model.
    np.testing.assert_allclose(np.asarray(loaded.serve(np.array([["zzz", "yyy"]], dtype=object))),
                               predict(model, np.array([["q", "r"]], dtype=object)), rtol=1e-6)


# The archive as an artifact ----


@needs_archive
def test_load_lists_every_endpoint_and_predict_calls_each(tmp_path, dropout_model):
    target = str(tmp_path / "model")
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("call_inference", dropout_model.call, [spec(None, 3)])
    archive.add_endpoint("call_training", lambda x: dropout_model.call(x, training=True), [spec(None, 3)])
    archive.write_out(target)

    artifact = kerasexport.load(target)
    assert list(artifact.endpoints) == ["call_inference", "call_training", "serving_default"]
    assert artifact.default_endpoint == "serving_default"
    assert artifact.endpoints["serving_default"].same_as == "call_inference"
    assert artifact.endpoints["call_training"].same_as is None
    x = data(16, 3)
    expected = predict(dropout_model, x)
    np.testing.assert_allclose(artifact.predict(x), expected, rtol=1e-5, atol=1e-6)  # the first endpoint
    np.testing.assert_allclose(artifact.predict(x, endpoint="call_inference"), expected, rtol=1e-5, atol=1e-6)
    training = artifact.predict(x, endpoint="call_training")
    assert training.shape == expected.shape
    assert np.max(np.abs(training - expected)) > 1e-3  # dropout is on


# What is verified, and what is not ----


@needs_archive
def test_a_model_itself_is_an_endpoint_with_an_inferred_signature(tmp_path, three_features):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("serve", three_features)
    report = archive.write_out(str(tmp_path / "model"))
    assert list(report.verified) == ["serve"]
    loaded = reload(str(tmp_path / "model"))  # keep a reference: it owns the variables
    x = data(5, 3)
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), predict(three_features, x), rtol=1e-5, atol=1e-6)


@needs_archive
def test_a_wrong_reference_fails_verification_and_writes_nothing(tmp_path, dropout_model):
    target = tmp_path / "model"
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("serve", lambda x: dropout_model.call(x, training=True), [spec(None, 3)], reference=dropout_model)
    with pytest.raises(errors.VerificationError, match="Endpoint 'serve'.*does not reproduce"):
        archive.write_out(str(target))
    assert os.listdir(tmp_path) == []


@needs_archive
def test_a_failed_overwrite_keeps_the_old_artifact(tmp_path, dropout_model, three_features):
    target = tmp_path / "model"
    first = kerasexport.ExportArchive()
    first.add_endpoint("serve", three_features)
    first.write_out(str(target))
    before = sorted(os.listdir(target))
    saved = (target / "saved_model.pb").read_bytes()
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("other", lambda x: dropout_model.call(x, training=True), [spec(None, 3)], reference=dropout_model)
    with pytest.raises(errors.VerificationError):
        archive.write_out(str(target), overwrite=True)
    assert os.listdir(tmp_path) == ["model"]
    assert sorted(os.listdir(target)) == before
    assert (target / "saved_model.pb").read_bytes() == saved
    assert set(reload(str(target)).signatures.keys()) == {"serve", "serving_default"}


@needs_archive
def test_an_endpoint_named_serving_default_keeps_its_name(tmp_path, three_features, dropout_model):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("first", dropout_model)
    archive.add_endpoint("serving_default", three_features)
    report = archive.write_out(str(tmp_path / "model"))
    assert report.serving_default == "serving_default"
    assert kerasexport.load(str(tmp_path / "model")).endpoints["serving_default"].same_as is None
    loaded = reload(str(tmp_path / "model"))
    x = data(4, 3)
    np.testing.assert_allclose(call_serving_default(loaded, x)[0], predict(three_features, x), rtol=1e-5, atol=1e-6)


@needs_archive
def test_write_out_twice_from_one_archive(tmp_path, three_features):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("serve", three_features)
    archive.write_out(str(tmp_path / "a"))
    archive.write_out(str(tmp_path / "b"))
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


# Errors: classed, and nothing written ----


@needs_archive
def test_a_repeated_endpoint_name_is_an_endpoint_error(tmp_path, three_features):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("serve", three_features)
    with pytest.raises(errors.EndpointError, match=r"Endpoint 'serve' is already defined \(the name is already taken\). Endpoints so far: \['serve'\]"):
        archive.add_endpoint("serve", three_features.call, [spec(None, 3)])
    assert archive.endpoints == ["serve"]
    assert os.listdir(tmp_path) == []


@needs_archive
def test_write_out_without_an_endpoint_writes_nothing(tmp_path, three_features):
    archive = kerasexport.ExportArchive().track(three_features)
    with pytest.raises(errors.EndpointError, match="no endpoint"):
        archive.write_out(str(tmp_path / "model"))
    assert os.listdir(tmp_path) == []


@needs_archive
@pytest.mark.parametrize("signature, message", [
    ([spec(None, 5)], "has shape .*3.*gives \\(None, 5\\)"),
    ([(None, -1)], "Dimensions must be positive"),
    ([spec(None, 3, 1)], "rank"),
])
def test_a_bad_signature_is_a_signature_error(tmp_path, three_features, signature, message):
    archive = kerasexport.ExportArchive()
    with pytest.raises(errors.SignatureError, match=message):
        archive.add_endpoint("serve", three_features.call, signature)
    assert archive.endpoints == []


@needs_archive
@pytest.mark.parametrize("fn, signature, message", [
    (lambda x: x, [spec(None, 3), spec(None, 4)], r"takes 1 positional argument\(s\) \(x\).*describes 2.*\[\[spec_1, spec_2\]\]"),
    (lambda a, b: a, [spec(None, 3)], r"takes 2 positional argument\(s\) \(a, b\).*describes 1"),
], ids=["too-many", "too-few"])
def test_a_signature_that_does_not_fit_the_function_is_a_signature_error(fn, signature, message):
    archive = kerasexport.ExportArchive()
    with pytest.raises(errors.SignatureError, match=message):
        archive.add_endpoint("serve", fn, signature)
    assert archive.endpoints == []


@needs_archive
def test_extra_specs_go_to_star_args_and_defaults_need_none(three_features):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("star", lambda x, *rest: three_features(x), [spec(None, 3), spec(None, 4)])
    archive.add_endpoint("default", lambda x, scale=2.0: three_features(x) * scale, [spec(None, 3)])
    assert archive.endpoints == ["star", "default"]


@needs_archive
def test_a_function_without_signature_is_a_signature_error(three_features):
    with pytest.raises(errors.SignatureError, match="needs an `input_signature`"):
        kerasexport.ExportArchive().add_endpoint("serve", lambda x: three_features(x))


@needs_tensorflow
def test_an_untraced_tf_function_is_a_signature_error(three_features):
    import tensorflow as tf

    with pytest.raises(errors.SignatureError, match="never been called"):
        kerasexport.ExportArchive().add_endpoint("serve", tf.function(lambda x: three_features(x)))


@needs_archive
@pytest.mark.parametrize("name", ["variables", "signatures", "2fast", "has-dash", "_private", "class"])
def test_names_that_cannot_be_attributes_are_endpoint_errors(three_features, name):
    with pytest.raises(errors.EndpointError, match=repr(name)):
        kerasexport.ExportArchive().add_endpoint(name, three_features)


@needs_archive
def test_a_collection_cannot_reuse_an_endpoint_name(three_features):
    archive = kerasexport.ExportArchive()
    archive.add_endpoint("serve", three_features)
    with pytest.raises(errors.EndpointError, match="already defined"):
        archive.add_variable_collection("serve", three_features.weights)
    with pytest.raises(errors.ArgumentError, match="must hold only Keras or TensorFlow variables; it also holds: int"):
        archive.add_variable_collection("weights", [1, 2])


@needs_archive
def test_options_that_do_not_apply_are_option_errors(three_features):
    option = "opset_version" if BACKEND == "jax" else "is_static"
    with pytest.raises(errors.OptionError, match=f"{option} do not apply to add_endpoint"):
        kerasexport.ExportArchive().add_endpoint("serve", three_features, **{option: True})


@needs_archive
def test_an_unbuilt_model_cannot_be_tracked():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(errors.ModelError, match="has not been built"):
        kerasexport.ExportArchive().track(model)


# Keras's ExportArchive, member by member ----


def keras_archive():
    from keras.src.export import saved_model

    return saved_model.ExportArchive()


@needs_archive
def test_tracking_exposes_the_same_variables_as_keras(dropout_model):
    ours, theirs = kerasexport.ExportArchive(), keras_archive()
    ours.track(dropout_model)
    ours.track(dropout_model)  # twice: harmless
    theirs.track(dropout_model)
    for member in ("variables", "trainable_variables", "non_trainable_variables"):
        got, want = getattr(ours, member), getattr(theirs, member)
        assert [type(v) for v in got] == [type(v) for v in want], member
        assert [v.name for v in got] == [v.name for v in want], member
        assert [np.asarray(v).tolist() for v in got] == [np.asarray(v).tolist() for v in want], member
    assert len(ours.variables) == len(dropout_model.variables) > 0


@needs_archive
def test_add_endpoint_returns_a_function_as_keras_does_and_the_archive_has_it(tmp_path, three_features):
    import tensorflow as tf

    ours, theirs = kerasexport.ExportArchive(), keras_archive()
    specs = [tf.TensorSpec(shape=(None, 3), dtype=tf.float32)]
    for archive in (ours, theirs):
        archive.track(three_features)
    fn = ours.add_endpoint("call", three_features.__call__, specs)
    keras_fn = theirs.add_endpoint("call", three_features.__call__, specs)
    assert isinstance(fn, tf.types.experimental.GenericFunction) and type(fn) is type(keras_fn)
    assert ours.call is fn and theirs._tf_trackable.call is keras_fn
    x = data(4, 3)
    np.testing.assert_allclose(np.asarray(fn(x)), np.asarray(keras_fn(x)), rtol=1e-6)
    for archive, name in ((ours, "ours"), (theirs, "theirs")):
        archive.write_out(str(tmp_path / name), tf.saved_model.SaveOptions(function_aliases={"alias": archive.call if archive is ours else keras_fn}))
    assert_same_artifacts(tmp_path / "ours", tmp_path / "theirs", {"call": [x]})
    aliased = tf.saved_model.load(str(tmp_path / "ours"), options=tf.saved_model.LoadOptions(experimental_load_function_aliases=True))
    np.testing.assert_allclose(np.asarray(aliased.function_aliases["alias"](x)), predict(three_features, x), rtol=1e-5, atol=1e-6)


def assert_same_artifacts(ours, theirs, calls):
    """Both SavedModels have the same signatures, and give the same outputs."""
    ours, theirs = reload(str(ours)), reload(str(theirs))
    assert set(ours.signatures.keys()) == set(theirs.signatures.keys())
    for name, args in calls.items():
        np.testing.assert_allclose(
            as_numpy(getattr(ours, name)(*args)), as_numpy(getattr(theirs, name)(*args)), rtol=1e-5, atol=1e-6
        )


def lookup_then(table, model_fn):
    import tensorflow as tf

    @tf.function()
    def combined(x):
        return model_fn(table.lookup(x))

    return combined


@needs_tensorflow
def test_track_and_add_endpoint_feeds_a_traced_tf_function_as_in_keras(tmp_path, three_features):
    import tensorflow as tf

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(["a", "b", "c"]), tf.constant([1.0, 2.0, 3.0])),
        default_value=-1.0,
    )
    x = tf.constant([["c", "b", "a"], ["a", "a", "d"]])
    for name, archive in (("ours", kerasexport.ExportArchive()), ("theirs", keras_archive())):
        model_fn = archive.track_and_add_endpoint(
            "model", three_features, input_signature=[tf.TensorSpec(shape=(None, 3), dtype=tf.float32)]
        )
        archive.track(table)

        combined = lookup_then(table, model_fn)
        combined(x)  # traced once: no input_signature needed
        archive.add_endpoint("combined", combined)
        archive.write_out(str(tmp_path / name))
    assert_same_artifacts(tmp_path / "ours", tmp_path / "theirs", {"combined": [x], "model": [data(2, 3)]})
    expected = predict(three_features, np.array([[3.0, 2.0, 1.0], [1.0, 1.0, -1.0]], "float32"))
    loaded = reload(str(tmp_path / "ours"))
    np.testing.assert_allclose(np.asarray(loaded.combined(x)), expected, rtol=1e-5, atol=1e-6)


@needs_archive
def test_variable_collections_match_keras(tmp_path, three_features):
    for name, archive in (("ours", kerasexport.ExportArchive()), ("theirs", keras_archive())):
        archive.track(three_features)
        archive.add_endpoint("call", three_features.call, [spec(None, 3)])
        archive.add_variable_collection("my_vars", three_features.layers[0].weights)
        assert len(archive._tf_trackable.my_vars) == 2
        archive.write_out(str(tmp_path / name))
    ours, theirs = reload(str(tmp_path / "ours")), reload(str(tmp_path / "theirs"))
    assert [v.numpy().tolist() for v in ours.my_vars] == [v.numpy().tolist() for v in theirs.my_vars]


@pytest.mark.skipif(BACKEND != "jax", reason="jax2tf options")
def test_polymorphic_shapes_with_equal_unknown_dimensions(tmp_path):
    class Square(keras.layers.Layer):
        def call(self, x):
            return keras.ops.matmul(x, x)

    model = keras.Sequential([keras.Input((None, None)), Square()])
    signature = [spec(None, None, None)]
    archive = kerasexport.ExportArchive()
    archive.track(model)
    with pytest.raises(TypeError):  # automatic shapes make the two dimensions distinct
        archive.add_endpoint("call", model.__call__, signature)
    archive.add_endpoint("call", model.__call__, signature, jax2tf_kwargs={"polymorphic_shapes": ["(batch, a, a)"]})
    report = archive.write_out(str(tmp_path / "model"))
    assert list(report.verified) == ["call"]
    x = data(3, 7, 7)
    np.testing.assert_allclose(np.asarray(reload(str(tmp_path / "model")).call(x)), predict(model, x), rtol=1e-4, atol=1e-5)


def fault(name):
    """Do the faulty thing `name` with `archive` (ours or Keras's)."""
    import tensorflow as tf

    def run(archive, model):
        if name == "repeated name":
            archive.add_endpoint("call", model.__call__, [tf.TensorSpec((None, 3), tf.float32)])
            archive.add_endpoint("call", model.__call__, [tf.TensorSpec((None, 3), tf.float32)])
        elif name == "no endpoint":
            archive.track(model)
            archive.write_out("unused")
        elif name == "invalid resource":
            archive.track("model")
        elif name == "unbuilt layer":
            archive.track(keras.layers.Dense(2))
        elif name == "no signature":
            archive.add_endpoint("call", model.__call__)
        elif name == "untraced tf.function":
            archive.add_endpoint("call", tf.function(lambda x: model(x)))
        elif name == "not a list of variables":
            archive.add_variable_collection("v", model.weights[0])
        elif name == "jax2tf options elsewhere":
            archive.add_endpoint("call", model.__call__, [tf.TensorSpec((None, 3), tf.float32)], jax2tf_kwargs={})
        elif name == "bogus platform":
            archive.add_endpoint(
                "call", lambda x: x, [tf.TensorSpec((None, 10), tf.float32)],
                jax2tf_kwargs={"native_serialization": True, "native_serialization_platforms": ("cpu", "bogus")},
            )
    return run


FAULTS = [
    "repeated name", "no endpoint", "invalid resource", "unbuilt layer", "no signature",
    "untraced tf.function", "not a list of variables",
    "jax2tf options elsewhere" if BACKEND != "jax" else "bogus platform",
]


@needs_archive
@pytest.mark.parametrize("name", FAULTS)
def test_errors_come_where_keras_raises_them_and_are_of_its_class(name, three_features):
    with pytest.raises(Exception) as keras_raised:
        fault(name)(keras_archive(), three_features)
    with pytest.raises(errors.KerasexportError) as ours:
        fault(name)(kerasexport.ExportArchive(), three_features)
    assert isinstance(ours.value, type(keras_raised.value)), (type(ours.value).__mro__, type(keras_raised.value))


# PyTorch: built by the TensorFlow worker ----

needs_torch = pytest.mark.skipif(BACKEND != "torch", reason="the PyTorch backend's cross-backend archive")


@needs_torch
def test_an_archive_on_pytorch_from_models_layers_and_their_calls(tmp_path, dropout_model):
    import functools

    norm = keras.layers.BatchNormalization()
    norm(data(8, 4) * 3 + 1, training=True)  # moving statistics != defaults
    archive = kerasexport.ExportArchive()
    archive.track(dropout_model)
    archive.add_endpoint("serve", dropout_model, [spec(None, 3)])
    archive.add_endpoint("call_inference", dropout_model.call, [spec(None, 3)])
    archive.add_endpoint("call_training", functools.partial(dropout_model.call, training=True), [spec(None, 3)])
    archive.add_endpoint("normalize", norm.call, [spec(None, 4)])
    archive.add_variable_collection("model_weights", dropout_model.weights)
    assert len(archive.variables) == len(dropout_model.variables) + len(norm.variables)
    report = archive.write_out(str(tmp_path / "model"))

    assert report.route == "cross-backend"
    assert list(report.verified) == ["serve", "call_inference", "normalize"]
    assert list(report.unverified) == ["call_training"]
    loaded = reload(str(tmp_path / "model"))
    x, z = data(16, 3), data(5, 4)
    expected = predict(dropout_model, x)
    np.testing.assert_allclose(np.asarray(loaded.serve(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(call_serving_default(loaded, x)[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded.normalize(z)), predict(norm, z), rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(np.asarray(loaded.call_training(x)) - expected)) > 1e-3  # dropout is on
    want = [keras.ops.convert_to_numpy(w) for w in dropout_model.weights]
    assert [v.numpy().tolist() for v in loaded.model_weights] == [w.tolist() for w in want]


@needs_torch
def test_pytorch_archives_refuse_arbitrary_functions_naming_the_endpoint(three_features):
    archive = kerasexport.ExportArchive()
    with pytest.raises(errors.EndpointError, match="Endpoint 'scaled': the function .*<lambda> is not supported on the PyTorch backend.*its `call` or `__call__`"):
        archive.add_endpoint("scaled", lambda x: three_features(x) * 2, [spec(None, 3)])
    assert archive.endpoints == []


@needs_torch
def test_pytorch_collections_hold_variables_of_tracked_models(three_features, dropout_model):
    archive = kerasexport.ExportArchive()
    archive.track(three_features)
    with pytest.raises(errors.ArgumentError, match="belongs to no tracked model or layer"):
        archive.add_variable_collection("other", dropout_model.weights)


@needs_torch
def test_a_property_that_cannot_answer_says_why_rather_than_no_such_attribute():
    archive = kerasexport.ExportArchive()
    with pytest.raises(AttributeError, match="the PyTorch backend builds it in the worker process"):
        archive._tf_trackable
    with pytest.raises(AttributeError, match=r"has no attribute 'nothing' \(endpoints: \[\]"):
        archive.nothing
