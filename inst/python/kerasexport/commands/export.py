"""``kerasexport export``: a ``.keras`` file to a verified artifact."""

import dataclasses
import os

import click

from kerasexport import api
from kerasexport import atomic
from kerasexport import errors
from kerasexport import formats
from kerasexport import precision as precision_lib
from kerasexport import progress
from kerasexport import quiet
from kerasexport import routes
from kerasexport import verify
from kerasexport.commands.failure import fail
from kerasexport.commands import backend as backend_lib
from kerasexport.commands import console
from kerasexport.commands import model_file
from kerasexport.commands import parameters
from kerasexport.commands import tensors


# Directories named like files: Triton's repository layout wants model.savedmodel/.
_SAVED_MODEL_SUFFIXES = (".savedmodel",)


def format_for(output):
    """The format OUTPUT's suffix names (``.onnx``: onnx, ``.xml``: openvino...); none, a SavedModel.

    A suffix of letters that no format declares is refused (exit 2) rather
    than taken as a SavedModel directory's name: ``model.tflite`` is surely
    not meant to be one. A number (``serving/model/1.2``) is no suffix;
    letters and digits (``.pt2``) are.
    """
    suffix = os.path.splitext(output.rstrip("/" + os.sep))[1].lower()
    letters = suffix[1:]
    if not (letters.isalnum() and not letters.isdigit()) or suffix in _SAVED_MODEL_SUFFIXES:
        return "tf_saved_model"
    named = formats.by_suffix(suffix)
    if named is not None:
        return named
    raise click.UsageError(
        f"The suffix {suffix!r} of OUTPUT names no format this command writes; pass "
        f"--format ({', '.join(formats.FORMATS)})."
    )


@click.command()
@click.argument("model", metavar="MODEL")
@click.argument("output", metavar="OUTPUT")
@click.option("--format", "format_", type=click.Choice(formats.FORMATS), default=None,
              help="Artifact format. Default: from OUTPUT's suffix (.onnx: onnx, .xml: openvino, "
                   ".tflite: litert, .pt2: torch), else tf_saved_model.")
@click.option("--backend", type=click.Choice(backend_lib.BACKENDS), default=None,
              help="Keras backend that loads MODEL. Default: KERAS_BACKEND, else the first "
                   "installed of " + ", ".join(backend_lib.BACKENDS) + ".")
@click.option("--input-signature", "signature", metavar="JSON", callback=parameters.parse_signature,
              help='Input shapes and dtypes, e.g. \'[[null, 28, 28, 1]]\' or '
                   '\'{"a": {"shape": [null, 4], "dtype": "float32"}}\' (null: any size). '
                   "Default: the model's own inputs, any batch size.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--no-verify", is_flag=True,
              help="Skip reloading the artifact and comparing it with the model.")
@click.option("--rtol", type=click.FloatRange(min=0), default=None,
              help=f"Largest relative difference accepted between artifact and model. Default: "
                   f"{verify.DEFAULT_RTOL:g} for float32, the precision's budget otherwise "
                   "(1e-2 float16/bfloat16, 5e-2 int8).")
@click.option("--precision", type=click.Choice(precision_lib.PRECISIONS), default="float32", show_default=True,
              help="Write a reduced-precision artifact (ONNX, OpenVINO, LiteRT), verified against "
                   "a budget.")
@click.option("--calibration-data", "calibration", metavar="FILE", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="Rows of real inputs (.npy, or .npz by input name) to calibrate int8 on and "
                   "measure the budget on. Needed for static int8.")
@click.option("--quantization", type=click.Choice(precision_lib.QUANTIZATIONS), default=None,
              help="int8: static (default; needs --calibration-data) or dynamic.")
@click.option("--agreement", type=click.FloatRange(min=0, max=1), default=None,
              help="Least top-1 agreement with the model for class-score outputs (int8 default 0.99).")
@click.option("--route", type=click.Choice(routes.ROUTES), default=None,
              help="Force a route: native (Keras's exporter on this backend) or "
                   "cross-backend (a worker process on the format's own backend). "
                   "Default: native, then cross-backend if that fails.")
@click.option("--option", "options", metavar="KEY=VALUE", multiple=True, callback=parameters.parse_options,
              help="An option for Keras's exporter, repeatable (opset_version=17, is_static=true); "
                   "VALUE is read as JSON when it parses, else as a string.")
@click.option("--custom-module", "custom_modules", metavar="PATH_OR_MODULE", multiple=True,
              help="A .py file or module to import before loading, so the custom classes it "
                   "registers resolve; repeatable.")
@click.option("--unsafe-deserialization", is_flag=True,
              help="Let Lambda layers run the Python code saved in MODEL (Keras's "
                   "safe_mode=False). Only for files you trust.")
@click.option("--verbose", is_flag=True, help="Show the stages and the exporters' own logs.")
def export(model, output, format_, backend, signature, overwrite, no_verify, rtol, precision,
           calibration, quantization, agreement, route, options, custom_modules,
           unsafe_deserialization, verbose):
    """Export MODEL (a .keras file) to a verified artifact at OUTPUT.

    MODEL is loaded by the chosen Keras backend, exported through
    kerasexport.export() and the artifact reloaded by its own runtime and
    compared with the model before it is moved into place; a failure leaves
    OUTPUT untouched. The one-line report goes to standard output. The
    stages (load, export, verify) are shown on standard error when it is a
    terminal.

    \b
    Examples:
      kerasexport export model.keras model.onnx --backend jax
      kerasexport export model.keras serving/model/1 --backend torch
      kerasexport export model.keras model.onnx --option opset_version=17
      kerasexport export model.keras model.xml --backend jax     # OpenVINO: model.xml + model.bin
      kerasexport export model.keras out --input-signature '[[null, 28, 28, 1]]'
      kerasexport export model.keras out --custom-module my_layers.py
      kerasexport export model.keras model.onnx --precision int8 --calibration-data rows.npz
      kerasexport export model.keras model.xml --precision float16
    """
    format_ = format_ or format_for(output)
    model_file.check(model)
    _check_target(output, overwrite, formats.get(format_))
    chosen = backend_lib.use(backend)
    custom = model_file.find_custom(custom_modules)
    calibration_data = None if calibration is None else _calibration(calibration)
    try:
        routes.plan(chosen, format_, route)  # a forced route that cannot be, before loading
        report = _load_and_export(
            model, output, chosen, custom, not unsafe_deserialization, verbose, format=format_,
            input_signature=signature, overwrite=overwrite, verify=not no_verify, rtol=rtol,
            route=route, precision=precision, calibration_data=calibration_data,
            quantization=quantization, agreement=agreement, **options,
        )
    except (errors.OptionError, errors.RouteError) as exc:
        exc.hint = "Here the API's `route=` is --route, and its options are --option KEY=VALUE."
        raise
    for message in report.warnings:
        click.echo(f"warning: {message}", err=True)
    click.echo(report.summary())


def _calibration(path):
    if not path.lower().endswith((".npy", ".npz")):
        raise errors.CalibrationError(
            f"--calibration-data takes a .npy file (one input) or a .npz file (arrays by input "
            f"name); received {os.path.basename(path)!r}."
        )
    return tensors.read(path).x


def _load_and_export(model, output, backend, custom, safe_mode, verbose, input_signature, **kwargs):
    """Load `model` and export it, showing the stages; third-party output captured."""
    with console.stages_shown(console.wanted(verbose)):
        progress.stage("load", f"Loading {model} with the {backend} backend.")
        with quiet.quiet(verbose) as warned:
            model_file.import_custom(custom)
            loaded = model_file.load(model, safe_mode=safe_mode)
            specs = None if input_signature is None else parameters.to_specs(input_signature)
        report = api.export(
            loaded, output, verbose=verbose or None, input_signature=specs, **kwargs
        )
    if warned:
        report = dataclasses.replace(report, warnings=tuple(dict.fromkeys([*warned, *report.warnings])))
    return report


def _check_target(output, overwrite, fmt):
    """Refuse an existing OUTPUT (or the file written beside it) in the command line's words, then as the API would."""
    taken = [p for p in [output, *fmt.companions(output)] if os.path.lexists(p)]
    if taken and not overwrite:
        beside = f" (written beside {output!r})" if taken[0] != output else ""
        fail(f"{taken[0]!r}{beside} already exists; pass --overwrite to replace it, or choose another path.")
    atomic.check_target(output, overwrite, fmt.IS_DIRECTORY, fmt.companions(os.path.abspath(output)))
