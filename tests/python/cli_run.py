"""Run the installed `kerasexport` console script as a shell user would.

The script is the one `make setup` (pip) installed beside this Python; with
``PYTHONPATH`` set to this tree's ``inst/python`` it runs this tree's code.
The command line chooses its Keras backend itself (``--backend``), so its
tests run in one pytest run only: `ONCE` skips them in the others.
"""

import os
import pty
import select
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(sys.executable), "kerasexport")
TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "inst", "python"))
RUN_ON = "tensorflow"
ONCE = pytest.mark.skipif(
    keras.backend.backend() != RUN_ON,
    reason=f"the command line picks its backend with --backend; tested from the {RUN_ON} run only",
)
TIMEOUT = 600

# A custom layer in a module of its own, as a user's model would have: the
# command must import it (--custom-module) in its process and in the worker
# of the cross-backend route.
CUSTOM_MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="cli_test")
class Scale(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''


def environment():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = TREE
    return env


def run(*args, cwd):
    """Run ``kerasexport ARGS`` in `cwd`; standard output and error are pipes."""
    return subprocess.run(
        [SCRIPT, *map(str, args)], cwd=cwd, env=environment(), capture_output=True,
        text=True, timeout=TIMEOUT,
    )


def start(*args, cwd):
    """Start ``kerasexport ARGS`` in `cwd`; returns a function waiting for its `run()` result."""
    import tempfile

    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    command = [SCRIPT, *map(str, args)]
    process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=out, stderr=err, text=True)

    def finish():
        try:
            code = process.wait(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(command, code, out.read(), err.read())
        out.close()
        err.close()
        return result

    return finish


def run_on_terminal(*args, cwd):
    """Run ``kerasexport ARGS`` with standard error on a terminal (a pty).

    Returns:
        ``(exit code, standard output, standard error)``.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [SCRIPT, *map(str, args)], cwd=cwd, env=environment(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        out = process.stdout.read().decode()
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        os.close(controller)
    return code, out, seen.decode().replace("\r\n", "\n")


def files_under(directory):
    """Every path under `directory` with its size and modification time."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            stat = os.lstat(path)
            found[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns)
    return found


def assert_refused(result, code, *words):
    """A refusal: exit `code`, one ``error:`` line naming `words`, no traceback, nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for word in words:
        assert word in lines[0], (word, lines[0])


def outputs(model, x):
    """The model's own outputs, as NumPy (a dict for dict outputs)."""
    y = model(x, training=False)
    if isinstance(y, dict):
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in y.items()}
    return np.asarray(keras.ops.convert_to_numpy(y))


def build_models(directory):
    """Save the two models the command line's tests share, in `directory`.

    ``scaled.keras``: a Sequential model with the custom layer (module
    ``cli_layers.py`` beside it). ``two.keras``: a Functional model with
    dict inputs ``a`` and ``b`` and dict outputs ``score`` and ``value``.

    Returns:
        ``{"scaled": model, "two": model}``.
    """
    import importlib

    (directory / "cli_layers.py").write_text(CUSTOM_MODULE)
    sys.path.insert(0, str(directory))
    sys.dont_write_bytecode, previous = True, sys.dont_write_bytecode
    try:
        cli_layers = importlib.import_module("cli_layers")
    finally:
        sys.path.remove(str(directory))
        sys.dont_write_bytecode = previous
    keras.utils.set_random_seed(11)
    scaled = keras.Sequential([
        keras.Input((4,)), cli_layers.Scale(3.0), keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(3),
    ])
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    two = keras.Model(
        {"a": a, "b": b},
        {"score": keras.layers.Dense(3, name="score")(joined),
         "value": keras.layers.Dense(1, name="value")(joined)},
    )
    scaled.save(directory / "scaled.keras")
    two.save(directory / "two.keras")
    return {"scaled": scaled, "two": two}


class Exports:
    """The command line's shared work, done once per session (fixture `cli_exports`)."""

    def __init__(self, directory):
        self.directory = directory
        self.models = build_models(directory)
        # Both exports at once: each is mostly one busy core.
        # A SavedModel from PyTorch (the cross-backend route), piped: quiet.
        self.saved_model = directory / "serving" / "scaled" / "1"
        saved_model_run = start(
            "export", "scaled.keras", "serving/scaled/1", "--backend", "torch",
            "--custom-module", "cli_layers.py", "--input-signature", "[[null, 4]]",
            cwd=directory,
        )
        # ONNX from JAX, standard error on a terminal: the stages should show.
        self.onnx = directory / "two.onnx"
        self.onnx_run = run_on_terminal(
            "export", "two.keras", "two.onnx", "--backend", "jax", "--option", "opset_version=18",
            cwd=directory,
        )
        self.saved_model_run = saved_model_run()
