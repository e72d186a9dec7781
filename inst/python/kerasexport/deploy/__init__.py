"""Model repositories for other engines: Triton, TF-Serving, KServe (`write_repository`).

SRC is read as `kerasexport serve` reads it (`source`); each engine's
module says which formats it runs and writes its layout (`triton`,
`tfserving`, `kserve`; `warmup` holds TF-Serving's warm-up records). The
whole tree is written in a staging directory beside OUT and renamed into
place (`atomic`), so OUT lands whole or not at all; SRC is only read.
"""

import dataclasses
import os

from kerasexport import atomic
from kerasexport import errors

ENGINES = ("triton", "tfserving", "kserve")
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_MAX_QUEUE_DELAY_US = 500
DEFAULT_INSTANCES = 1


@dataclasses.dataclass(frozen=True)
class Options:
    """What shapes the engine's configuration (see `write_repository`)."""

    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_queue_delay_us: int = DEFAULT_MAX_QUEUE_DELAY_US
    instances: int = DEFAULT_INSTANCES
    python_backend: bool = False
    storage_uri: str = None
    cpu_request: str = None
    cpu_limit: str = None
    memory_request: str = None
    memory_limit: str = None


@dataclasses.dataclass(frozen=True)
class RepositoryReport:
    """What `write_repository` wrote.

    Attributes:
        engine: ``"triton"``, ``"tfserving"`` or ``"kserve"``.
        path: OUT, absolute.
        models: {model: (version numbers written)}.
        formats: {model: format of its latest version}.
        skipped: one line per version left out, saying why.
        files: the configuration files written, relative to OUT.
        notes: other things worth knowing (e.g. no batching file written).
    """

    engine: str
    path: str
    models: dict
    formats: dict
    skipped: tuple
    files: tuple
    notes: tuple = ()

    def summary(self):
        versions = sum(len(v) for v in self.models.values())
        left = f"; {len(self.skipped)} left out" if self.skipped else ""
        return (f"Wrote a {self.engine} repository of {len(self.models)} model(s), "
                f"{versions} version(s){left}, at '{self.path}'.")

    def describe(self):
        """A plain-dict form, for printing and for the R package."""
        return {"engine": self.engine, "path": self.path,
                "models": {m: list(v) for m, v in self.models.items()},
                "formats": dict(self.formats), "skipped": list(self.skipped),
                "files": list(self.files), "notes": list(self.notes)}

    def __str__(self):
        return self.summary()


def write_repository(src, out, engine="triton", *, overwrite=False, **options):
    """Write a model repository that `engine` runs as it is, from what `kerasexport serve` serves.

    Args:
        src: `str`, one artifact or a model repository ``ROOT/<model>/<version>/``.
            Only read.
        out: `str`, the new tree. Written whole or not at all.
        engine: `str`, ``"triton"``, ``"tfserving"`` or ``"kserve"``.
            Defaults to ``"triton"``.
        overwrite: `bool`, replace an existing `out`. Defaults to `False`.
        **options: ``max_batch_size`` (`int`, rows per batch the engine
            merges; 0 turns batching off; defaults to 8),
            ``max_queue_delay_us`` (`int`, how long a request waits for
            company; defaults to 500), ``instances`` (`int`, CPU instances
            per model; defaults to 1), ``python_backend`` (`bool`, Triton:
            every format as a Python-backend model running kerasexport),
            ``storage_uri`` (`str`, KServe: where OUT will be uploaded;
            required there), ``cpu_request``, ``cpu_limit``,
            ``memory_request``, ``memory_limit`` (`str`, KServe: the
            predictor's resources, e.g. ``"1"``, ``"2Gi"``).

    Returns:
        A `RepositoryReport`; versions an engine cannot run are in its
        ``skipped``, each with the reason.

    Raises:
        OptionError: an unknown engine or option, or a bad value.
        PathError: `src` is missing or holds no model; `out` exists
            (without `overwrite`), is `src`, or contains or is inside it.
        FormatError: no version of `src` is in a format `engine` runs.

    Example:

    ```python
    report = kerasexport.write_repository("models", "triton-models", engine="triton")
    print(report.skipped)
    ```
    """
    from kerasexport.deploy import source

    opts = _options(engine, options)
    src_abs, out_abs = os.path.abspath(os.fspath(src)), os.path.abspath(os.fspath(out))
    _check_paths(src_abs, out_abs)
    atomic.check_target(out_abs, overwrite, is_directory=True)
    versions, problems = source.read(src_abs)
    by_model, skipped = {}, [str(p) for p in problems]
    for version in versions:
        why = _refusal(engine, version, opts)
        if why:
            skipped.append(str(source.Problem(version.model, version.number, version.format, why)))
        else:
            by_model.setdefault(version.model, []).append(version)
    by_model = _one_format_per_model(by_model, skipped, by_position=opts.python_backend)
    if not by_model:
        raise errors.FormatError(
            f"Nothing to write: no model in the source is in a format {engine} runs. "
            + " ".join(f"{line}." for line in skipped))
    with atomic.staged(out_abs) as stage:
        os.mkdir(stage.path)
        files, notes = _write(engine, stage.path, by_model, opts)
        stage.commit()
    return RepositoryReport(
        engine=engine, path=out_abs,
        models={m: tuple(v.number for v in vs) for m, vs in by_model.items()},
        formats={m: vs[-1].format for m, vs in by_model.items()},
        skipped=tuple(skipped), files=tuple(files), notes=tuple(notes))


def _write(engine, root, by_model, opts):
    from kerasexport.deploy import kserve, tfserving, triton

    files, notes = [], []
    if engine == "triton":
        for model, versions in by_model.items():
            triton.write_model(os.path.join(root, model), model, versions, opts, opts.python_backend)
            files.append(f"{model}/config.pbtxt")
    elif engine == "tfserving":
        for model, versions in by_model.items():
            tfserving.write_model(os.path.join(root, model), model, versions, opts)
        _write_text(root, tfserving.CONFIG,
                    tfserving.config_text({m: [v.number for v in vs] for m, vs in by_model.items()}))
        files.append(tfserving.CONFIG)
        if opts.max_batch_size > 0 and all(triton.batchable(vs[-1].endpoint) for vs in by_model.values()):
            _write_text(root, tfserving.BATCHING, tfserving.batching_text(opts))
            files.append(tfserving.BATCHING)
        else:
            notes.append(f"{tfserving.BATCHING} not written: batching is off, or a model's "
                         "batch dimension is fixed, which TF-Serving's batcher cannot split.")
    else:
        services, taken = [], set()
        for model, versions in by_model.items():
            kserve.write_model(os.path.join(root, model), model, versions, opts)
            name = kserve.service_name(model, taken)
            taken.add(name)
            services.append((name, model, versions[-1].format))
        _write_text(root, kserve.MANIFEST, kserve.manifest(services, opts))
        files.append(kserve.MANIFEST)
    return files, notes


def _refusal(engine, version, opts):
    from kerasexport.deploy import kserve, tfserving, triton

    if engine == "triton":
        return triton.refusal(version, opts.python_backend)
    if engine == "tfserving":
        return tfserving.refusal(version)
    return kserve.refusal(version)


def _one_format_per_model(by_model, skipped, by_position=False):
    """Keep, per model, the versions in its latest version's format: one config describes them all.

    Native backends find tensors by name, so the names must agree; the
    Python backend's model passes them by position (`by_position`).
    """
    kept = {}
    for model, versions in by_model.items():
        latest = versions[-1]
        same = [v for v in versions if v.format == latest.format
                and _tensors(v.endpoint, by_position) == _tensors(latest.endpoint, by_position)]
        for v in versions:
            if v in same:
                continue
            what = ("its format differs" if v.format != latest.format else
                    "its tensors' names, types or shapes differ")
            hint = ("" if by_position or v.format != latest.format else
                    " (Triton's Python backend takes them by position: --python-backend)")
            skipped.append(f"model {model!r} version {v.number} ({v.format}): {what} from version "
                           f"{latest.number}'s, and one configuration describes every version{hint}")
        kept[model] = same
    return kept


def _tensors(endpoint, by_position=False):
    return tuple((None if by_position else t.name, t.dtype, t.shape)
                 for t in (*endpoint.inputs, *endpoint.outputs))


def _write_text(root, name, text):
    with open(os.path.join(root, name), "w") as f:
        f.write(text)


def _check_paths(src, out):
    if out == src or out.startswith(src.rstrip(os.sep) + os.sep) or \
            src.startswith(out.rstrip(os.sep) + os.sep):
        raise errors.PathError(
            "The output must be outside the source, and not contain it: the source is only "
            "read, and replacing the output would change it. Choose another output path.")


def _options(engine, options):
    if engine not in ENGINES:
        raise errors.OptionError(f"Unknown engine {engine!r}. Available engines: {', '.join(ENGINES)}.")
    known = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise errors.OptionError(f"Unknown option(s) {unknown}. Available: {sorted(known)}.")
    opts = Options(**options)
    for name, minimum in (("max_batch_size", 0), ("max_queue_delay_us", 0), ("instances", 1)):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise errors.OptionError(
                f"`{name}` must be a whole number >= {minimum}, received {value!r}.")
    if engine == "kserve" and not opts.storage_uri:
        raise errors.OptionError(
            "KServe needs `storage_uri`: where OUT will be uploaded (e.g. 's3://bucket/models', "
            "'pvc://models'); each InferenceService points at <storage_uri>/<model>.")
    if opts.python_backend and engine != "triton":
        raise errors.OptionError("`python_backend` applies to the triton engine only.")
    for name in ("storage_uri", "cpu_request", "cpu_limit", "memory_request", "memory_limit"):
        value = getattr(opts, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise errors.OptionError(f"`{name}` must be a non-empty string, received {value!r}.")
    return opts
