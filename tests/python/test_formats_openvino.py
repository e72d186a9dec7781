"""OpenVINO IR: the .xml/.bin pair, float32 as kerasexport compiles it, a default compile measured, names.

The format behaves the same from every backend once written, so these run on
the PyTorch backend only (a native route; the matrix covers the others).
"""

import os

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors
from kerasexport.formats import openvino as openvino_format

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent once written; runs once, on the PyTorch backend",
)


def outputs(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


def dense_model(seed=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A model, and its IR written under a name without the .xml suffix."""
    model = dense_model()
    path = tmp_path_factory.mktemp("ov") / "model.v2"
    report = kerasexport.export(model, path, format="openvino")
    return model, path, report


@pytest.mark.parametrize("name, weights", [
    ("model.xml", "model.bin"), ("model", "model.bin"), ("model.v2", "model.bin"),
    ("my.model.xml", "my.model.bin"),
])
def test_the_weights_file_is_named_as_openvino_looks_for_it(name, weights):
    assert openvino_format.companions(os.path.join("d", name)) == [os.path.join("d", weights)]


def test_a_target_named_like_its_weights_is_refused(tmp_path):
    with pytest.raises(errors.PathError, match="ending in .xml"):
        kerasexport.export(dense_model(), tmp_path / "model.bin", format="openvino")
    assert os.listdir(tmp_path) == []


def test_an_ir_without_the_xml_suffix_loads_as_users_load_it(exported):
    import openvino

    model, path, report = exported
    assert report.route == "native"
    assert sorted(os.listdir(path.parent)) == ["model.bin", "model.v2"]
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    compiled = openvino.Core().compile_model(str(path), "CPU", openvino_format.COMPILE_CONFIG)
    np.testing.assert_allclose(compiled([x])[0], outputs(model, x), rtol=1e-5, atol=1e-6)
    artifact = kerasexport.load(path)
    assert artifact.format == "openvino"
    assert artifact.size == os.path.getsize(path) + os.path.getsize(path.parent / "model.bin")


def test_the_ir_carries_float32_and_kerasexport_compiles_every_layer_in_it(exported):
    import openvino

    _, path, _ = exported
    read = openvino.Core().read_model(str(path))
    assert read.get_rt_info(["runtime_options", "INFERENCE_PRECISION_HINT"]).astype(str) == "f32"
    assert all("DisablePrecisionConversion_0" in op.get_rt_info() for op in read.get_ordered_ops())
    compiled = kerasexport.load(path).runtime  # what load(), the server and verification use
    assert compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
    assert openvino_format.low_precision_layers(compiled) == []


def scaled_model():
    """Dense layers then a product by a constant, which the CPU plugin fuses (dropping the layers' marks)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation="tanh")(keras.layers.Dense(16)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3)(hidden) * 3.0)


@pytest.fixture(scope="module")
def scaled_export(tmp_path_factory):
    import warnings

    model = scaled_model()
    path = tmp_path_factory.mktemp("ov-scaled") / "scaled.xml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = kerasexport.export(model, path, format="openvino")
    return model, path, report


def default_compile(path):
    """``Core().compile_model(path, "CPU")``: OpenVINO's own defaults, no kerasexport."""
    import openvino

    core = openvino.Core()
    names = [sorted(p.get_names())[0] for p in core.read_model(str(path)).inputs]
    return core.compile_model(str(path), "CPU"), names


def test_a_default_compile_that_rounds_is_measured_reported_and_warned(scaled_export):
    from kerasexport import verify

    model, path, report = scaled_export
    compiled, names = default_compile(path)
    low = openvino_format.low_precision_layers(compiled)
    if not low:
        pytest.skip("a default compile runs every layer in float32 on this processor (no bf16 units)")
    defaults = report.runtime_defaults
    assert defaults["inference_precision"] == compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    assert defaults["low_precision_layers"] == len(low)
    # The same inputs verification used, run through OpenVINO's own API.
    signature = [keras.InputSpec(shape=(None, 6), dtype="float32")]
    worst = 0.0
    for batch, dynamic in zip(verify.BATCH_SIZES, verify.DYNAMIC_SIZES):
        (x,) = verify.make_inputs(signature, batch, dynamic)
        want = outputs(model, x).astype(np.float64)
        got = compiled({names[0]: x})[compiled.outputs[0]]
        worst = max(worst, float(np.max(np.abs(got - want)) / np.max(np.abs(want))))
    assert worst > report.rtol  # rounded: the reason this is reported at all
    assert defaults["max_relative_error"] == pytest.approx(worst, rel=1e-6)
    assert report.max_relative_error <= report.rtol  # what load() compiles is float32
    (warning,) = [w for w in report.warnings if "OpenVINO's CPU plugin" in w]
    assert f"{worst:.2g}" in warning and openvino_format.LOADING_SNIPPET in warning
    assert f"relative error {worst:.2g}" in report.summary()


def test_a_default_compile_in_float32_adds_nothing_to_the_report(scaled_export):
    _, path, report = scaled_export
    compiled, _ = default_compile(path)
    if openvino_format.low_precision_layers(compiled):
        pytest.skip("a default compile rounds some layers on this processor (bf16 units)")
    assert report.runtime_defaults is None
    assert not [w for w in report.warnings if "OpenVINO's CPU plugin" in w]


def test_compressed_weights_are_half_the_size_and_run_in_float16(tmp_path, exported):
    _, full, _ = exported
    path = tmp_path / "small.xml"
    report = kerasexport.export(dense_model(), path, format="openvino", compress_to_fp16=True, rtol=1e-2)
    assert report.max_relative_error > 0
    assert os.path.getsize(tmp_path / "small.bin") < 0.6 * os.path.getsize(full.parent / "model.bin")
    compiled = openvino_format.compile_model(str(path))[0]
    assert [p for _, p in openvino_format.low_precision_layers(compiled)] != []


def test_ports_carry_the_signature_names_and_fixed_dimensions(tmp_path):
    keras.utils.set_random_seed(1)
    x = keras.Input((4,), name="features")
    ids = keras.Input((6,), name="ids", dtype="int32")
    emb = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(9, 3)(ids))
    h = keras.layers.Concatenate()([x, emb])
    # Keys in reverse order: torch.export keeps insertion order, Keras sorts.
    model = keras.Model({"ids": ids, "features": x}, {"b": keras.layers.Dense(2)(h), "a": keras.layers.Dense(1)(h)})
    model({"ids": np.ones((2, 6), "int32"), "features": np.ones((2, 4), "float32")})
    path = tmp_path / "m.xml"
    kerasexport.export(model, path, format="openvino")

    artifact = kerasexport.load(path)
    described = artifact.describe()["endpoints"][0]
    assert sorted((t["name"], t["dtype"], tuple(t["shape"])) for t in described["inputs"]) == [
        ("features", "float32", (None, 4)), ("ids", "int32", (None, 6)),
    ]
    assert sorted(t["name"] for t in described["outputs"]) == ["a", "b"]
    feeds = {"ids": np.arange(18, dtype="int32").reshape(3, 6) % 9,
             "features": np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)}
    got = artifact.predict(feeds)
    want = model(feeds)
    for key in ("a", "b"):
        np.testing.assert_allclose(got[key], np.asarray(keras.ops.convert_to_numpy(want[key])), rtol=1e-5, atol=1e-6)


def test_a_missing_weights_file_is_named(tmp_path, exported):
    _, path, _ = exported
    lone = tmp_path / "lone.xml"
    lone.write_bytes(path.read_bytes())
    with pytest.raises(errors.ArtifactError, match="weights file 'lone.bin' is missing"):
        kerasexport.load(lone)


def test_options_of_other_formats_are_refused_naming_those_that_apply(tmp_path):
    with pytest.raises(errors.OptionError, match="compress_to_fp16"):
        kerasexport.export(dense_model(), tmp_path / "m.xml", format="openvino", opset_version=17)
