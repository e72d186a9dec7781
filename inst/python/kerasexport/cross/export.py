"""The cross-backend route, parent side: save, export in a worker, collect.

The model is saved to a ``.keras`` file inside the staging directory (so it
is removed with it), then a warm worker process of the backend that owns the
format's exporter (`routes.worker_backend`; see `pool`) loads it and
writes the artifact to the staging path. The caller verifies the artifact
against the original model afterwards.

The worker imports the same kerasexport tree as this process (its parent
directory comes first on the worker's ``PYTHONPATH``) and sees this
process's ``sys.path``. The model's custom code reaches it by name (a
registered class in an importable module: the worker imports the module) or
by value (anything else, see `custom_code`).
"""

import json
import os
import sys

from kerasexport import errors
from kerasexport import routes
from kerasexport import signature as signature_lib
from kerasexport.cross import custom_code
from kerasexport.cross import environment
from kerasexport.cross import functional_copy
from kerasexport.cross import pool

_MODEL_FILE = "model.keras"
_REQUEST_FILE = "worker-request.json"
_PAYLOAD_FILE = "worker-code.pkl"
_LOG_FILE = "worker-output.log"
_FIX = (
    "Give each custom class a `get_config()` returning its constructor's "
    "arguments (and `from_config()` if they are not plain values), so Keras "
    "can save and rebuild it."
)


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
    import keras

    source = keras.backend.backend()
    paths = environment.worker_path()
    work_dir = os.path.dirname(path)
    model_file = os.path.join(work_dir, _MODEL_FILE)
    model = _save(model, model_file, signature)
    package = custom_code.pack(model, backend, source, paths)
    request = {
        "model": model_file, "output": path, "format": format,
        "signature": signature_lib.to_json(signature), "options": options,
        "verbose": bool(verbose), "weights": len(model.weights),
        "sys_path": paths, "source_backend": source,
    }
    result, output = run_request(backend, request, package, lambda: clear(path))
    if verbose:
        sys.stderr.write(output)
    if result.get("ok"):
        return
    raise errors.RouteError(failure_message(result, output, backend, source, package))


def _save(model, model_file, signature):
    """Save `model` to `model_file`; the model actually saved.

    A subclassed model Keras cannot save (constructor arguments that fit no
    config, and no `get_config()`) is saved as a Functional model traced
    from its `call()` (see `functional_copy`).
    """
    try:
        model.save(model_file)
        return model
    except Exception as exc:
        failure = exc
    tried = ""
    if _is_subclassed(model):
        try:
            copy = functional_copy.functional_copy(model, signature)
            copy.save(model_file)
            return copy
        except Exception as exc:  # noqa: BLE001 - reported with the first failure
            tried = f" Tracing it into a Functional model failed too: {routes.describe(exc)}"
    raise errors.RouteError(
        f"The model could not be saved to a .keras file ({routes.describe(failure)}), "
        f"so it can't take the cross-backend route. {_FIX}{tried}"
    ) from failure


def _is_subclassed(model):
    import keras
    from keras.src.models.functional import Functional

    return not isinstance(model, (Functional, keras.Sequential))


def run_request(backend, request, package, before_retry):
    """Hand `request` and `package` (the custom code) to `backend`'s warm worker.

    The request's files (the request, the payload, the log, and the
    `.keras` files it names) are written beside its `output` and removed
    afterwards, so only the artifact is left there.

    Returns:
        (result `dict`, the worker's output for this request as `str`).
    """
    work_dir = os.path.dirname(request["output"])
    request = dict(request, imports=package.imports)
    if package.payload is not None:
        request["payload"] = os.path.join(work_dir, _PAYLOAD_FILE)
        with open(request["payload"], "wb") as f:
            f.write(package.payload)
    request_file = os.path.join(work_dir, _REQUEST_FILE)
    log_file = os.path.join(work_dir, _LOG_FILE)
    with open(request_file, "w") as f:
        json.dump(request, f)
    try:
        result = pool.pool().run(backend, request_file, log_file, package.stamps, before_retry)
        output = _read(log_file)
    finally:
        leftovers = [request_file, log_file, request.get("model"), request.get("payload")]
        for name in leftovers + list(request.get("models", ())):
            if name and os.path.lexists(name):
                os.remove(name)
    return result, output


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def clear(path):
    """Remove what a failed attempt left at the staging `path`."""
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def failure_message(result, output, backend, source, package):
    """What the worker's failed `result` means, and what to do, in words."""
    stage = result.get("stage")
    foreign = result.get("foreign_call")
    if foreign:
        return _foreign_message(foreign, backend, source)
    last = result.get("error") or _last_error_line(output) or "the worker gave no message"
    if stage == "import":
        what = "could not import or unpack the model's custom code"
    elif stage == "load":
        what = "could not reload the model from its .keras file"
    elif stage == "export":
        what = f"could not export the model with the {backend} backend"
    else:
        what = "failed"
    message = f"The cross-backend route failed: the worker process {what}. Worker's last error: {last}"
    if last.startswith("WeightsLost: "):
        message += " The model can't take the cross-backend route."
    elif stage == "load":
        message += f" The model can't take the cross-backend route. {_FIX}"
    elif stage == "import":
        message += " The model can't take the cross-backend route."
    if package.by_value:
        message += f" (Sent by value: {', '.join(package.by_value)}.)"
    return message + " Pass `verbose=True` to see the worker's full output."


def _foreign_message(foreign, backend, source):
    function, call = foreign["function"], foreign["call"]
    native = routes.NATIVE.get(source, ())
    hint = (
        f" Or export to {' or '.join(native)} on the {source} backend itself "
        "(route = \"native\"), where that call runs."
        if native else ""
    )
    return (
        f"The custom code {function}() calls {call}, a function of "
        f"{foreign['library']}, the library of the model's own {source} backend. "
        f"The cross-backend route exports with the {backend} backend in a "
        "worker process, where that call cannot run on its tensors, so the "
        f"model can't take it as written. Rewrite {function}() with keras.ops "
        f"(e.g. keras.ops.{call.rsplit('.', 1)[-1]} in place of {call}) so it "
        f"runs on every backend.{hint}"
    )


def _last_error_line(output):
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line.split(":")[0] or "Exception" in line.split(":")[0]:
            return line
    return lines[-1] if lines else ""
