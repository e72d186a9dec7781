"""Public functions: `export()` and `load()`."""

import os
import shutil
import time
import warnings

from kerasexport import atomic
from kerasexport import cross_backend
from kerasexport import dependencies
from kerasexport import errors
from kerasexport import formats
from kerasexport import progress
from kerasexport import quiet
from kerasexport import routes
from kerasexport import scrub
from kerasexport import signature as signature_lib
from kerasexport import verify as verify_lib
from kerasexport.report import ExportReport


def export(
    model,
    filepath,
    format="tf_saved_model",
    *,
    verbose=None,
    input_signature=None,
    overwrite=False,
    verify=True,
    rtol=verify_lib.DEFAULT_RTOL,
    route=None,
    **kwargs,
):
    """Export a Keras model to a verified artifact.

    The artifact is written beside `filepath`, reloaded by its own runtime
    and compared with the model, and only then renamed into place. A failure
    leaves `filepath` as it was.

    Args:
        model: a `keras.Model`, from any backend.
        filepath: `str` or path-like: the SavedModel directory or the file.
            Single-file formats take any name; Keras's suffixes are
            conventional, not required: `.onnx`, `.xml` (OpenVINO, whose
            weights go beside it, the last suffix replaced by `.bin`),
            `.tflite` (LiteRT), `.pt2` (`"torch"`). Missing parent
            directories are created, and removed again if the export fails.
        format: `str`. `"tf_saved_model"`, `"onnx"`, `"openvino"`,
            `"litert"` or `"torch"` (a PyTorch ExportedProgram, `.pt2`).
            Defaults to `"tf_saved_model"`.
        verbose: `bool` or `None`. Let the exporters print. Defaults to `None`
            (quiet).
        input_signature: the inputs' shapes and dtypes; see
            `kerasexport.signature`. Defaults to `None` (inferred).
        overwrite: `bool`. Replace an existing artifact. Defaults to `False`.
        verify: `bool`. Reload and compare before committing. Defaults to
            `True`.
        rtol: `float`. Largest accepted relative error. Defaults to `1e-4`.
        route: `str` or `None`. `"native"` (the exporter on the model's
            backend) or `"cross-backend"` (the backend that owns the format's
            exporter, in a worker process: see `routes.CROSS_BACKENDS`) to
            force a route. Defaults to `None`: native where the
            backend has an exporter, falling back to cross-backend when it
            raises or its artifact fails verification (see `routes`).
        **kwargs: options for the format's exporter: `is_static`,
            `jax2tf_kwargs` (SavedModel on JAX); `opset_version` (ONNX);
            `compress_to_fp16` (OpenVINO); `allow_flex` and TFLiteConverter
            attributes such as `optimizations` (LiteRT); `dynamic_shapes`,
            `strict` (`"torch"`). On the cross-backend route, the options of
            the worker's backend apply.

    Returns:
        An `ExportReport`.

    Raises:
        ModelError, FormatError, OptionError, SignatureError, PathError,
        RouteError, VerificationError: see `kerasexport.errors`.

    Example:

    ```python
    report = kerasexport.export(model, "serving/model", format="tf_saved_model")
    print(report.route, report.reason)
    ```
    """
    started = time.perf_counter()
    _check_model(model)
    _check_rtol(rtol)
    fmt = formats.get(format)
    backend = _backend()
    plan = _check_options(fmt, routes.plan(backend, format, route), kwargs)
    target = _check_path(filepath)
    companions = formats.companions(fmt, target)
    atomic.check_target(target, overwrite, fmt.IS_DIRECTORY, companions)
    plan = _with_dependencies(plan, format, verify)
    specs = signature_lib.normalize(model, input_signature)

    with quiet.quiet(verbose) as warnings_seen, atomic.staged(target, companions) as stage:
        chosen, error, verify_seconds = _write_and_verify(
            model, fmt, plan, stage.path, specs, verbose, verify, rtol, kwargs
        )
        defaults = _measure_runtime_defaults(model, fmt, stage.path, specs, rtol) if verify else None
        stage.commit(announce=bool(verbose))

    report = ExportReport(
        path=target, format=format, backend=backend, route=chosen.name,
        reason=chosen.reason, verified=bool(verify), max_relative_error=error,
        rtol=rtol, seconds=time.perf_counter() - started,
        warnings=tuple(warnings_seen), verify_seconds=verify_seconds,
        runtime_defaults=defaults,
    )
    progress.stage("done", report.summary())
    return report


def _check_path(filepath):
    try:
        target = os.path.abspath(os.fspath(filepath))
    except TypeError as exc:
        raise errors.PathError(
            f"`filepath` must be a path (a string), received {type(filepath).__name__}."
        ) from exc
    return target


def _with_dependencies(plan, format, verify):
    """The routes of `plan` whose Python packages are installed.

    Raises:
        DependencyError: when no route has them, naming what the first lacks.
    """
    needs = [dependencies.needed_for_export(format, r.backend, verify) for r in plan]
    usable = [r for r, needed in zip(plan, needs) if not dependencies.missing(needed)]
    if not usable:
        dependencies.require(needs[0])
    return usable


def _write_and_verify(model, fmt, plan, path, specs, verbose, verify, rtol, options):
    """Try the routes of `plan` in order; the first verified artifact wins.

    A route fails when it raises, or when its artifact does not pass
    verification; the next route then starts from an empty staging path.
    When the last route fails, its error is raised with the earlier failures
    appended.

    Returns:
        The `Route` taken, the worst relative error and the seconds its
        verification took (both `None` without verification).
    """
    failures = []
    for i, route in enumerate(plan):
        if failures and route.name == routes.CROSS_NAME:
            route = routes.fallback(route, failures[-1][1])
        progress.stage(
            "export", f"Exporting {fmt.FORMAT} by the {route.name} route "
            f"({route.backend} backend): {route.reason}."
        )
        try:
            _write(route, model, fmt, path, specs, verbose, options)
            atomic.checkpoint("after_write")
            error = seconds = None
            if verify:
                progress.stage("verify", "Verifying: reloading the artifact and comparing it with the model.")
                started = time.perf_counter()
                error = verify_lib.check(model, fmt.runner(path, specs, options), specs, rtol)
                seconds = time.perf_counter() - started
            return route, error, seconds
        except Exception as exc:
            failures.append((route, exc))
            if i + 1 < len(plan):
                for written in [path] + formats.companions(fmt, path):
                    _clear(written)
                continue
            raise _combined(failures) from exc
    raise AssertionError("unreachable: the plan is never empty")


def _measure_runtime_defaults(model, fmt, path, specs, rtol):
    """How the artifact computes under its runtime's bare defaults, where they differ from `load()`'s.

    OpenVINO's CPU plugin defaults to bfloat16 on processors that have it,
    whatever the file says; `load()` compiles in float32. The default's
    error is measured on the verification inputs, reported and warned
    about; it does not fail the export.

    Returns:
        `None`, or the format's description of its defaults with
        ``"max_relative_error"`` added.
    """
    found = getattr(fmt, "runtime_defaults", lambda _: None)(path)
    if found is None:
        return None
    artifact, described = found
    error = verify_lib.measure(model, verify_lib.artifact_runner(artifact, specs), specs, rtol)
    described = dict(described, max_relative_error=error)
    warnings.warn(fmt.defaults_warning(described), UserWarning, stacklevel=2)
    return described


def _write(route, model, fmt, path, specs, verbose, options):
    if route.name == routes.NATIVE_NAME:
        with scrub.source_paths_hidden(route.backend):
            fmt.write(model, path, specs, verbose, **options)
    else:
        cross_backend.write(model, path, fmt.FORMAT, specs, verbose, options, route.backend)
    fmt.finish(path, _dict_output_names(model))


def _combined(failures):
    """The last failure as a kerasexport error, mentioning earlier ones."""
    route, exc = failures[-1]
    if isinstance(exc, errors.KerasexportError):
        cls, text = type(exc), str(exc)
    else:
        cls, text = errors.RouteError, (
            f"The {route.name} route failed: {routes.describe(exc)}"
        )
    for earlier, earlier_exc in failures[:-1]:
        if routes.describe(earlier_exc) == routes.describe(exc):
            text += f" (The {earlier.name} route failed the same way first.)"
        else:
            text += f" (Tried first: the {earlier.name} route, which failed with {routes.describe(earlier_exc)}.)"
    if len(failures) == 1 and cls is type(exc):
        return exc
    return cls(text)


def _clear(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _dict_output_names(model):
    """The keys of a model's dict outputs, in Keras's flattening order."""
    structure = getattr(model, "_outputs_struct", None)
    if not isinstance(structure, dict):
        return None
    import keras

    return [str(key) for key in keras.tree.flatten({key: key for key in structure})]


def _check_rtol(rtol):
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not rtol >= 0:
        raise errors.ArgumentError(
            f"`rtol` must be a non-negative number (a relative error such as "
            f"1e-4), received {rtol!r}."
        )


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise errors.ModelError(
            f"Expected a Keras 3 model (keras.Model), received an object of "
            f"type {type(model).__module__}.{type(model).__name__}."
        )


def _backend():
    import keras

    return keras.backend.backend()


def _check_options(fmt, plan, options):
    """The routes of `plan` that take every option in `options`.

    Each route has its exporter's options: the native route those of the
    model's backend, the cross-backend route those of the worker's backend.

    Raises:
        OptionError: when no route of the plan takes all of `options`; the
            message lists, per route, the options that apply.
    """
    usable = [r for r in plan if set(options) <= set(_route_options(fmt, r))]
    if usable:
        return usable
    unknown = sorted(set(options) - set().union(*(_route_options(fmt, r) for r in plan)))
    offending = unknown or sorted(options)
    applies = "; ".join(
        f"{', '.join(_route_options(fmt, r)) or 'none'} by the {r.name} route ({r.backend} backend)"
        for r in plan
    )
    raise errors.OptionError(
        f"Option(s) {', '.join(offending)} do not apply to {fmt.FORMAT} "
        f"exported from the {_backend()} backend. Options that apply: {applies}. "
        "Remove the option, or choose the route it belongs to with `route=`."
    )


def _route_options(fmt, route):
    return tuple(fmt.OPTIONS.get(route.backend, ()))
