"""kerasexport.load() and Artifact.predict(): round trips and bad inputs."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import fresh_reload

import kerasexport
from kerasexport import artifact as artifact_lib
from kerasexport import errors

HEAVY = ("tensorflow", "keras", "jax", "torch")
FORMATS = ("tf_saved_model", "onnx")
ALL_FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
# The heavy packages loading each format may import: its runtime only. A
# SavedModel is not checked: TensorFlow imports Keras, and Keras its backend.
RUNTIMES = {"tf_saved_model": {"tensorflow", "keras", "jax", "torch"}, "onnx": set(), "openvino": set(), "litert": set(), "torch": {"torch"}}
MODEL_TYPES = ("single", "list", "dict")


# Models, exports and a fresh process ----


def get_model(kind):
    """A small model of each input/output structure, called once."""
    keras.utils.set_random_seed(11)
    if kind == "single":
        model = keras.Sequential([
            keras.Input((4,), name="features"),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
        ])
    else:
        a = keras.Input((4,), name="a")
        b = keras.Input((3,), name="b", dtype="int32")
        hidden = keras.layers.Concatenate()(
            [a, keras.layers.Embedding(10, 2)(b)[:, :, 0]]
        )
        if kind == "list":
            model = keras.Model([a, b], keras.layers.Dense(2)(hidden))
        else:
            outputs = {"y": keras.layers.Dense(2)(hidden), "z": keras.layers.Dense(1)(hidden)}
            model = keras.Model({"a": a, "b": b}, outputs)
    model(make_inputs(kind, 2, seed=0))  # torch's ONNX export needs a called model
    return model


def make_inputs(kind, batch, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((batch, 4)).astype("float32")
    if kind == "single":
        return a
    b = rng.integers(0, 10, size=(batch, 3)).astype("int32")
    return [a, b] if kind == "list" else {"a": a, "b": b}


def model_outputs(model, x):
    out = model(x, training=False)
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), out)


def export_or_skip(model, path, fmt):
    """Export; every backend writes every format, so a failure fails the test."""
    kerasexport.export(model, path, format=fmt)
    return str(path)


def artifact_path(tmp_path, fmt, name="model"):
    return tmp_path / (name + (".onnx" if fmt == "onnx" else ""))


def run_fresh(code, **env):
    """Run `code` in a fresh Python process; return its JSON on stdout."""
    environ = dict(os.environ, **env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=environ, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


FRESH_PREDICT = """
    import json, sys
    import numpy as np
    import kerasexport

    path, inputs, outputs = sys.argv[1:] if len(sys.argv) > 1 else {args!r}
    artifact = kerasexport.load(path)
    data = np.load(inputs)
    names = sorted(k for k in data.files)
    results = {{}}
    for batch in ("b1", "b5", "b7"):
        keys = [k for k in names if k.startswith(batch + "_")]
        if {kind!r} == "single":
            x = data[batch]
        elif {kind!r} == "list":
            x = [data[batch + "_0"], data[batch + "_1"]]
        else:
            x = {{k.split("_", 1)[1]: data[k] for k in keys}}
        size = 3 if batch == "b7" else None
        y = artifact.predict(x, batch_size=size)
        if isinstance(y, dict):
            for k, v in y.items():
                results[batch + "_" + k] = v
        else:
            results[batch] = y
    np.savez(outputs, **results)
    heavy = sorted(m for m in {heavy!r} if m in sys.modules)
    print(json.dumps({{"heavy": heavy, "format": artifact.format}}))
"""


def flat_inputs(kind, batch, prefix):
    x = make_inputs(kind, batch, seed=batch)
    if kind == "single":
        return {prefix: x}
    if kind == "list":
        return {f"{prefix}_0": x[0], f"{prefix}_1": x[1]}
    return {f"{prefix}_{k}": v for k, v in x.items()}


# Round trips in a fresh process ----


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_round_trip_in_fresh_process(tmp_path, kind, fmt):
    model = get_model(kind)
    path = export_or_skip(model, artifact_path(tmp_path, fmt), fmt)
    inputs = {}
    for batch in (1, 5, 7):
        inputs.update(flat_inputs(kind, batch, f"b{batch}"))
    np.savez(tmp_path / "inputs.npz", **inputs)
    out_file = tmp_path / "outputs.npz"
    code = FRESH_PREDICT.format(
        args=(path, str(tmp_path / "inputs.npz"), str(out_file)), kind=kind, heavy=HEAVY
    )
    info = run_fresh(code)
    assert info["format"] == fmt
    if fmt == "onnx":
        assert info["heavy"] == []
    got = np.load(out_file)
    for batch in (1, 5, 7):
        expected = model_outputs(model, make_inputs(kind, batch, seed=batch))
        pairs = (
            [(f"b{batch}_{k}", v) for k, v in expected.items()]
            if isinstance(expected, dict) else [(f"b{batch}", expected)]
        )
        for key, want in pairs:
            actual = got[key]
            assert actual.shape == want.shape, key
            np.testing.assert_allclose(actual, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_zoo_model_round_trips_in_a_fresh_process(fresh_reloads, fmt):
    """Every model kind of the export matrix: exported here, then opened with
    `kerasexport.load()` and run in a process that never saw the model's code
    (the matrix's, after its runtime-alone pass), compared with the model at
    two batch sizes."""
    cells, info = fresh_reloads(fmt)
    expected = {}
    for name, cell in cells.items():
        if "error" in cell:
            raise cell["error"]
        assert name not in info["load_errors"], info["load_errors"][name]
        expected.update({(name, batch): want for batch, want in cell["expected"].items()})
    stems = {name: cell["stem"] for name, cell in cells.items()}

    assert set(info["heavy_with_load"]) <= RUNTIMES[fmt], info["heavy_with_load"]
    for (name, batch), want in expected.items():
        got = np.load(f"{stems[name]}-{batch}-out.load.npz")
        if isinstance(want, (list, tuple)):
            # List outputs: the artifact names them, in the model's order.
            assert len(got.files) == len(want), name
            pairs = list(zip(got.files, want))
        else:
            pairs = list(want.items()) if isinstance(want, dict) else [("y", want)]
            assert sorted(got.files) == sorted(k for k, _ in pairs), name
        for key, reference in pairs:
            actual = got[key]
            assert actual.shape == reference.shape, (name, batch, key)
            # Relative to the output's scale, as verification and the matrix
            # judge: runtimes round a deep network's sums differently.
            np.testing.assert_allclose(
                actual, reference, rtol=0, atol=1e-4 * np.abs(reference).max(),
                err_msg=f"{name}, batch {batch}, output {key}",
            )


def test_import_kerasexport_imports_no_heavy_package():
    info = run_fresh(f"""
        import json, sys
        import kerasexport
        print(json.dumps({{"heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
    """)
    assert info["heavy"] == []


# Loading ----


@pytest.fixture(scope="module")
def onnx_dict_artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("artifact") / "dict.onnx"
    model = get_model("dict")
    kerasexport.export(model, path, format="onnx")
    return kerasexport.load(path), model


def test_load_describes_onnx_inputs_and_outputs(onnx_dict_artifact):
    artifact, _ = onnx_dict_artifact
    assert artifact.format == "onnx"
    assert list(artifact.endpoints) == ["serve"]
    endpoint = artifact.endpoint()
    assert [(t.name, t.dtype, t.shape) for t in endpoint.inputs] == [
        ("a", "float32", (None, 4)), ("b", "int32", (None, 3)),
    ]
    assert [t.name for t in endpoint.outputs] == ["y", "z"]
    assert [(t.dtype, t.shape) for t in endpoint.outputs] == [
        ("float32", (None, 2)), ("float32", (None, 1)),
    ]
    assert artifact.size == os.path.getsize(artifact.path)
    text = str(artifact)
    assert "a: float32 (None, 4)" in text
    assert "b: int32 (None, 3)" in text


def test_saved_model_lists_every_signature_and_marks_serving_default(tmp_path):
    path = export_or_skip(get_model("list"), tmp_path / "sm", "tf_saved_model")
    artifact = kerasexport.load(path)
    assert {"serve", "serving_default"} <= set(artifact.endpoints)
    assert artifact.endpoints["serving_default"].serving_default
    assert not artifact.endpoints["serve"].serving_default
    assert artifact.default_endpoint == "serving_default"
    assert [t.name for t in artifact.endpoints["serve"].inputs] == ["a", "b"]
    assert artifact.size == sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(path) for f in files
    )
    assert artifact.endpoints["serving_default"].same_as == "serve"
    assert artifact.endpoints["serve"].same_as is None
    assert "serving_default (same as serve, serving default, used by predict())" in str(artifact)


def test_a_directory_without_saved_model_pb_is_an_artifact_error(tmp_path):
    with pytest.raises(errors.ArtifactError, match="saved_model.pb"):
        kerasexport.load(tmp_path)


def test_a_missing_path_is_an_artifact_error(tmp_path):
    with pytest.raises(errors.ArtifactError, match="nothing exists"):
        kerasexport.load(tmp_path / "absent.onnx")


def test_a_file_that_is_not_onnx_is_an_artifact_error(tmp_path):
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"this is not a protobuf\x00\x01")
    with pytest.raises(errors.ArtifactError, match=r"not an ONNX model.*Expected a SavedModel directory or an ONNX, OpenVINO \(.xml\), LiteRT \(.tflite\) or .pt2 file"):
        kerasexport.load(bogus)


def test_files_are_told_apart_by_content_not_name(tmp_path):
    import zipfile

    def zipped(name, members):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for member in members:
                archive.writestr(member, b"x")
        return path

    litert = tmp_path / "a"
    litert.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(40))
    openvino = tmp_path / "b"
    openvino.write_bytes(b'\xef\xbb\xbf<?xml version="1.0"?>\n<net name="m" version="11">')
    program = zipped("c", ["model/archive_format", "model/models/model.json"])
    saved_keras = zipped("d.pt2", ["config.json", "metadata.json", "model.weights.h5"])
    other = tmp_path / "e.tflite"
    other.write_bytes(b"\x08\x07\x12\x04onnx")  # a protobuf, whatever its name
    from kerasexport import formats
    from kerasexport import saved_keras as saved_keras_lib

    found = [formats.detect(str(p)) for p in (litert, openvino, program, other)]
    assert found == ["litert", "openvino", "torch", "onnx"]
    assert [saved_keras_lib.recognizes(str(p)) for p in (program, saved_keras)] == [False, True]
    with pytest.raises(errors.ArtifactError, match="saved Keras model"):
        kerasexport.load(saved_keras)


def test_a_keras_file_is_an_artifact_error_that_says_to_export_it(tmp_path, small_model):
    path = tmp_path / "model.keras"
    small_model.save(path)
    with pytest.raises(errors.ArtifactError, match=r"saved Keras model, not an exported artifact: export it first"):
        kerasexport.load(path)


def test_onnx_session_options_and_providers_are_used(tmp_path):
    import onnxruntime

    path = tmp_path / "m.onnx"
    kerasexport.export(get_model("single"), path, format="onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    artifact = kerasexport.load(path, providers=["CPUExecutionProvider"], session_options=options)
    assert artifact.runtime.get_providers() == ["CPUExecutionProvider"]
    assert artifact.runtime.get_session_options().intra_op_num_threads == 1


# Predicting: structures and batching ----


def test_dict_list_and_single_inputs_agree(onnx_dict_artifact):
    artifact, model = onnx_dict_artifact
    x = make_inputs("dict", 4)
    by_name = artifact.predict(x)
    by_position = artifact.predict([x["a"], x["b"]])
    expected = model_outputs(model, x)
    names = [t.name for t in artifact.endpoint().outputs]
    assert list(by_name) == names == ["y", "z"]
    for name, key in zip(names, ("y", "z")):
        np.testing.assert_allclose(by_name[name], expected[key], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(by_name[name], by_position[name])


def test_batch_size_splits_and_concatenates(onnx_dict_artifact):
    artifact, _ = onnx_dict_artifact
    x = make_inputs("dict", 10)
    calls = []
    original = artifact._callers["serve"]
    artifact._callers["serve"] = lambda arrays: calls.append(arrays[0].shape[0]) or original(arrays)
    try:
        split = artifact.predict(x, batch_size=4)
    finally:
        artifact._callers["serve"] = original
    whole = artifact.predict(x)
    assert calls == [4, 4, 2]
    for key in whole:
        np.testing.assert_allclose(split[key], whole[key], rtol=1e-6)


def test_exact_casts_are_accepted(onnx_dict_artifact):
    artifact, _ = onnx_dict_artifact
    x = make_inputs("dict", 3)
    cast = {"a": x["a"].astype("float64"), "b": x["b"].astype("float64")}
    got = artifact.predict(cast)
    want = artifact.predict(x)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


# Bad inputs ----


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda x: {"a": x["a"]}, r"missing \['b'\]"),
        (lambda x: {**x, "c": x["a"]}, r"unexpected \['c'\]"),
        (lambda x: {**x, "a": x["a"][:, :, None]}, r"Input 'a' expects shape \(None, 4\).*received an array of shape \(3, 4, 1\).*wrong rank"),
        (lambda x: {**x, "a": x["a"][:, :3]}, r"Input 'a' expects shape \(None, 4\).*shape \(3, 3\).*wrong shape"),
        (lambda x: {**x, "b": x["b"] + 0.5}, r"Input 'b' expects dtype int32.*float64.*fractional"),
        (lambda x: {**x, "b": x["b"].astype("int64") + 2**40}, r"Input 'b' expects dtype int32.*outside"),
        (lambda x: {**x, "a": np.full((3, 4), 1e300)}, r"Input 'a' expects dtype float32.*overflow"),
        (lambda x: {**x, "b": np.full((3, 3), "x")}, r"Input 'b'.*strings"),
        (lambda x: [x["a"]], r"takes 2 input\(s\).*received 1"),
        (lambda x: x["a"], r"takes 2 inputs.*not a single array"),
        (lambda x: {**x, "b": x["b"][:2]}, r"different batch sizes"),
    ],
    ids=["missing", "extra", "rank", "fixed-dim", "fractional", "range",
         "overflow", "strings", "count", "single", "batches"],
)
def test_bad_inputs_are_input_errors(onnx_dict_artifact, change, pattern):
    artifact, _ = onnx_dict_artifact
    with pytest.raises(errors.InputError, match=pattern):
        artifact.predict(change(make_inputs("dict", 3)))


def test_unknown_endpoint_lists_the_available_ones(onnx_dict_artifact):
    artifact, _ = onnx_dict_artifact
    with pytest.raises(errors.ArtifactError, match=r"Unknown endpoint 'serving'. Available: \['serve'\]"):
        artifact.predict(make_inputs("dict", 1), endpoint="serving")


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_bad_batch_size_is_an_input_error(onnx_dict_artifact, size):
    artifact, _ = onnx_dict_artifact
    with pytest.raises(errors.InputError, match="batch_size"):
        artifact.predict(make_inputs("dict", 3), batch_size=size)


def _endpoint(dtype, shape=(None, 2)):
    return artifact_lib.Endpoint(
        "e", "graph", (artifact_lib.TensorInfo("x", dtype, shape),), ()
    )


@pytest.mark.parametrize(
    "dtype, value",
    [
        ("float32", np.array([[2**24 + 1, 0]], dtype="int64")),  # not exact in float32
        ("uint8", np.array([[-1, 0]], dtype="int32")),
        ("int32", np.array([[np.nan, 0.0]])),
        ("bool", np.array([[2, 0]])),
    ],
)
def test_lossy_casts_are_refused(dtype, value):
    with pytest.raises(errors.InputError, match="cannot be cast exactly"):
        artifact_lib.check_inputs(_endpoint(dtype), value)


def test_exact_casts_keep_values():
    (got,) = artifact_lib.check_inputs(_endpoint("int8"), np.array([[-128.0, 127.0]]))
    assert got.dtype == np.int8
    assert got.tolist() == [[-128, 127]]
    (flags,) = artifact_lib.check_inputs(_endpoint("bool"), np.array([[1, 0]]))
    assert flags.tolist() == [[True, False]]


@pytest.mark.parametrize("shape", [(64, 32, 32, 3), (5, 40, 40, 3), (3, 100, 300), (8, 224, 224, 3), (64, 4), (2, 0, 3)])
def test_column_major_arrays_become_row_major_exactly(shape):
    # R hands its arrays over column-major; the runtimes take row-major.
    array = np.asfortranarray(np.random.default_rng(0).standard_normal(shape))
    result = artifact_lib.row_major(array, "float32")
    assert result.flags.c_contiguous and result.dtype == np.float32
    np.testing.assert_array_equal(result, array.astype("float32"))


def test_overflow_in_the_cast_is_an_input_error(onnx_dict_artifact):
    artifact, _ = onnx_dict_artifact
    a = np.asfortranarray(np.full((2, 4), 1e300))
    with pytest.raises(errors.InputError, match="overflow float32"):
        artifact._predict_checked([a, np.zeros((2, 3), "int32")], "serve")
