"""Public functions: `export()` and `load()`."""

import os
import time

from kerasexport import atomic
from kerasexport import dependencies
from kerasexport import errors
from kerasexport import formats
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
        filepath: `str` or path-like: the SavedModel directory or `.onnx` file.
        format: `str`. `"tf_saved_model"` or `"onnx"`. Defaults to
            `"tf_saved_model"`.
        verbose: `bool` or `None`. Let the exporters print. Defaults to `None`
            (quiet).
        input_signature: the inputs' shapes and dtypes; see
            `kerasexport.signature`. Defaults to `None` (inferred).
        overwrite: `bool`. Replace an existing artifact. Defaults to `False`.
        verify: `bool`. Reload and compare before committing. Defaults to
            `True`.
        rtol: `float`. Largest accepted relative error. Defaults to `1e-4`.
        route: `str` or `None`. Force a route. Defaults to `None` (automatic).
        **kwargs: options for the format's Keras exporter (`is_static`,
            `jax2tf_kwargs`, `opset_version`).

    Returns:
        An `ExportReport`.

    Raises:
        ModelError, FormatError, OptionError, SignatureError, PathError,
        RouteError, VerificationError: see `kerasexport.errors`.

    Example:

    ```python
    report = kerasexport.export(model, "serving/model", format="tf_saved_model")
    print(report.summary())
    ```
    """
    started = time.perf_counter()
    _check_model(model)
    fmt = formats.get(format)
    backend = _backend()
    _check_options(fmt, backend, kwargs)
    target = _check_path(filepath, fmt)
    atomic.check_target(target, overwrite, fmt.IS_DIRECTORY)
    dependencies.require(dependencies.needed_for_export(format, backend, verify))
    specs = signature_lib.normalize(model, input_signature)
    chosen = routes.choose(backend, format, route)

    with quiet.quiet(verbose) as warnings_seen, atomic.staged(target) as stage:
        with scrub.source_paths_hidden(backend):
            fmt.write(model, stage.path, specs, verbose, **kwargs)
        if format == "onnx":
            scrub.scrub_onnx(stage.path)
        atomic.checkpoint("after_write")
        error = None
        if verify:
            error = verify_lib.check(model, _runner(fmt, stage.path), specs, rtol)
        stage.commit()

    return ExportReport(
        path=target, format=format, backend=backend, route=chosen.name,
        reason=chosen.reason, verified=bool(verify), max_relative_error=error,
        rtol=rtol, seconds=time.perf_counter() - started,
        warnings=tuple(warnings_seen),
    )


def _check_path(filepath, fmt):
    try:
        target = os.path.abspath(os.fspath(filepath))
    except TypeError as exc:
        raise errors.PathError(
            f"`filepath` must be a path (a string), received {type(filepath).__name__}."
        ) from exc
    suffix = getattr(fmt, "SUFFIX", None)
    if suffix and not target.endswith(suffix):
        raise errors.PathError(
            f"format={fmt.FORMAT!r} writes one file, and its name must end in "
            f"{suffix!r}; received {os.path.basename(target)!r}. Pass "
            f"{os.path.basename(target) + suffix!r} to write that file."
        )
    return target


def _runner(fmt, path):
    """A function running the artifact at `path` on positional args."""
    loaded = fmt.load(path)
    if fmt.FORMAT == "onnx":
        return lambda args: fmt.run(loaded, signature_lib.flat_specs(args))
    return lambda args: fmt.run(loaded, args)


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


def _check_options(fmt, backend, options):
    allowed = fmt.OPTIONS.get(backend, ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise errors.OptionError(
            f"Option(s) {', '.join(unknown)} do not apply to {fmt.FORMAT} on "
            f"the {backend} backend. Options that apply: "
            f"{', '.join(allowed) or 'none'}."
        )
