"""``kerasexport inspect``: what an exported artifact holds."""

import json

import click

from kerasexport.commands.artifact_file import open_artifact


@click.command()
@click.argument("artifact", metavar="ARTIFACT")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON (schema below).")
def inspect(artifact, as_json):
    """Describe ARTIFACT (a SavedModel directory, or an ONNX, OpenVINO .xml, LiteRT or .pt2 file).

    Prints its format, size on disk and endpoints with their inputs and
    outputs: what `print()` shows in R and `kerasexport.load(path).summary()`
    in Python. Only the artifact's runtime is used (TensorFlow for a
    SavedModel, onnxruntime for ONNX, OpenVINO, LiteRT's interpreter, torch
    for .pt2); no model code is needed.

    \b
    With --json, one object on standard output:
      {"path": str,                  ARTIFACT as given
       "format": str,                "tf_saved_model", "onnx", "openvino", "litert" or "torch"
       "size": int,                  bytes on disk (a SavedModel's whole directory, an IR's .xml and .bin)
       "default_endpoint": str,      the endpoint `predict` calls by default
       "endpoints": [{"name": str,
                      "kind": str,   "signature", "function" (SavedModel) or "graph" (the other formats)
                      "serving_default": bool,
                      "same_as": str or null,   the endpoint serving_default repeats
                      "inputs":  [{"name": str, "dtype": str, "shape": [int or null] or null}],
                      "outputs": [{"name": str, "dtype": str, "shape": [int or null] or null}]}]}
    A null dimension takes any size; a null shape is of unknown rank.

    \b
    Examples:
      kerasexport inspect model.onnx
      kerasexport inspect serving/model/1 --json | jq '.endpoints[0].inputs'
    """
    loaded = open_artifact(artifact)
    if as_json:
        description = loaded.describe()
        description["path"] = artifact
        click.echo(json.dumps(description, indent=2))
    else:
        click.echo(loaded.summary().replace(f"path: {loaded.path}", f"path: {artifact}", 1))
