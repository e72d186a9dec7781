"""SIGKILL an export at each moment: the target is never broken.

The atomic layer is the same for every backend, and each case starts a fresh
Python process that imports Keras, so this runs on the TensorFlow backend only.
"""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from kerasexport import atomic

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="backend-independent; runs once, on the TensorFlow backend",
)

CHILD = textwrap.dedent(
    """
    import os, sys
    import keras, kerasexport
    from kerasexport import atomic
    if os.environ.get("NO_EXCHANGE"):
        atomic._exchange = lambda a, b: False
    keras.utils.set_random_seed(int(sys.argv[3]))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    kerasexport.export(model, sys.argv[1], format=sys.argv[2], overwrite=True)
    """
)


def run_child(target, format, seed, kill_at=None, no_exchange=False, timeout=120):
    env = dict(os.environ)
    env.pop(atomic._KILL_AT_VARIABLE, None)
    if kill_at:
        env[atomic._KILL_AT_VARIABLE] = kill_at
    if no_exchange:
        env["NO_EXCHANGE"] = "1"
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(target), format, str(seed)],
        env=env, capture_output=True, timeout=timeout,
    )


def tree_hash(path):
    digest = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as f:
            digest.update(f.read())
        return digest.hexdigest()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def outputs_of(path, format):
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    if format == "openvino":
        import openvino

        return openvino.Core().compile_model(str(path), "CPU")([x])[0]
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return np.asarray(loaded.serve(x))


def leftovers(parent):
    return [e for e in os.listdir(parent) if e.startswith(atomic.STAGING_PREFIX)]


def make_old(tmp_path, format):
    """The artifact a killed export must not break, exported here (a child would cost seconds)."""
    import kerasexport

    target = tmp_path / {"onnx": "model.onnx", "openvino": "model.xml"}.get(format, "model")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])  # the child's, seed 1
    kerasexport.export(model, str(target), format=format)
    return target, tree_hash(target), outputs_of(target, format)


@pytest.mark.parametrize(
    "kill_at, format",
    [("after_write", "tf_saved_model"), ("during_verify", "onnx"),
     ("before_rename", "tf_saved_model"), ("before_rename", "onnx")],
)
def test_a_kill_before_the_rename_keeps_the_old_artifact(tmp_path, kill_at, format):
    target, old_hash, _ = make_old(tmp_path, format)
    result = run_child(target, format, seed=2, kill_at=kill_at)
    assert result.returncode == -signal.SIGKILL
    assert tree_hash(target) == old_hash
    assert leftovers(tmp_path) != []  # The dead export's staging area...
    atomic.clean_stale_staging(target)  # ...goes with the next export.
    assert leftovers(tmp_path) == []
    assert tree_hash(target) == old_hash


def test_the_next_export_after_a_kill_succeeds(tmp_path):
    target, old_hash, _ = make_old(tmp_path, "tf_saved_model")
    assert run_child(target, "tf_saved_model", seed=2, kill_at="during_verify").returncode == -signal.SIGKILL
    result = run_child(target, "tf_saved_model", seed=2)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert tree_hash(target) != old_hash
    assert leftovers(tmp_path) == []


def test_a_kill_after_the_rename_leaves_the_complete_new_artifact(tmp_path):
    target, _, old_outputs = make_old(tmp_path, "tf_saved_model")
    result = run_child(target, "tf_saved_model", seed=2, kill_at="after_rename")
    assert result.returncode == -signal.SIGKILL
    assert not np.allclose(outputs_of(target, "tf_saved_model"), old_outputs)


def test_a_kill_in_a_two_step_swap_is_repaired_by_the_next_export(tmp_path):
    target, old_hash, _ = make_old(tmp_path, "tf_saved_model")
    result = run_child(target, "tf_saved_model", seed=2, kill_at="mid_swap", no_exchange=True)
    assert result.returncode == -signal.SIGKILL
    assert not target.exists()  # Between the two renames: the old one is aside.
    atomic.clean_stale_staging(target)
    assert tree_hash(target) == old_hash
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("delay", [1.5, 5.0])
def test_a_kill_at_any_moment_leaves_old_or_new(tmp_path, delay):
    target, old_hash, old_outputs = make_old(tmp_path, "tf_saved_model")
    env = dict(os.environ)
    env.pop(atomic._KILL_AT_VARIABLE, None)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), "tf_saved_model", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    if tree_hash(target) != old_hash:
        new_outputs = outputs_of(target, "tf_saved_model")  # complete: it runs
        assert not np.allclose(new_outputs, old_outputs)
    atomic.clean_stale_staging(target)
    assert leftovers(tmp_path) == []


# OpenVINO's .xml and .bin ----


def pair_hash(target):
    return tree_hash(target), tree_hash(target.with_suffix(".bin"))


def test_a_kill_between_the_bin_and_the_xml_keeps_the_old_pair(tmp_path):
    target, _, old_outputs = make_old(tmp_path, "openvino")
    old = pair_hash(target)
    result = run_child(target, "openvino", seed=2, kill_at="mid_pair")
    assert result.returncode == -signal.SIGKILL
    # The old .xml is aside, the new .bin in place: no .xml, so nothing
    # loads a mixed pair, until the next export puts the old pair back.
    assert not target.exists()
    atomic.clean_stale_staging(target)
    assert pair_hash(target) == old
    np.testing.assert_array_equal(outputs_of(target, "openvino"), old_outputs)
    assert leftovers(tmp_path) == []


def test_a_kill_mid_pair_of_a_first_export_leaves_no_orphan(tmp_path):
    target = tmp_path / "model.xml"
    result = run_child(target, "openvino", seed=2, kill_at="mid_pair")
    assert result.returncode == -signal.SIGKILL
    atomic.clean_stale_staging(target)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_kill_after_the_pair_has_landed_leaves_the_new_pair(tmp_path):
    target, _, old_outputs = make_old(tmp_path, "openvino")
    result = run_child(target, "openvino", seed=2, kill_at="after_rename")
    assert result.returncode == -signal.SIGKILL
    assert not np.allclose(outputs_of(target, "openvino"), old_outputs)
