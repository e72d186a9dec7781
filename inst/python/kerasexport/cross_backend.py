"""The cross-backend route, parent side: save, export in a worker, collect.

The model is saved to a ``.keras`` file inside the staging directory (so it
is removed with it), then a worker process (`kerasexport.worker`, the same
Python executable, ``KERAS_BACKEND`` set to the backend that owns the
format's exporter, see `routes.cross_backend`) loads it and writes the
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
_FIX_FUNCTION = (
    "Define the function with `def` in an importable module (not a script, "
    "notebook or R session), decorate it with "
    "`@keras.saving.register_keras_serializable(package=\"...\")`, and import "
    "that module before exporting; wrap a Keras function such as "
    "`keras.ops.square` in such a function of your own."
)


def custom_modules(model, backend="tensorflow"):
    """Modules defining the model's non-Keras classes and functions.

    Checks that the worker can rebuild them: classes and functions must be
    registered with Keras and importable, and the Python lambdas of `Lambda`
    layers (saved as bytecode, without their globals) must use no global
    name.

    Args:
        model: a `keras.Model`.

    Returns:
        A sorted list of module names the worker must import.

    Raises:
        RouteError: when a class or function is not registered with Keras,
            is defined in ``__main__`` (which the worker cannot import), or a
            lambda needs globals.
    """
    modules = _class_modules(model, backend) | _function_modules(model)
    for layer in model._flatten_layers(include_self=True):
        _check_lambdas(layer)
    return sorted(modules)


def _class_modules(model, backend):
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
                f"{backend} backend). {_FIX}"
            )
        if not _importable_by_worker(cls):
            raise errors.RouteError(
                f"The model uses the custom class {name}, defined where a "
                "worker process cannot import it, so the model can't take the "
                f"cross-backend route. {_FIX}"
            )
        modules.add(cls.__module__)
    return modules


def _importable_by_worker(obj):
    """Whether a worker process can import `obj` by its module and name."""
    return obj.__module__ != "__main__" and "<locals>" not in obj.__qualname__


def _function_modules(model):
    """Modules of the functions the model's config names (activations, Lambdas)."""
    import keras

    try:
        config = keras.saving.serialize_keras_object(model)
    except Exception:
        return set()  # `write()` reports the failure to save, in its words.
    modules = set()
    for name, layer_name in _saved_function_names(config):
        function = keras.saving.get_registered_object(name)
        where = f"The model's layer {layer_name!r} uses"
        if function is None:
            raise errors.RouteError(
                f"{where} {_function_label(model, name)}, which is not registered with "
                "Keras: a .keras file names it, and the worker process that "
                "reloads the model cannot find it by that name, so the model "
                f"can't take the cross-backend route. {_FIX_FUNCTION}"
            )
        if not _importable_by_worker(function):
            raise errors.RouteError(
                f"{where} the function {function.__module__}.{function.__qualname__}, defined "
                "where a worker process cannot import it, so the model can't "
                f"take the cross-backend route. {_FIX_FUNCTION}"
            )
        modules.add(function.__module__)
    return modules


def _saved_function_names(config, layer_name=None):
    """(function name, layer name) for each function a saved config names."""
    if isinstance(config, dict):
        inner = config.get("config")
        if config.get("class_name") == "function" and isinstance(inner, str):
            if str(config.get("module")).split(".")[0] != "keras":  # Keras finds its own
                yield inner, layer_name
            return
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            layer_name = inner["name"]
        for key, value in config.items():
            if key != "compile_config":  # the worker loads with compile=False
                yield from _saved_function_names(value, layer_name)
    elif isinstance(config, (list, tuple)):
        for value in config:
            yield from _saved_function_names(value, layer_name)


def _function_label(model, name):
    """The model's function saved as `name`, in words, for messages."""
    for layer in model._flatten_layers(include_self=True):
        for value in vars(layer).values():
            if getattr(value, "__name__", None) == name and callable(value):
                if value.__module__.split(".")[0] == "rpytools":
                    return "an R function (passed through reticulate)"
                return f"the function {value.__module__}.{value.__qualname__}"
    return f"the function {name!r}"


def _check_lambdas(layer):
    """Refuse Python lambdas the worker cannot run: those using globals."""
    import keras

    if not isinstance(layer, keras.layers.Lambda):
        return
    for function in (layer.function, getattr(layer, "_output_shape", None), getattr(layer, "mask", None)):
        if getattr(function, "__name__", None) != "<lambda>":
            continue
        names = _global_names(function.__code__)
        captured = _captured_objects(function)
        if names or captured:
            uses = " and ".join(
                f"the {kind} name(s) {', '.join(found)}"
                for kind, found in (("global", names), ("captured", captured)) if found
            )
            raise errors.RouteError(
                f"The model's Lambda layer {layer.name!r} wraps a Python lambda "
                f"that uses {uses}. Keras saves a lambda as bytecode, without "
                "its globals and with captured values as plain data, so the "
                "worker process cannot run it, and the model can't take the "
                f"cross-backend route. {_FIX_FUNCTION}"
            )


def _captured_objects(function):
    """Names of closure variables holding more than plain data (modules, objects)."""
    plain = (bool, int, float, complex, str, bytes, type(None))

    def is_plain(value):
        if isinstance(value, (list, tuple)):
            return all(is_plain(v) for v in value)
        return isinstance(value, plain)

    names = []
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if not is_plain(value):
            names.append(name)
    return sorted(names)


def _global_names(code):
    """Global names a code object (or one nested in it) loads, builtins aside."""
    import builtins
    import dis

    names = {
        i.argval for i in dis.get_instructions(code)
        if i.opname in ("LOAD_GLOBAL", "LOAD_NAME") and not hasattr(builtins, i.argval)
    }
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            names |= set(_global_names(const))
    return sorted(names)


def write(model, path, format, signature, verbose, options, backend="tensorflow"):
    """Write the artifact for `model` at `path` through a worker process.

    Args:
        model: the `keras.Model` to export (any backend).
        path: `str`, the staging path of the artifact; its directory holds
            the temporary files.
        format: `str`, the export format.
        signature: the normalized signature (see `signature.normalize`).
        verbose: `bool` or `None`. Show the worker's output.
        options: `dict` of the exporter's options (must be JSON-ready).
        backend: `str`, the Keras backend the worker exports with.

    Raises:
        RouteError: when the model cannot be saved, reloaded or exported by
            the worker; the message ends with the worker's last error line.
    """
    imports = custom_modules(model, backend)
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
        "verbose": bool(verbose), "imports": imports, "weights": len(model.weights),
        "result": os.path.join(work_dir, _RESULT_FILE),
    }
    request_file = os.path.join(work_dir, _REQUEST_FILE)
    with open(request_file, "w") as f:
        json.dump(request, f)
    try:
        completed = subprocess.run(
            [python_executable(), "-m", "kerasexport.worker", request_file],
            env=worker_env(verbose, backend), capture_output=True, text=True,
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
    raise errors.RouteError(_failure_message(result, completed, backend))


def _read_result(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _failure_message(result, completed, backend):
    stage = result.get("stage")
    last = result.get("error") or _last_error_line(completed.stderr) or (
        f"the worker exited with status {completed.returncode} and no message"
    )
    if stage == "import":
        what = "could not import the modules of the model's custom classes"
    elif stage == "load":
        what = "could not reload the model from its .keras file"
    elif stage == "export":
        what = f"could not export the model with the {backend} backend"
    else:
        what = "failed"
    message = f"The cross-backend route failed: the worker process {what}. Worker's last error: {last}"
    if last.startswith("WeightsLost: "):
        message += " The model can't take the cross-backend route."
    elif stage in ("import", "load"):
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


def worker_env(verbose, backend="tensorflow"):
    """The worker's environment: the exporting `backend`, this process's paths."""
    import kerasexport

    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
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
