"""LiteRT: built-in operations only unless asked, Flex needs named, a batch of one.

Conversion is TensorFlow's whatever the model's backend (the matrix covers
the cross route), so these run on the TensorFlow backend only.
"""

import os
import sys

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors
from kerasexport.formats import litert as litert_format

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow converts LiteRT for every backend; runs once, on the TensorFlow backend",
)


def outputs(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


def lstm_model(steps=7):
    keras.utils.set_random_seed(5)
    return keras.Sequential([
        keras.Input((steps, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4)), keras.layers.Dense(2),
    ])


def stacked_lstm_model():
    """The zoo's kind: an LSTM under a bidirectional one, over a known number of steps."""
    keras.utils.set_random_seed(6)
    return keras.Sequential([
        keras.Input((7, 3)), keras.layers.LSTM(5, return_sequences=True),
        keras.layers.Bidirectional(keras.layers.LSTM(4)), keras.layers.Dense(2),
    ])


@pytest.fixture(scope="module")
def lstm_artifact(tmp_path_factory):
    """Over an unknown number of steps: nothing to unroll, so a batch of one."""
    model = lstm_model(steps=None)
    path = tmp_path_factory.mktemp("litert") / "lstm"  # no suffix: found by content
    report = kerasexport.export(model, path, format="litert", input_signature=[(None, None, 3)])
    return model, path, report


def test_a_recurrent_model_over_unknown_steps_gets_a_batch_of_one_and_says_so(lstm_artifact):
    _, path, report = lstm_artifact
    assert report.verified and report.max_relative_error <= 1e-4
    assert any("fixed batch size of 1" in w for w in report.warnings)
    assert litert_format.flex_operations(str(path)) == []


def test_predict_runs_a_batch_of_one_artifact_one_row_at_a_time(lstm_artifact):
    model, path, _ = lstm_artifact
    artifact = kerasexport.load(path)
    assert artifact.format == "litert"
    assert artifact.endpoint().inputs[0].shape == (None, None, 3)
    x = np.random.default_rng(1).standard_normal((6, 7, 3)).astype("float32")
    for batch_size in (None, 4):
        np.testing.assert_allclose(
            artifact.predict(x, batch_size=batch_size), outputs(model, x), rtol=1e-5, atol=1e-6
        )


_STANDALONE = """
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
path, out = sys.argv[1], sys.argv[2]
x = np.load(out + ".x.npy")
results = {}
for rows in (1, 5, 64):
    runner = Interpreter(model_path=path).get_signature_runner()  # fresh, default delegate
    (name,) = runner.get_input_details()
    results[str(rows)] = next(iter(runner(**{name: x[:rows]}).values()))
np.savez(out, **results)
"""


def test_stacked_recurrent_layers_over_known_steps_run_at_every_batch_in_the_standalone_interpreter(tmp_path):
    import subprocess

    model = stacked_lstm_model()
    path = tmp_path / "stacked.tflite"
    report = kerasexport.export(model, path, format="litert")
    assert not any("fixed batch" in w for w in report.warnings), report.warnings
    assert kerasexport.load(path).endpoint().inputs[0].shape == (None, 7, 3)
    x = np.random.default_rng(2).standard_normal((64, 7, 3)).astype("float32")
    out = tmp_path / "answers"
    np.save(str(out) + ".x.npy", x)
    script = tmp_path / "standalone.py"
    script.write_text(_STANDALONE)
    done = subprocess.run([sys.executable, str(script), str(path), str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(str(out) + ".npz") as answers:
        for rows in (1, 5, 64):
            np.testing.assert_allclose(answers[str(rows)], outputs(model, x[:rows]), rtol=1e-4, atol=1e-5)


def test_flex_is_used_only_when_asked_and_then_cannot_run_standalone(tmp_path):
    model = lstm_model()
    path = tmp_path / "flex.tflite"
    # With Flex allowed, the dynamic batch converts, through TensorFlow ops.
    with pytest.raises(errors.VerificationError, match=r"Select \(Flex\) operations \(TensorList"):
        kerasexport.export(model, path, format="litert", allow_flex=True)
    assert os.listdir(tmp_path) == []
    kerasexport.export(model, path, format="litert", allow_flex=True, verify=False)
    assert "TensorListReserve" in litert_format.flex_operations(str(path))
    with pytest.raises(errors.ArtifactError, match="standalone LiteRT runtime"):
        kerasexport.load(path)


def test_an_operation_without_a_builtin_fails_naming_it(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(keras.ops.erfinv)])
    with pytest.raises(errors.KerasexportError, match=r"(?s)LiteRT converter.*Erfinv.*allow_flex=True"):
        kerasexport.export(model, tmp_path / "m.tflite", format="litert", route="native")
    assert os.listdir(tmp_path) == []


def test_positional_inputs_keep_their_order(tmp_path):
    keras.utils.set_random_seed(2)
    zeta, alpha = keras.Input((3,), name="zeta"), keras.Input((3,), name="alpha")
    model = keras.Model([zeta, alpha], keras.layers.Subtract()([zeta, alpha]))
    path = tmp_path / "m.tflite"
    kerasexport.export(model, path, format="litert")
    artifact = kerasexport.load(path)
    assert [t.name for t in artifact.endpoint().inputs] == ["zeta", "alpha"]
    a, b = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    np.testing.assert_array_equal(artifact.predict([a, b]), a - b)


def test_converter_options_pass_through_by_name(tmp_path):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64), keras.layers.Dense(3)])
    full, small = tmp_path / "full.tflite", tmp_path / "small.tflite"
    kerasexport.export(model, full, format="litert")
    report = kerasexport.export(model, small, format="litert", optimizations=["DEFAULT"], rtol=0.1)
    assert report.max_relative_error > 0  # int8 weights: no longer exact
    assert os.path.getsize(small) < 0.5 * os.path.getsize(full)


def test_options_that_do_not_apply_name_those_that_do(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(errors.OptionError, match="allow_flex, optimizations"):
        kerasexport.export(model, tmp_path / "m.tflite", format="litert", opset_version=17)


def test_loading_imports_no_heavy_package(lstm_artifact, tmp_path):
    import subprocess

    _, path, _ = lstm_artifact
    code = (
        "import sys, kerasexport; a = kerasexport.load(sys.argv[1]); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
