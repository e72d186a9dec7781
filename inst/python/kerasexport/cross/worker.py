"""The worker process of the cross-backend route.

Started by `kerasexport.cross.pool` as
``python -m kerasexport.cross.worker --serve REPLY_FD IDLE_SECONDS`` with
``KERAS_BACKEND`` set to the exporting backend. It imports the backend once,
says ``{"ready": true}`` on the reply pipe, then reads requests from standard
input, one JSON line each (``{"request": PATH, "log": PATH}``), and answers
each with one JSON line on the reply pipe:
``{"ok": true}`` or ``{"ok": false, "stage": "import"|"load"|"export", "error": "..."}``.
Its output during a request (tracebacks, the exporters' messages) goes to
the request's log file. It exits on end of input (its parent is gone), when
its parent dies, and after `IDLE_SECONDS` without a request.

``python -m kerasexport.cross.worker REQUEST.json`` runs one request and writes
its result to the request's ``result`` path (for debugging).

A request (JSON) names a ``.keras`` file, the format, the normalized
signature (`signature.to_json`), the exporter's options, the modules to
import first (registered custom classes in importable modules), a
cloudpickle ``payload`` of the custom code sent by value (see
`custom_code`), the directories to add to ``sys.path``, and the source
backend. The worker loads the model, exports it with Keras's native
exporter on its own backend, and writes the artifact to ``output``. It does
not verify: the parent process verifies against the original model.
"""

import contextlib
import importlib
import json
import os
import select
import sys
import threading
import time
import traceback
import warnings

_PARENT_POLL_SECONDS = 1.0


def run(request):
    """Carry out `request`: export a model, or build an archive.

    Args:
        request: `dict` with keys `output`, `verbose`, `imports`, and
            optionally `payload`, `sys_path` and `source_backend`; then
            either `model`, `format`, `signature`, `options` and `weights`
            (how many weights the original model has; a reloaded model with
            fewer is refused), or ``"kind": "archive"`` with `models`,
            `weights` (one count each), `endpoints` and `collections` (see
            `cross.archive`).

    Returns:
        `dict`: `{"ok": True, "seconds": {stage: seconds}}` or
        `{"ok": False, "stage": str, "error": str}`.
    """
    stage = "import"
    clock = _Clock()
    try:
        for path in request.get("sys_path", []):
            if path not in sys.path:
                sys.path.append(path)
        for module in request.get("imports", []):
            importlib.import_module(module)
        shipped = _unpickle(request.get("payload"))
        stage = clock.lap("import", "load")
        if request.get("kind") == "archive":
            models = [
                _load(path, shipped, i, weights)
                for i, (path, weights) in enumerate(zip(request["models"], request["weights"]))
            ]
            stage = clock.lap("load", "export")
            _write_archive(models, request)
        else:
            model = _load(request["model"], shipped, 0, request.get("weights"))
            stage = clock.lap("load", "export")
            _export(model, request)
        clock.lap("export")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        from kerasexport import routes
        from kerasexport.cross import foreign

        traceback.print_exc()
        result = {"ok": False, "stage": stage, "error": routes.describe(exc)}
        found = foreign.diagnose(exc, request.get("source_backend"))
        if found:
            result["foreign_call"] = found
        return result
    return {"ok": True, "seconds": clock.laps}


class _Clock:
    """Seconds per stage of a request, for the parent (and the benchmark)."""

    def __init__(self):
        self.laps = {}
        self._started = time.perf_counter()

    def lap(self, stage, next_stage=None):
        now = time.perf_counter()
        self.laps[stage] = round(now - self._started, 4)
        self._started = now
        return next_stage


def _load(path, shipped, index, weights):
    """Load one `.keras` file with the shipped custom objects and lambdas."""
    import keras

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model = keras.saving.load_model(
            path, custom_objects=shipped["objects"], compile=False, safe_mode=False
        )
    lambdas = shipped["lambdas"]
    _restore_lambdas(model, lambdas[index] if index < len(lambdas) else {})
    _check_weights(model, weights, seen)
    return model


def _export(model, request):
    from kerasexport import formats
    from kerasexport import signature as signature_lib

    specs = signature_lib.from_json(request["signature"])
    fmt = formats.get(request["format"])
    fmt.write(model, request["output"], specs, request.get("verbose"), **request.get("options", {}))


def _write_archive(models, request):
    """Build the archive the request describes from `models`, and write it (unverified)."""
    import functools

    from kerasexport import signature as signature_lib
    from kerasexport.archive import native

    endpoints = []
    for endpoint in request["endpoints"]:
        owner = models[endpoint["model"]]
        fn = owner if endpoint["method"] == "object" else getattr(owner, endpoint["method"])
        if endpoint["training"] is not None:
            fn = functools.partial(fn, training=endpoint["training"])
        endpoints.append((endpoint["name"], fn, signature_lib.from_json(endpoint["signature"])))
    collections = [
        (c["name"], [models[i].variables[j] for i, j in c["variables"]]) for c in request["collections"]
    ]
    native.write_unverified(models, endpoints, collections, request["output"], request.get("verbose"))


def _unpickle(path):
    """The custom code sent by value: `{"objects": {...}, "lambdas": [...]}`."""
    if not path:
        return {"objects": {}, "lambdas": []}
    import cloudpickle

    with open(path, "rb") as f:
        return cloudpickle.load(f)


def _restore_lambdas(model, lambdas):
    """Put the original Python lambdas back into the reloaded Lambda layers.

    Keras saves a lambda as bytecode without its globals; the parent sent
    each one by value, keyed by its layer's position among the model's
    layers.
    """
    if not lambdas:
        return
    layers = list(model._flatten_layers(include_self=True))
    for index, (name, functions) in lambdas.items():
        layer = layers[int(index)] if int(index) < len(layers) else None
        if layer is None or layer.name != name:
            raise RuntimeError(
                f"the reloaded model's layers differ from the original's (no "
                f"Lambda layer {name!r} at position {index})"
            )
        for attribute, function in functions.items():
            setattr(layer, attribute, function)


class WeightsLost(RuntimeError):
    """The reloaded model lacks weights the original has."""


def _check_weights(model, expected, seen):
    """Refuse a model that came back with fewer weights than it left with.

    Keras reloads without complaint a model whose `build_from_config()`
    cannot build it (a subclassed model whose `call()` takes several
    tensors): it only warns. Exported, such a model gets fresh random weights.
    """
    if expected is None or len(model.weights) >= expected:
        return
    said = [str(w.message).split("\n")[0] for w in seen if "build" in str(w.message)]
    raise WeightsLost(
        f"the model reloaded from its .keras file has {len(model.weights)} "
        f"weights, the original {expected}. "
        + (f"Keras said: {said[0]}" if said else "Keras could not build it again.")
    )


# Serving ---------------------------------------------------------------------


@contextlib.contextmanager
def _output_to(path):
    """Send this process's standard output and error (C level too) to `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd,) + saved:
            os.close(f)


def _serve_one(line):
    message = json.loads(line)
    with open(message["request"]) as f:
        request = json.load(f)
    with _output_to(message["log"]), warnings.catch_warnings():
        if not request.get("verbose"):
            warnings.simplefilter("ignore")
        return run(request)


def _forget():
    """Drop the exported model's state, so the next request starts clean.

    Run after answering, while the parent verifies: it takes as long as a
    small model's export.
    """
    import keras

    keras.backend.clear_session()  # collects garbage too


def _watch_parent(parent):
    """Exit when re-parented: the parent died (even by SIGKILL) mid-request."""
    while True:
        time.sleep(_PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(3)


def _warm_up():
    """Import what every request needs, so the first one is as fast as later ones."""
    import keras  # noqa: F401 - imports the backend

    from kerasexport import formats  # noqa: F401
    from kerasexport import signature  # noqa: F401

    if keras.backend.backend() == "tensorflow":
        import tensorflow  # noqa: F401
        from keras.src.export import saved_model  # noqa: F401


def serve(reply_fd, idle_seconds):
    """Answer requests from standard input until it closes or stays idle."""
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    replies = os.fdopen(reply_fd, "wb", buffering=0)

    def reply(data):
        replies.write((json.dumps(data) + "\n").encode())

    _warm_up()
    reply({"ready": True, "pid": os.getpid()})
    stdin = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], idle_seconds)
        if not ready:
            return 0  # idle too long
        line = stdin.readline()
        if not line:
            return 0  # the parent closed the pipe, or is gone
        try:
            result = _serve_one(line)
        except Exception as exc:  # noqa: BLE001 - a malformed request
            result = {"ok": False, "stage": "request", "error": f"{type(exc).__name__}: {exc}"}
        reply(result)
        _forget()  # after the answer: the parent verifies meanwhile


def main(argv=None):
    """Entry point: ``--serve REPLY_FD IDLE_SECONDS``, or one request file."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(int(argv[1]), float(argv[2]))
    with open(argv[0]) as f:
        request = json.load(f)
    result = run(request)
    with open(request["result"], "w") as f:
        json.dump(result, f)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
