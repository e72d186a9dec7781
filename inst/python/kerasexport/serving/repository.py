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
runs it once on zeros, and only then swaps it in; a version that fails is
kept as failed, with its error, while the older ones keep serving, and is
tried again when its files change. A removed version stops taking requests
at once and lets go of its runtime when its last request ends.
"""

import contextlib
import dataclasses
import logging
import os
import threading

import numpy as np

from kerasexport.errors import KerasexportError
from kerasexport import formats
from kerasexport.formats import saved_model
from kerasexport.serving import model_config as model_config_lib
from kerasexport.serving import triton_config
from kerasexport.serving.errors import NotFound

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
        model_config: path of a TF-Serving model config file
            (`model_config`): the models, versions and labels to serve
            instead of every directory under `path`. Defaults to `None`.

    Raises:
        NotFound: `path` does not exist.
        ConfigError: `model_config` cannot be read or parsed.
    """

    def __init__(self, path, make_runner=None, model_config=None):
        self.root = os.path.abspath(os.fspath(path))
        if not os.path.exists(self.root):
            raise NotFound("Nothing to serve: the path does not exist. Expected an "
                           "artifact or a model repository (ROOT/<model>/<version>/).")
        self.single = os.path.isfile(self.root) or saved_model.recognizes(self.root)
        self._make_runner = make_runner
        self._lock = threading.Lock()
        self._models = {}  # name -> {version number: Version}, live and failed
        self._retired = {}  # name -> {version number: Version}, removed
        self._scanned = False
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
        found = self._discover()
        for model, versions in found.items():
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
        with self._lock:
            for model in list(self._models):
                for number in list(self._models[model]):
                    if number not in found.get(model, {}):
                        self._retire(model, number)
                if not self._models[model] and model not in found:
                    del self._models[model]
            self._scanned = True

    def _load(self, model, number, directory, signature):
        from kerasexport.api import load

        try:
            path = self._artifact_path(directory)
            if path is None:
                return None  # Still being written, or empty: look again next time.
            config = None if self.single else triton_config.read(self._model_dir(model))
            artifact = load(path)
            warm_up(artifact, config)
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
                any(v.state == AVAILABLE for v in vs.values()) for vs in self._models.values())

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


def warm_up(artifact, config):
    """Run a version before it serves: its Triton config's `model_warmup`, else `smoke_run`.

    Raises:
        Exception: whatever the runtime raises; the version then fails to load.
    """
    if config is None or not config.warmups:
        smoke_run(artifact)
        return
    for arrays in config.warmup_arrays():
        artifact.predict(arrays)


def smoke_run(artifact):
    """Run the default endpoint once on zeros (dynamic dims of size 1).

    Raises:
        Exception: whatever the runtime raises; the version then fails to load.
    """
    endpoint = artifact.endpoint()
    arrays = []
    for t in endpoint.inputs:
        shape = tuple(1 if d is None else d for d in (t.shape or ()))
        if t.dtype == "string":
            arrays.append(np.full(shape, b"", dtype=object))
        elif t.dtype == "bfloat16":
            return  # NumPy has no bfloat16 to build zeros with: loading is the check.
        else:
            arrays.append(np.zeros(shape, dtype=t.dtype))
    artifact.predict(arrays, endpoint=endpoint.name)


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
