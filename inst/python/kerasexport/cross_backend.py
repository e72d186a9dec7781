"""The cross-backend route, parent side: save, export in a worker, collect.

The model is saved to a ``.keras`` file inside the staging directory (so it
is removed with it), then a worker process (`kerasexport.worker`, the same
Python executable, ``KERAS_BACKEND=tensorflow``) loads it and writes the
artifact to the staging path. The caller verifies the artifact against the
original model afterwards.

The worker imports the same kerasexport tree as this process (its parent
directory comes first on the worker's ``PYTHONPATH``), sees this process's
``sys.path`` (so modules importable here are importable there), and imports
the modules that define the model's custom classes before loading it, so
classes registered with ``keras.saving.register_keras_serializable`` in an
importable module resolve without any extra argument.
"""

import json
import os
import subprocess
import sys

from kerasexport import errors
from kerasexport import routes
from kerasexport import signature as signature_lib

_MODEL_FILE = "model.keras"
_REQUEST_FILE = "worker-request.json"
_RESULT_FILE = "worker-result.json"
_FIX = (
    "Register each custom class with "
    "`@keras.saving.register_keras_serializable(package=\"...\")` and define "
    "it, with `get_config()` if its constructor takes arguments, in an "
    "importable module (not a script, notebook or R session); import that "
    "module before exporting."
)


def custom_modules(model):
    """Modules defining the model's non-Keras classes, checked for reloading.

    Args:
        model: a `keras.Model`.

    Returns:
        A sorted list of module names the worker must import.

    Raises:
        RouteError: when a class is not registered with Keras, or is defined
            in ``__main__`` (which the worker cannot import).
    """
    import keras

    modules = set()
    for layer in model._flatten_layers(include_self=True):
        cls = type(layer)
        if cls.__module__.split(".")[0] == "keras":
            continue
        name = f"{cls.__module__}.{cls.__qualname__}"
        registered = keras.saving.get_registered_object(keras.saving.get_registered_name(cls))
        if registered is not cls:
            raise errors.RouteError(
                f"The model uses the custom class {name}, which is not "
                "registered with Keras, so the model can't take the "
                "cross-backend route (it must be saved and reloaded under the "
                f"{routes.CROSS_BACKEND} backend). {_FIX}"
            )
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise errors.RouteError(
                f"The model uses the custom class {name}, defined where a "
                "worker process cannot import it, so the model can't take the "
                f"cross-backend route. {_FIX}"
            )
        modules.add(cls.__module__)
    return sorted(modules)


def write(model, path, format, signature, verbose, options):
    """Write the artifact for `model` at `path` through a worker process.

    Args:
        model: the `keras.Model` to export (any backend).
        path: `str`, the staging path of the artifact; its directory holds
            the temporary files.
        format: `str`, the export format.
        signature: the normalized signature (see `signature.normalize`).
        verbose: `bool` or `None`. Show the worker's output.
        options: `dict` of the exporter's options (must be JSON-ready).

    Raises:
        RouteError: when the model cannot be saved, reloaded or exported by
            the worker; the message ends with the worker's last error line.
    """
    imports = custom_modules(model)
    work_dir = os.path.dirname(path)
    model_file = os.path.join(work_dir, _MODEL_FILE)
    try:
        model.save(model_file)
    except Exception as exc:
        raise errors.RouteError(
            f"The model could not be saved to a .keras file ({routes.describe(exc)}), "
            f"so it can't take the cross-backend route. {_FIX}"
        ) from exc
    request = {
        "model": model_file, "output": path, "format": format,
        "signature": signature_lib.to_json(signature), "options": options,
        "verbose": bool(verbose), "imports": imports,
        "result": os.path.join(work_dir, _RESULT_FILE),
    }
    request_file = os.path.join(work_dir, _REQUEST_FILE)
    with open(request_file, "w") as f:
        json.dump(request, f)
    try:
        completed = subprocess.run(
            [python_executable(), "-m", "kerasexport.worker", request_file],
            env=worker_env(verbose), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, check=False,
        )
    finally:
        os.remove(model_file)
    if verbose:
        sys.stdout.write(completed.stdout)
        sys.stderr.write(completed.stderr)
    result = _read_result(request["result"])
    if result.get("ok") and completed.returncode == 0:
        return
    raise errors.RouteError(_failure_message(result, completed))


def _read_result(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _failure_message(result, completed):
    stage = result.get("stage")
    last = result.get("error") or _last_error_line(completed.stderr) or (
        f"the worker exited with status {completed.returncode} and no message"
    )
    if stage == "import":
        what = "could not import the modules of the model's custom classes"
    elif stage == "load":
        what = "could not reload the model from its .keras file"
    elif stage == "export":
        what = f"could not export the model with the {routes.CROSS_BACKEND} backend"
    else:
        what = "failed"
    message = f"The cross-backend route failed: the worker process {what}. Worker's last error: {last}"
    if stage in ("import", "load"):
        message += f" The model can't take the cross-backend route. {_FIX}"
    return message + " Pass `verbose=True` to see the worker's full output."


def _last_error_line(stderr):
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line.split(":")[0] or "Exception" in line.split(":")[0]:
            return line
    return lines[-1] if lines else ""


def python_executable():
    """This process's Python (also when embedded in R by reticulate)."""
    exe = sys.executable
    if exe and os.path.basename(exe).startswith("python") and os.path.exists(exe):
        return exe
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3", "python"):
        candidate = os.path.join(sys.prefix, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise errors.RouteError(
        f"Cannot find the Python executable for the worker process "
        f"(sys.executable is {exe!r}, sys.prefix {sys.prefix!r})."
    )


def worker_env(verbose):
    """The worker's environment: TensorFlow backend, this process's paths."""
    import kerasexport

    env = dict(os.environ)
    env["KERAS_BACKEND"] = routes.CROSS_BACKEND
    if not verbose:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        env["PYTHONWARNINGS"] = "ignore"
    core_parent = os.path.dirname(os.path.dirname(os.path.abspath(kerasexport.__file__)))
    paths = [core_parent] + [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)]
    seen = []
    for p in paths:
        if p not in seen:
            seen.append(p)
    env["PYTHONPATH"] = os.pathsep.join(seen)
    return env
