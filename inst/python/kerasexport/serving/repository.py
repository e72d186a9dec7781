"""What the server serves: models, their versions, polling and swaps.

A path is either one artifact (a file, or a SavedModel directory), served
as version 1 of a model named after it, or a model repository laid out as
TF-Serving and Triton expect::

    ROOT/<model>/<version>/saved_model.pb              TF-Serving
    ROOT/<model>/<version>/model.savedmodel/           Triton, SavedModel
    ROOT/<model>/<version>/model.onnx                  Triton, ONNX (any file name)
    ROOT/<model>/<version>/model.xml + model.bin       OpenVINO

A version directory holds one artifact that `kerasexport.load()` opens;
formats are not listed here, so every format `load()` learns is served.
Hidden entries (kerasexport's staging directories) and Triton's
``config.pbtxt`` are ignored. Versions are positive integers.

TF-Serving's default version policy: a request without a version goes to
the latest available version; explicit versions are served while present.
`scan()` (called every `poll_seconds` by the poller) loads a new version,
warms it up (`serving.warmup`: once on zeros at each batch size the batcher
sends), and only then swaps it in; a version that fails is
kept as failed, with its error, while the older ones keep serving, and is
tried again when its files change. A removed version stops taking requests
at once and lets go of its runtime when its last request ends. `unload()`
(Triton's repository unload) retires every version of a model and polling
leaves it alone until `load()`: the operator's word wins over the disk.
"""

import contextlib
import dataclasses
import logging
import os
import threading

from kerasexport.errors import KerasexportError
from kerasexport import formats
from kerasexport.formats import saved_model
from kerasexport.serving import model_config as model_config_lib
from kerasexport.serving import triton_config
from kerasexport.serving.errors import BadRequest, NotFound
from kerasexport.serving.warmup import batch_sizes, warm_up

logger = logging.getLogger("kerasexport.serve")

TRITON_SAVED_MODEL = "model.savedmodel"
# Triton's model configuration, and a Python-backend model's code beside its artifact.
IGNORED = frozenset({"config.pbtxt", "model.py"})

AVAILABLE = "AVAILABLE"
FAILED = "FAILED"
UNLOADING = "UNLOADING"
END = "END"


@dataclasses.dataclass(eq=False)
class Version:
    """One version of a model: loaded and serving, or failed with its error.

    Attributes:
        model: the model's name.
        number: the version, a positive `int`.
        state: `AVAILABLE`, `FAILED`, `UNLOADING` (removed, requests still
            running) or `END` (removed and released).
        artifact: the loaded `kerasexport.Artifact`, or `None`.
        runner: what runs requests on it (`batching.Runner`), or `None`.
        error: why it failed to load (no local path), else `""`.
        inflight: requests running on it now.
    """

    model: str
    number: int
    state: str
    artifact: object = None
    runner: object = None
    error: str = ""
    signature: tuple = ()
    inflight: int = 0


class Repository:
    """The models under a path, their versions, and how requests reach them.

    Args:
        path: one artifact, or a repository root (see the module's doc).
        make_runner: `callable(artifact, model, version, config)` returning
            the object that runs requests on a loaded version (`config`: the
            model's `triton_config.TritonConfig`, or `None`); kept on
            `Version.runner` and closed with the version.
        warmup_rows: the batch sizes a new version runs at before it
            serves (`serving.warmup`), unless a Triton ``config.pbtxt``
            sets the model's batch size. Defaults to `(1,)`.
        model_config: path of a TF-Serving model config file
            (`model_config`): the models, versions and labels to serve
            instead of every directory under `path`. Defaults to `None`.

    Raises:
        NotFound: `path` does not exist.
        ConfigError: `model_config` cannot be read or parsed.
    """

    def __init__(self, path, make_runner=None, warmup_rows=(1,), model_config=None):
        self.root = os.path.abspath(os.fspath(path))
        if not os.path.exists(self.root):
            raise NotFound("Nothing to serve: the path does not exist. Expected an "
                           "artifact or a model repository (ROOT/<model>/<version>/).")
        self.single = os.path.isfile(self.root) or saved_model.recognizes(self.root)
        self._make_runner = make_runner
        self._warmup_rows = tuple(warmup_rows)
        self._lock = threading.Lock()
        self._models = {}  # name -> {version number: Version}, live and failed
        self._retired = {}  # name -> {version number: Version}, removed
        self._scanned = False
        self._held = set()  # models unloaded by request: polling leaves them until a load
        self._scanning = threading.RLock()  # one scan, load or unload at a time
        self._poller = None
        self._stop = threading.Event()
        self._entries = (None if model_config is None
                         else model_config_lib.read(os.fspath(model_config), self.root))

    # Discovery ----

    def _discover(self):
        """{model: {version: version directory or artifact path}} on disk now."""
        if self.single:
            base = os.path.basename(self.root.rstrip(os.sep))
            return {os.path.splitext(base)[0] or base: {1: self.root}}
        if self._entries is not None:
            return model_config_lib.discover(self._entries)
        found = {}
        for model in _entries(self.root):
            model_dir = os.path.join(self.root, model)
            if not os.path.isdir(model_dir):
                continue
            versions = {}
            for entry in _entries(model_dir):
                if entry.isdigit() and int(entry) > 0 and os.path.isdir(os.path.join(model_dir, entry)):
                    versions[int(entry)] = os.path.join(model_dir, entry)
            found[model] = versions
        return found

    def _model_dir(self, model):
        if self._entries is not None:
            return self._entries[model].directory
        return os.path.join(self.root, model)

    def label(self, model, label):
        """The version `label` names in the model config file (`model_config.label`).

        Raises:
            NotFound: unknown model or label, or no model config file.
        """
        try:
            return model_config_lib.label(self._entries, model, label)
        except LookupError as exc:
            raise NotFound(str(exc)) from None

    def _broken(self, model):
        """Raise `NotFound` for a model whose model config entry is malformed."""
        entry = (self._entries or {}).get(model)
        if isinstance(entry, Exception):
            raise NotFound(f"Model {model!r} is not served: {entry}")

    def artifacts(self):
        """{model: {version: the artifact's path, or the `ValueError` saying why not}}, not loaded.

        What `scan()` would load now (versions still empty are left out);
        for readers of a repository other than the server (`kerasexport.deploy`).
        """
        found = {}
        for model, versions in self._discover().items():
            for number, directory in sorted(versions.items()):
                try:
                    path = self._artifact_path(directory)
                except ValueError as exc:
                    path = exc
                if path is not None:
                    found.setdefault(model, {})[number] = path
        return found

    def _artifact_path(self, version_dir):
        """The artifact inside a version directory; `None` while it is empty.

        Raises:
            ValueError: when the directory holds several candidates.
        """
        if self.single or saved_model.recognizes(version_dir):
            return version_dir
        names = [n for n in _entries(version_dir) if n not in IGNORED]
        if TRITON_SAVED_MODEL in names:
            return os.path.join(version_dir, TRITON_SAVED_MODEL)
        companions = {os.path.basename(c) for n in names for c in _companions(n)}
        candidates = [n for n in names if n not in companions]
        if not candidates:
            return None
        if len(candidates) > 1:
            preferred = [n for n in candidates if n.startswith("model.")]
            if len(preferred) != 1:
                raise ValueError(
                    f"the version directory holds {len(candidates)} entries "
                    f"({', '.join(sorted(candidates))}); expected one artifact "
                    "(a SavedModel, or one file such as model.onnx)."
                )
            candidates = preferred
        return os.path.join(version_dir, candidates[0])

    # Loading and swapping ----

    def scan(self):
        """Bring the served versions in line with the disk, once.

        New versions are loaded and smoke-run before they serve; failed ones
        are retried when their files change; removed ones stop serving.
        """
        with self._scanning:
            found = self._discover()
            for model, versions in found.items():
                if model not in self._held:
                    self._scan_model(model, versions)
            with self._lock:
                for model in list(self._models):
                    for number in list(self._models[model]):
                        if number not in found.get(model, {}):
                            self._retire(model, number)
                    if not self._models[model] and model not in found:
                        del self._models[model]
                        self._held.discard(model)
                self._scanned = True

    def _scan_model(self, model, versions):
        """Load the new and changed versions of one model found on disk."""
        for number, directory in sorted(versions.items()):
            with self._lock:
                known = self._models.get(model, {}).get(number)
            signature = _signature(directory)
            if known is not None and (known.state != FAILED or known.signature == signature):
                continue
            version = self._load(model, number, directory, signature)
            if version is None:
                continue
            with self._lock:
                self._models.setdefault(model, {})[number] = version
                self._retired.get(model, {}).pop(number, None)
            if not (self.single and version.state == FAILED):  # the server says why it stops
                _log_version(version)

    def load(self, model):
        """Load a model now, and let polling manage it again (Triton's repository load).

        Undoes an `unload()`; loads the versions on disk that are new or
        changed, and returns once they are loaded (or failed).

        Raises:
            NotFound: no such model in the repository.
        """
        with self._scanning:
            versions = self._discover().get(model)
            if versions is None:
                raise NotFound(f"Model {model!r} is not in the model repository. Available: "
                               f"{sorted(self._discover())}.")
            self._held.discard(model)
            with self._lock:
                self._models.setdefault(model, {})
            self._scan_model(model, versions)
        logger.info("model %s loaded on request", model)

    def unload(self, model):
        """Stop serving every version of a model until `load()`, whatever polling finds.

        Requests in flight finish; the runtimes are released after them.

        Raises:
            NotFound: unknown model.
        """
        with self._scanning:
            with self._lock:
                if model not in self._models:
                    raise NotFound(f"Model {model!r} not found. Available: {sorted(self._models)}.")
                self._held.add(model)
                for number in list(self._models[model]):
                    self._retire(model, number)
        logger.info("model %s unloaded on request", model)

    def held(self, model):
        """Whether `model` was unloaded by request (and not loaded since)."""
        return model in self._held

    def _load(self, model, number, directory, signature):
        from kerasexport.api import load

        try:
            path = self._artifact_path(directory)
            if path is None:
                return None  # Still being written, or empty: look again next time.
            config = None if self.single else triton_config.read(self._model_dir(model))
            artifact = load(path)
            # READY only once it has run at every batch size its batcher sends, and
            # a Triton config's model_warmup too.
            warm_up(artifact, batch_sizes(config.rows_per_batch) if config is not None else self._warmup_rows)
            if config is not None:
                for arrays in config.warmup_arrays():
                    artifact.predict(arrays)
            runner = self._make_runner(artifact, model, number, config) if self._make_runner else None
        except Exception as exc:  # any failure is this version's status, not the server's
            return Version(model, number, FAILED, error=self._scrub(exc), signature=signature)
        return Version(model, number, AVAILABLE, artifact=artifact, runner=runner,
                       signature=signature)

    def _scrub(self, exc):
        """An exception as one line, without local paths."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        parent = os.path.dirname(self.root) if self.single else self.root
        for prefix in (parent + os.sep, parent):
            text = text.replace(prefix, "")
        if not isinstance(exc, KerasexportError) and type(exc) is not ValueError:
            text = f"{type(exc).__name__}: {text}"  # a runtime's words: say whose
        return text[:500]

    def _retire(self, model, number):
        version = self._models[model].pop(number)
        version.state = UNLOADING if version.inflight else END
        self._retired.setdefault(model, {})[number] = version
        if version.state == END:
            _release(version)
        logger.info("model %s version %d removed", model, number)

    # Serving ----

    @contextlib.contextmanager
    def use(self, model, version=None):
        """Hold an available version for the length of a request.

        Args:
            model: `str`, the model's name.
            version: `int` or `None` (the latest available version).

        Yields:
            The `Version`.

        Raises:
            NotFound: unknown model, or no such version available.
        """
        with self._lock:
            served = self._pick(model, version)
            served.inflight += 1
        try:
            yield served
        finally:
            with self._lock:
                served.inflight -= 1
                if served.state == UNLOADING and not served.inflight:
                    served.state = END
                    _release(served)

    def get(self, model, version=None):
        """The `Version` a request would use now (see `use()`)."""
        with self._lock:
            return self._pick(model, version)

    def _pick(self, model, version):
        self._broken(model)
        versions = self._models.get(model)
        if versions is None:
            raise NotFound(f"Model {model!r} not found. Available: {sorted(self._models)}.")
        if model in self._held:
            raise NotFound(f"Model {model!r} is unloaded; load it (POST /v2/repository/models/"
                           f"{model}/load, or RepositoryModelLoad) to serve it again.")
        if version is None:
            live = [v for v in versions.values() if v.state == AVAILABLE]
            if not live:
                failed = "; ".join(f"version {v.number} failed to load: {v.error}"
                                   for v in versions.values() if v.state == FAILED)
                raise NotFound(f"Model {model!r} has no version available"
                               + (f" ({failed})." if failed else " yet."))
            return max(live, key=lambda v: v.number)
        served = versions.get(version)
        if served is None or served.state != AVAILABLE:
            why = f": it failed to load: {served.error}" if served is not None else ""
            available = sorted(v.number for v in versions.values() if v.state == AVAILABLE)
            raise NotFound(f"Version {version} of model {model!r} is not available{why}. "
                           f"Available versions: {available}.")
        return served

    def status(self, model, version=None):
        """Every version of a model (live, failed, removed), newest first.

        Raises:
            NotFound: unknown model, or a version it never had.
        """
        self._broken(model)
        with self._lock:
            if model not in self._models:
                raise NotFound(f"Model {model!r} not found. Available: {sorted(self._models)}.")
            versions = {**self._retired.get(model, {}), **self._models[model]}
        if version is not None:
            if version not in versions:
                raise NotFound(f"Version {version} of model {model!r} not found. "
                               f"Known versions: {sorted(versions)}.")
            return [versions[version]]
        return [versions[n] for n in sorted(versions, reverse=True)]

    def models(self):
        """{model: [Version, ...]} for every model on disk, versions ascending."""
        with self._lock:
            return {m: [vs[n] for n in sorted(vs)] for m, vs in sorted(self._models.items())}

    @property
    def ready(self):
        """Whether the first scan is done and every model has a version available."""
        with self._lock:
            return self._scanned and all(
                any(v.state == AVAILABLE for v in vs.values())
                for m, vs in self._models.items() if m not in self._held)

    # Polling ----

    def start_polling(self, seconds):
        """Scan every `seconds` in a daemon thread until `stop()`; `None` or 0: never."""
        if not seconds or self.single:
            return
        self._poller = threading.Thread(target=self._poll, args=(float(seconds),),
                                        name="kerasexport-serve-poller", daemon=True)
        self._poller.start()

    def _poll(self, seconds):
        while not self._stop.wait(seconds):
            try:
                self.scan()
            except Exception as exc:  # a vanished directory mid-scan: try next time
                logger.warning("scanning the model repository failed: %s", self._scrub(exc))

    def stop(self):
        """Stop polling and release every version."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=30)
        with self._lock:
            for versions in self._models.values():
                for version in versions.values():
                    _release(version)


def version_number(text):
    """A version as a request names it (`str`), as an `int`; empty or `None`: `None` (the latest).

    Raises:
        BadRequest: anything but a positive whole number.
    """
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise BadRequest(f"Version {text[:40]!r} is not a version number; expected a "
                         "positive whole number.")
    return int(text)


def _entries(directory):
    try:
        return sorted(n for n in os.listdir(directory) if not n.startswith("."))
    except OSError:
        return []


def _signature(directory):
    """(relative path, size, mtime) of every visible file: changes when files do."""
    if os.path.isfile(directory):
        stat = os.stat(directory)
        return (("", stat.st_size, stat.st_mtime_ns),)
    rows = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            rows.append((os.path.relpath(path, directory), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(rows))


def _release(version):
    runner, version.runner, version.artifact = version.runner, None, None
    if runner is not None:
        runner.close()


def _log_version(version):
    if version.state == AVAILABLE:
        logger.info("model %s version %d available (%s)", version.model, version.number,
                    version.artifact.format)
    else:
        logger.warning("model %s version %d failed to load: %s", version.model,
                       version.number, version.error)


def _companions(name):
    """The files beside `name` that belong to it, by the format its suffix names (OpenVINO's `.bin`)."""
    format = formats.by_suffix(os.path.splitext(name)[1])
    return formats.get(format).companions(name) if format else []
