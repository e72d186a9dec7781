import importlib.util
import os
import subprocess
import sys
import tempfile
import warnings

import keras
import pytest

import kerasexport
from kerasexport import quiet
from kerasexport import routes


def native_format():
    return routes.NATIVE[keras.backend.backend()][-1]  # onnx: the noisiest


def target(tmp_path):
    return str(tmp_path / ("m.onnx" if native_format() == "onnx" else "m"))


def test_a_default_export_prints_nothing(tmp_path, small_model, capfd):
    kerasexport.export(small_model, target(tmp_path), format=native_format())  # warm up imports
    capfd.readouterr()
    kerasexport.export(small_model, target(tmp_path), format=native_format(), overwrite=True)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_verbose_lets_the_exporters_speak(tmp_path, small_model, capfd):
    kerasexport.export(small_model, target(tmp_path), format=native_format(), verbose=True)
    out, err = capfd.readouterr()
    assert (out + err).strip() != ""
    # The exporters name the staging path they wrote to; the last word is ours.
    assert out.strip().splitlines()[-1] == f"Verified artifact moved into place at '{target(tmp_path)}'."


def test_fd_output_is_captured_and_shown_on_failure():
    with pytest.raises(RuntimeError) as info:
        with quiet.quiet(verbose=None):
            os.write(2, b"converter says: node 7 unsupported\n")
            raise RuntimeError("conversion failed")
    assert "node 7 unsupported" in "".join(getattr(info.value, "__notes__", []))


def test_genuine_warnings_are_kept_once_and_noise_dropped():
    keras_file = os.path.join(os.path.dirname(keras.__file__), "src", "fake.py")
    with quiet.quiet(verbose=None) as kept:
        for _ in range(3):
            warnings.warn_explicit("structure mismatch", UserWarning, keras_file, 1)
        warnings.warn_explicit("old API", DeprecationWarning, keras_file, 2)
        warnings.warn_explicit("tracer noise", UserWarning, os.path.join(tempfile.gettempdir(), "torch", "jit.py"), 3)
    assert kept == ["structure mismatch"]


def test_loading_a_saved_model_prints_nothing(tmp_path, small_model):
    # In a fresh process, where TensorFlow's first import would print.
    path = str(tmp_path / "m")
    kerasexport.export(small_model, path)
    completed = subprocess.run(
        [sys.executable, "-c", "import sys, kerasexport; kerasexport.load(sys.argv[1])", path],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert completed.returncode == 0, completed.stderr
    assert (completed.stdout, completed.stderr) == ("", "")


def test_output_left_in_c_buffers_is_captured_too(capfd):
    # In R, C stdio buffers the console fully when it is not a terminal, and
    # torch's exporter prints a graph dump through it: flushed after the
    # block, the dump reached the user. A fully buffered C stream on fd 1
    # stands for R's console here.
    import ctypes

    libc = ctypes.CDLL(None)
    libc.fdopen.restype = ctypes.c_void_p
    console = ctypes.c_void_p(libc.fdopen(1, b"w"))
    with quiet.quiet(None):
        libc.fputs(b"graph(%x : Float(1, 3))\n", console)
    libc.fflush(console)
    out, _ = capfd.readouterr()
    assert "graph(%x" not in out


@pytest.mark.skipif(keras.backend.backend() != "tensorflow" or importlib.util.find_spec("tensorflow") is None,
                    reason="TensorFlow's start-up notices: checked once, on the TensorFlow run")
def test_importing_tensorflow_through_quiet_prints_nothing():
    # TensorFlow prints absl's and oneDNN's notices while it loads (what `make demo` showed first).
    code = "from kerasexport import quiet; quiet.imported('tensorflow'); print('ok')"
    quieted = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert quieted.returncode == 0, quieted.stderr
    assert (quieted.stdout, quieted.stderr) == ("ok\n", "")
