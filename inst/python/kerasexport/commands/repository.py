"""``kerasexport repository SRC OUT --engine ...``: a model repository Triton, TF-Serving or KServe runs."""

import os

import click

from kerasexport import deploy
from kerasexport.commands.failure import fail


@click.command()
@click.argument("src", metavar="SRC", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.argument("out", metavar="OUT", type=click.Path())
@click.option("--engine", type=click.Choice(deploy.ENGINES), required=True,
              help="The engine OUT is for: triton (config.pbtxt per model), tfserving "
                   "(models.config, warm-up records) or kserve (InferenceService manifests).")
@click.option("--max-batch-size", type=click.IntRange(min=0), default=deploy.DEFAULT_MAX_BATCH_SIZE,
              show_default=True, help="Rows per batch the engine merges; 0: no batching.")
@click.option("--max-queue-delay-us", type=click.IntRange(min=0),
              default=deploy.DEFAULT_MAX_QUEUE_DELAY_US, show_default=True,
              help="How long a request waits for others to batch with, in microseconds.")
@click.option("--instances", type=click.IntRange(min=1), default=deploy.DEFAULT_INSTANCES,
              show_default=True, help="Model instances on CPU (TF-Serving: batch threads).")
@click.option("--python-backend", is_flag=True,
              help="Triton: write every format (LiteRT and .pt2 too) as a Python-backend model "
                   "that runs the artifact with kerasexport (installed in Triton's Python).")
@click.option("--storage-uri", metavar="URI", default=None,
              help="KServe (required): where OUT will be uploaded, e.g. s3://bucket/models; "
                   "each InferenceService's storageUri is URI/<model>.")
@click.option("--cpu-request", default=None, help="KServe: the predictor's CPU request, e.g. 1.")
@click.option("--cpu-limit", default=None, help="KServe: the predictor's CPU limit.")
@click.option("--memory-request", default=None, help="KServe: the predictor's memory request, e.g. 2Gi.")
@click.option("--memory-limit", default=None, help="KServe: the predictor's memory limit.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def repository(src, out, engine, max_batch_size, max_queue_delay_us, instances, python_backend,
               storage_uri, cpu_request, cpu_limit, memory_request, memory_limit, overwrite):
    """Write OUT, a model repository ENGINE runs as it is, from SRC.

    SRC is what `kerasexport serve` serves: one artifact, or a repository
    ROOT/<model>/<version>/. It is only read. OUT is written in a staging
    directory beside it and renamed into place whole. A version in a format
    the engine cannot run is named on standard error with the reason and
    left out; the exit code is 1 only when nothing could be written.

    \b
    Examples:
      kerasexport repository models triton-models --engine triton
      kerasexport repository models triton-py --engine triton --python-backend
      kerasexport repository models tfs-models --engine tfserving --max-batch-size 32
      kerasexport repository models kserve-models --engine kserve --storage-uri s3://bucket/models
    """
    if engine == "kserve" and not storage_uri:
        raise click.UsageError("--engine kserve needs --storage-uri URI (where OUT will be uploaded).")
    if python_backend and engine != "triton":
        raise click.UsageError("--python-backend applies to --engine triton only.")
    if os.path.lexists(out) and not overwrite:
        fail(f"{out!r} already exists; pass --overwrite to replace it, or choose another path.")
    report = deploy.write_repository(
        src, out, engine, overwrite=overwrite, max_batch_size=max_batch_size,
        max_queue_delay_us=max_queue_delay_us, instances=instances, python_backend=python_backend,
        storage_uri=storage_uri, cpu_request=cpu_request, cpu_limit=cpu_limit,
        memory_request=memory_request, memory_limit=memory_limit)
    for line in report.skipped:
        click.echo(f"left out: {line}", err=True)
    for line in report.notes:
        click.echo(f"note: {line}", err=True)
    click.echo(report.summary())
