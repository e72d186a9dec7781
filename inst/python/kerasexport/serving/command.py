"""``kerasexport serve PATH``: the command-line shell over `kerasexport.serve()`."""

import click

from kerasexport.serving import server as _server


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; a non-loopback address without --token prints a warning.")
@click.option("--port", default=_server.DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (printed on start).")
@click.option("--poll-seconds", default=_server.DEFAULT_POLL_SECONDS, show_default=True,
              type=click.FloatRange(min=0), help="How often to look for new and removed versions; 0: never.")
@click.option("--max-batch-size", default=_server.DEFAULT_MAX_BATCH_SIZE, show_default=True,
              type=click.IntRange(min=1), help="Rows per merged batch of concurrent requests; 1: no batching.")
@click.option("--max-delay-ms", default=_server.DEFAULT_MAX_DELAY_MS, show_default=True,
              type=click.FloatRange(min=0), help="How long a request to an idle model waits for others to batch with.")
@click.option("--max-body-mb", default=_server.DEFAULT_MAX_BODY_MB, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Larger request bodies are refused with 413.")
@click.option("--grpc-port", default=8500, show_default=True, type=click.IntRange(0, 65535),
              help="Port for gRPC (KServe v2 / Triton and TF-Serving's APIs, both on it); 0: no gRPC.")
@click.option("--token", envvar=_server.TOKEN_VARIABLE, default=None, show_envvar=True,
              help="Require 'Authorization: Bearer TOKEN' on every route but /v2/health/* (over gRPC: "
                   "'authorization' metadata on every call but ServerLive and ServerReady).")
@click.option("--quiet", is_flag=True, help="No access log.")
@click.option("--model-config-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A TF-Serving models.config: serve its models, version policies and "
                   "version_labels (/v1/models/<m>/labels/<label>).")
def serve(path, host, port, grpc_port, poll_seconds, max_batch_size, max_delay_ms, max_body_mb, token, quiet,
          model_config_file):
    """Serve an artifact or a model repository over HTTP and gRPC.

    PATH is one artifact (served as version 1 of a model named after it) or
    a repository ROOT/<model>/<version>/ as TF-Serving and Triton lay it out.
    Speaks TF-Serving's REST API (/v1/models/...) and KServe v2 (/v2/...,
    with Triton's model configuration, statistics and repository
    extensions) over HTTP, the same two over gRPC on --grpc-port
    (inference.GRPCInferenceService, tensorflow.serving.PredictionService
    and ModelService); Prometheus metrics at /metrics. A Triton
    <model>/config.pbtxt sets that model's max_batch_size, batching delay
    and warm-up. The address printed on start, /, is a page to try each
    model in a browser; /openapi.json describes every route and each
    model's request and response schemas, shown by /docs. Stop with Ctrl+C
    or SIGTERM.
    """
    _server.serve(path, host, port, poll_seconds=poll_seconds, max_batch_size=max_batch_size,
                  max_delay_ms=max_delay_ms, max_body_mb=max_body_mb, token=token or None,
                  quiet=quiet, grpc_port=grpc_port or None, model_config_file=model_config_file)
