"""The two public verbs: `export()` a model to a verified artifact, `load()` one."""

import dataclasses
import os
import shutil
import time

from kerasexport import artifact as artifact_lib
from kerasexport import atomic
from kerasexport import errors
from kerasexport import formats
from kerasexport import plan as plan_lib
from kerasexport import progress
from kerasexport import quiet
from kerasexport import routes
from kerasexport import saved_keras
from kerasexport import scrub
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
    rtol=None,
    route=None,
    precision="float32",
    calibration_data=None,
    agreement=None,
    quantization=None,
    **kwargs,
):
    """Export a Keras model to a verified artifact.

    The artifact is written beside `filepath`, opened as `load()` opens it
    and compared with the model, and only then renamed into place. A
    failure leaves `filepath` as it was.

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
        verify: `bool`. Open and compare before committing. Defaults to
            `True`.
        rtol: `float` or `None`. Largest accepted relative error. Defaults
            to `None`: 1e-4 for float32; for reduced precision, the
            budget's (1e-2 for float16 and bfloat16, 5e-2 for int8 whose
            outputs are not class scores).
        route: `str` or `None`. `"native"` (the exporter on the model's
            backend) or `"cross-backend"` (the backend that owns the format's
            exporter, in a worker process: see `routes.CROSS_BACKENDS`) to
            force a route. Defaults to `None`: native where the
            backend has an exporter, falling back to cross-backend when it
            raises or its artifact fails verification (see `routes`).
        precision: `str`. `"float32"` (default), `"float16"`, `"bfloat16"`
            or `"int8"`: a reduced-precision artifact, made with the
            format's own toolchain (ONNX: onnxconverter-common float16,
            onnxruntime.quantization int8; OpenVINO: float16 weights,
            bfloat16 inference, NNCF int8; LiteRT: the converter's float16
            and int8; SavedModel and `.pt2`: Keras's own int8
            quantization) and verified against a budget (see `precision`).
        calibration_data: inputs to calibrate int8 on and to measure the
            budget on: an array (one input), a dict of arrays by input name,
            a list of arrays (inputs in order), or a list or generator of
            such batches. Required for static int8. Defaults to `None`.
        agreement: `float` or `None`. Least share of rows whose top class
            is the model's, for class-score outputs (int8 default 0.99).
        quantization: `"static"` (default for int8: weights and activations,
            calibrated on `calibration_data`) or `"dynamic"` (int8 weights,
            activations quantized at run time or kept float; no calibration
            data needed).
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
        RouteError, DependencyError, VerificationError: see
        `kerasexport.errors`.

    Example:

    ```python
    report = kerasexport.export(model, "serving/model", format="tf_saved_model")
    print(report.route, report.reason)
    ```
    """
    started = time.perf_counter()
    plan = plan_lib.resolve(
        model, filepath, format, input_signature=input_signature, overwrite=overwrite,
        verify=verify, rtol=rtol, route=route, options=kwargs, precision=precision,
        calibration_data=calibration_data, agreement=agreement, quantization=quantization,
    )
    with quiet.quiet(verbose) as warnings_seen, atomic.staged(plan.target, plan.companions) as stage:
        if plan.precision is None:
            chosen, error, verify_seconds = _write_and_verify(model, plan, stage.path, verbose)
            defaults = (verify_lib.measure_runtime_defaults(model, plan.format, stage.path, plan.signature,
                                                            plan.rtol) if verify else None)
            reduced = None
        else:
            chosen, error, verify_seconds, reduced = _write_reduced(model, plan, stage.path, verbose)
            defaults = None
        stage.commit(announce=bool(verbose))

    report = ExportReport(
        path=plan.target, format=format, backend=plan.backend, route=chosen.name,
        reason=chosen.reason, verified=bool(verify), max_relative_error=error,
        rtol=plan.rtol, seconds=time.perf_counter() - started,
        warnings=tuple(warnings_seen), verify_seconds=verify_seconds,
        runtime_defaults=defaults, precision=plan.precision.precision if plan.precision else "float32",
        reduced=reduced,
    )
    progress.stage("done", report.summary())
    return report


def _write_and_verify(model, plan, path, verbose):
    """Try the plan's routes in order; the first verified artifact wins.

    A route fails when it raises, or when its artifact does not pass
    verification; the next route then starts from an empty staging path.
    When the last route fails, its error is raised with the earlier failures
    appended.

    Returns:
        The `Route` taken, the worst relative error and the seconds its
        verification took (both `None` without verification).
    """
    failures = []
    for i, route in enumerate(plan.routes):
        if failures and route.name == routes.CROSS_NAME:
            route = routes.fallback(route, failures[-1][1])
        progress.stage(
            "export", f"Exporting {plan.format.FORMAT} by the {route.name} route "
            f"({route.backend} backend): {route.reason}."
        )
        try:
            _write(route, model, plan, path, verbose)
            atomic.checkpoint("after_write")
            if not plan.verify:
                return route, None, None
            progress.stage("verify", "Verifying: opening the artifact as load() does and comparing it with the model.")
            started = time.perf_counter()
            error = verify_lib.verify_artifact(model, plan.format, path, plan.signature, plan.options, plan.rtol)
            return route, error, time.perf_counter() - started
        except Exception as exc:
            failures.append((route, exc))
            if i + 1 == len(plan.routes):
                raise _combined(failures) from exc
            for written in [path, *plan.format.companions(path)]:
                _clear(written)
    raise AssertionError("unreachable: the plan is never empty")


def _write_reduced(model, plan, path, verbose):
    """Write the plan's reduced-precision artifact at `path` and hold it to its budget.

    ONNX and OpenVINO: the float32 artifact is written and verified as any
    export is, beside `path`, then reduced into `path`. LiteRT: the
    converter writes the reduced file. SavedModel and `.pt2`: the exporter
    writes Keras's int8 copy of the model. Either way the result is opened as
    `load()` opens it and compared with the model (`precision.check`).

    Returns:
        The `Route` taken, the float32 artifact's worst relative error (or
        `None`), the seconds verification took, and the reduced artifact's
        figures (a `dict`, see `ExportReport.reduced`).
    """
    from kerasexport.precision import check as precision_check

    request = plan.precision
    scratch = os.path.dirname(path)
    float_error = float_size = None
    started = time.perf_counter()
    if request.tool.STAGE == "model":
        chosen, _, _ = _write_and_verify(request.tool.quantized_copy(model),
                                         dataclasses.replace(plan, verify=False), path, verbose)
    elif request.tool.STAGE == "at_write":
        options = dict(plan.options, **request.tool.write_options(request.precision, request.calibration, scratch))
        chosen, _, _ = _write_and_verify(model, dataclasses.replace(plan, options=options, verify=False),
                                         path, verbose)
        request.tool.finish(path, request.precision)
    else:
        float_path = os.path.join(scratch, ".float32." + os.path.basename(path))
        chosen, float_error, _ = _write_and_verify(model, plan, float_path, verbose)
        float_size = _size(plan.format, float_path)
        progress.stage("reduce", f"Reducing to {request.precision}: {request.method}.")
        request.tool.reduce(float_path, path, request.precision, request.calibration)
        for written in [float_path, *plan.format.companions(float_path)]:
            _clear(written)
    figures = {"precision": request.precision, "method": request.method,
               "size": _size(plan.format, path), "float32_size": float_size}
    if not plan.verify:
        return chosen, None, None, figures
    progress.stage("verify", f"Verifying the {request.precision} artifact against the model and its budget.")
    figures.update(precision_check.check(model, plan.format, path, plan.signature, request))
    return chosen, float_error, time.perf_counter() - started, figures


def _size(fmt, path):
    if fmt.IS_DIRECTORY:
        return artifact_lib.directory_size(path)
    return sum(os.path.getsize(p) for p in [path, *fmt.companions(path)] if os.path.exists(p))


def _write(route, model, plan, path, verbose):
    if route.name == routes.NATIVE_NAME:
        with scrub.source_paths_hidden(route.backend):
            plan.format.write(model, path, plan.signature, verbose, **plan.options)
    else:
        from kerasexport.cross import export as cross_export

        cross_export.write(model, path, plan.format.FORMAT, plan.signature, verbose, plan.options,
                           route.backend)


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


def load(path, *, providers=None, session_options=None):
    """Load an artifact written by `kerasexport.export()` (or by Keras).

    No model code is needed, and only the format's runtime is imported: a
    SavedModel is loaded with TensorFlow, an ONNX file with onnxruntime, an
    OpenVINO IR with OpenVINO (in float32, whatever the processor), a
    LiteRT file with the LiteRT interpreter, a `.pt2` file with torch.
    Verification opens artifacts the same way.

    Args:
        path: `str` or path-like: a SavedModel directory (holding
            `saved_model.pb`) or a file, recognised by its content whatever
            its name: ONNX, OpenVINO IR (the `.xml`, its `.bin` beside it),
            LiteRT (`.tflite`) or a PyTorch ExportedProgram (`.pt2`).
        providers: list of onnxruntime execution providers. Defaults to
            `None` (`["CPUExecutionProvider"]`). ONNX only.
        session_options: an `onnxruntime.SessionOptions`. Defaults to `None`.
            ONNX only.

    Returns:
        An `Artifact`.

    Raises:
        ArtifactError: when `path` is not an artifact its runtime can load,
            or when ONNX-only options are given for another format.
        DependencyError: when the format's runtime is not installed.

    Example:

    ```python
    artifact = kerasexport.load("serving/model")
    print(artifact)
    y = artifact.predict(x)
    ```
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise errors.ArtifactError(
            f"No artifact at {path!r}: nothing exists there. Expected a SavedModel "
            f"directory or {_FILES}."
        )
    if os.path.isfile(path) and saved_keras.recognizes(path):
        raise errors.ArtifactError(
            f"{path!r} is a saved Keras model, not an exported artifact: "
            "export it first (kerasexport.export())."
        )
    format = formats.detect(path)
    if format is None:
        raise errors.ArtifactError(
            f"{path!r} is a directory without saved_model.pb, so not a "
            f"SavedModel. Expected a SavedModel directory or {_FILES}."
        )
    fmt = formats.get(format)
    given = {k: v for k, v in (("providers", providers), ("session_options", session_options))
             if v is not None}
    if set(given) - set(fmt.OPEN_OPTIONS):
        raise errors.ArtifactError(
            "`providers` and `session_options` apply to ONNX artifacts "
            f"only; {path!r} is {_LABELS[format]}."
        )
    return fmt.open(path, **given)


_FILES = "an ONNX, OpenVINO (.xml), LiteRT (.tflite) or .pt2 file"
_LABELS = {"tf_saved_model": "a SavedModel", "openvino": "an OpenVINO IR", "litert": "a LiteRT file",
           "torch": "a .pt2 file", "onnx": "an ONNX file"}
