"""``kerasexport predict``: run an artifact on inputs from a file."""

import os

import click

from kerasexport import errors
from kerasexport import quiet
from kerasexport.commands.failure import fail
from kerasexport.commands import tensors
from kerasexport.commands.artifact_file import open_artifact


@click.command()
@click.argument("artifact", metavar="ARTIFACT")
@click.option("--input", "input_", metavar="FILE", required=True,
              help="Inputs: .npy (one input), .npz (inputs by name) or .json "
                   '(TF-Serving {"instances": ...} or {"inputs": ...}).')
@click.option("--output", metavar="FILE",
              help="Write the outputs to FILE: .npy (one output), .npz (by output name) or "
                   ".json. Default: JSON on standard output.")
@click.option("--endpoint", metavar="NAME",
              help="Endpoint to call (see `kerasexport inspect`). Default: the request's "
                   "signature_name, else the artifact's default endpoint.")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Run at most N examples at a time. Default: all at once.")
def predict(artifact, input_, output, endpoint, batch_size):
    """Run ARTIFACT (a SavedModel directory or an .onnx file) on the inputs in FILE.

    Inputs are matched to the endpoint's inputs by name (.npz keys, JSON
    object keys) or position (.npz arrays saved unnamed as arr_0, arr_1...);
    an endpoint with one input takes the one array given, whatever its name.
    They are cast to the inputs' dtypes when the cast is exact; inputs that
    do not fit are refused (exit 1) with what was expected.

    \b
    JSON, as TF-Serving's REST API:
      row format       {"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]}
                       {"instances": [{"a": [1, 2], "b": 3}, {"a": [4, 5], "b": 6}]}
      columnar format  {"inputs": [[1, 2, 3, 4]]}   {"inputs": {"a": [[1, 2]], "b": [3]}}
    {"b64": "..."} stands for bytes; "signature_name" names the endpoint. A JSON
    body is read, answered and refused as the server's :predict route reads,
    answers and refuses it.

    \b
    Without --output, the answer is TF-Serving's JSON on standard output:
    {"predictions": ...} for row-format requests (one value, or one object
    by output name, per example), {"outputs": ...} for the others (the
    output's batch, or an object of batches by output name).

    \b
    Examples:
      kerasexport predict model.onnx --input x.npy
      kerasexport predict model.onnx --input request.json --output y.json
      kerasexport predict serving/model/1 --input inputs.npz --output outputs.npz
    """
    _check_suffix(input_, "--input")
    if not os.path.isfile(input_):
        fail(f"No such file: {input_!r}; --input names a .npy, .npz or .json file.")
    if output is not None:
        _check_suffix(output, "--output")
        if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            fail(f"The directory of --output {output!r} does not exist.")
    loaded = open_artifact(artifact)
    request = tensors.read(input_)
    spec = tensors.endpoint(loaded, request, endpoint)
    if output is not None and output.lower().endswith(".npy") and len(spec.outputs) > 1:
        fail(
            f"The endpoint {spec.name!r} has {len(spec.outputs)} outputs "
            f"({', '.join(t.name for t in spec.outputs)}) and a .npy file holds one; "
            "write them to a .npz or .json file."
        )
    try:
        x = tensors.inputs(spec, request)
        with quiet.quiet(verbose=None):
            result = loaded.predict(x, endpoint=spec.name, batch_size=batch_size)
        outputs = tensors.outputs_in_order(result, spec)
        if output is None:
            click.echo(tensors.response(spec, outputs, request.rows).decode("utf-8"))
        else:
            tensors.write(output, spec, outputs, request.rows)
    except errors.InputError as exc:
        exc.hint = (f"`kerasexport inspect {artifact}` lists the inputs; a .npz file or a JSON "
                    "object gives one array per input name.")
        raise


def _check_suffix(path, option):
    if not path.lower().endswith(tensors.SUFFIXES):
        raise click.UsageError(
            f"{option} {path!r} must end in {', '.join(tensors.SUFFIXES)}: the suffix says how to read it."
        )
