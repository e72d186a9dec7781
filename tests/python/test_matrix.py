"""Every model kind x both formats, on this process's Keras backend.

Each artifact is exported with `kerasexport.export`, then reloaded with its
runtime alone (`tf.saved_model.load` or onnxruntime, no kerasexport code) and
compared with the model at two batch sizes. `make test` runs this file once
per backend, so the whole matrix is 3 backends x 2 formats x the zoo.
"""

import keras
import numpy as np
import pytest

import zoo
from kerasexport import routes

FORMATS = ("tf_saved_model", "onnx")
BATCH_SIZES = (1, 4)
RTOL = 1e-4


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _flat_named(structure):
    """(name, array) leaves in Keras's order (dict keys sorted)."""
    if isinstance(structure, dict):
        return [(str(k), np.asarray(v)) for k, v in sorted(structure.items())]
    return [(None, np.asarray(v)) for v in keras.tree.flatten(structure)]


def run_saved_model(path, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    outputs = loaded.serve(x)
    return keras.tree.map_structure(lambda t: np.asarray(t), outputs)


def run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    leaves = _flat_named(x)
    names = [i.name for i in session.get_inputs()]
    assert len(names) == len(leaves)
    by_name = {n: a for n, a in leaves}
    if all(n in by_name for n in names):
        feeds = {n: by_name[n] for n in names}
    else:
        feeds = {n: a for n, (_, a) in zip(names, leaves)}
    outputs = session.run(None, feeds)
    return {o.name: r for o, r in zip(session.get_outputs(), outputs)}


def assert_same(expected, actual):
    want = _flat_named(expected)
    got = list(actual.items()) if isinstance(actual, dict) else _flat_named(actual)
    assert len(got) == len(want)
    # Named outputs (dict keys) pair by name; a list's outputs, by position.
    got_by_name = {n: a for n, a in got if n is not None}
    for i, (name, reference) in enumerate(want):
        result = got_by_name[name] if name in got_by_name else got[i][1]
        assert result.shape == reference.shape, name
        scale = max(float(np.max(np.abs(reference))), 1e-6)
        assert float(np.max(np.abs(result - reference))) / scale <= RTOL, name


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("format", FORMATS)
def test_export_reload_and_compare(zoo_export, format, name):
    model, target, report = zoo_export(name, format)

    assert report.verified and report.max_relative_error <= RTOL
    if not routes.has_native(keras.backend.backend(), format):
        assert report.route == "cross-backend"
    run = run_saved_model if format == "tf_saved_model" else run_onnx
    for batch_size in BATCH_SIZES:
        x = zoo.inputs(name, batch_size, seed=batch_size)
        expected = keras.tree.map_structure(_numpy, model(x, training=False))
        assert_same(expected, run(target, x))
