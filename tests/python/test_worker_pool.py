"""The warm worker: reused, replaced when it dies, hangs or is stale, gone with its parent.

The pool does not depend on the model's backend; these run on PyTorch, whose
SavedModels always take the cross-backend route.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors
from kerasexport.cross import pool as worker_pool

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the worker pool is backend-independent; runs once, on PyTorch",
)

BACKEND = "tensorflow"  # the worker that writes SavedModels


def mlp():
    keras.utils.set_random_seed(2)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])


@pytest.fixture
def pool():
    """This process's pool: tests that replace its worker leave the new one warm."""
    return worker_pool.pool()


@pytest.fixture
def own_pool(monkeypatch):
    """A pool of its own for the test, stopped afterwards."""
    fresh = worker_pool.Pool()
    monkeypatch.setattr(worker_pool, "_POOL", fresh)
    yield fresh
    fresh.stop()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"  # a zombie has exited


def wait_gone(pid, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return False


def flaky(marker, how):
    """A model whose layer, reloaded in the worker, kills it or hangs.

    `how` is "die" or "hang" (the first time: later loads find `marker`),
    or "die_always".
    """

    class Flaky(keras.layers.Layer):
        def __init__(self, marker, how, **kwargs):
            super().__init__(**kwargs)
            self.marker, self.how = marker, how

        def call(self, x):
            return x * 2.0

        def get_config(self):
            return {**super().get_config(), "marker": self.marker, "how": self.how}

        @classmethod
        def from_config(cls, config):
            if config["how"] == "die_always" or not os.path.exists(config["marker"]):
                open(config["marker"], "a").close()
                if config["how"].startswith("die"):
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(600)
            return cls(**config)

    return keras.Sequential([keras.Input((3,)), Flaky(str(marker), how), keras.layers.Dense(2)])


def test_later_exports_reuse_one_warm_worker(tmp_path):
    model = mlp()
    pids = []
    for i in range(3):
        report = kerasexport.export(model, str(tmp_path / f"m{i}"))
        assert report.route == "cross-backend" and report.verified
        pids.append(worker_pool.pool().worker(BACKEND).pid)
    assert len(set(pids)) == 1 and alive(pids[0])


def test_a_killed_worker_is_replaced_by_the_next_export(tmp_path, pool):
    kerasexport.export(mlp(), str(tmp_path / "a"))
    first = pool.worker(BACKEND).pid
    os.kill(first, signal.SIGKILL)
    assert wait_gone(first)
    report = kerasexport.export(mlp(), str(tmp_path / "b"))
    assert report.verified and pool.worker(BACKEND).pid != first


@pytest.mark.parametrize("how", ["die", "hang"])
def test_a_worker_dying_or_hanging_mid_export_is_replaced_and_the_export_retried(tmp_path, pool, monkeypatch, how):
    monkeypatch.setenv("KERASEXPORT_WORKER_TIMEOUT_SECONDS", "10")
    kerasexport.export(mlp(), str(tmp_path / "warm"))
    first = pool.worker(BACKEND).pid
    marker = tmp_path / "tried"
    target = tmp_path / "out" / "m"
    model = flaky(marker, how)
    report = kerasexport.export(model, str(target))
    assert marker.exists() and not alive(first)  # the first worker met the layer, and died or was ended
    assert report.verified and pool.worker(BACKEND).pid != first
    assert sorted(os.listdir(tmp_path / "out")) == ["m"]  # the retry started from a clean staging path
    import tensorflow as tf

    loaded = tf.saved_model.load(str(target))
    x = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(
        np.asarray(loaded.serve(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6
    )


def test_a_worker_failing_twice_is_reported_and_nothing_is_written(tmp_path, pool):
    target = tmp_path / "out" / "m"
    with pytest.raises(errors.RouteError) as info:
        kerasexport.export(flaky(tmp_path / "tried", "die_always"), str(target))
    assert str(info.value) == (
        f"The {BACKEND} worker process failed twice: first it exited with status -9 "
        "while exporting; then, replaced by a fresh one, it exited with status -9 while exporting."
    )
    assert not (tmp_path / "out").exists()


def test_a_worker_holding_an_edited_module_is_replaced(tmp_path, pool, monkeypatch):
    source = tmp_path / "edited_blocks.py"
    source.write_text(textwrap.dedent(
        """
        import keras

        @keras.saving.register_keras_serializable(package="edited")
        class Twice(keras.layers.Layer):
            def call(self, x):
                return x * 2.0
        """
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    import edited_blocks

    try:
        model = keras.Sequential([keras.Input((3,)), edited_blocks.Twice(), keras.layers.Dense(2)])
        kerasexport.export(model, str(tmp_path / "a"))
        first = pool.worker(BACKEND).pid
        kerasexport.export(model, str(tmp_path / "b"))
        assert pool.worker(BACKEND).pid == first  # unchanged: reused
        later = os.stat(source).st_mtime + 10
        os.utime(source, (later, later))
        kerasexport.export(model, str(tmp_path / "c"))
        assert pool.worker(BACKEND).pid != first
        assert wait_gone(first)
    finally:
        sys.modules.pop("edited_blocks", None)


def test_an_idle_worker_exits_on_its_own(own_pool, monkeypatch):
    monkeypatch.setenv("KERASEXPORT_WORKER_IDLE_SECONDS", "1")
    own_pool.start(BACKEND)
    worker = own_pool.worker(BACKEND)
    worker.wait_ready()
    assert wait_gone(worker.pid)
    assert own_pool.worker(BACKEND) is None


PARENT = textwrap.dedent(
    """
    import sys, time
    from kerasexport.cross import pool as worker_pool
    pool = worker_pool.pool()
    pool.start("tensorflow")
    worker = pool.worker("tensorflow")
    worker.wait_ready()
    print(worker.pid, flush=True)
    if sys.argv[1] == "stay":
        time.sleep(600)
    """
)


@pytest.mark.parametrize("end", ["exit", "sigkill"])
def test_the_worker_ends_with_its_parent(end):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, "stay" if end == "sigkill" else "leave"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        worker = int(parent.stdout.readline())
        assert alive(worker)
        if end == "sigkill":
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=120)
        assert wait_gone(worker, seconds=20)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
