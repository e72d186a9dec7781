"""The model server: TF-Serving REST and KServe v2 over any artifact `load()` opens.

`serve()` blocks; `Server` runs in the background. The parts, one concern
each: `repository` (models, versions, polling, swaps), `warmup`, `batching`
(runs and merges requests; `stats` counts them), `tfserving`, `kserve` and
`triton` (one protocol's documents each), `app` (the HTTP routes; `lingering`
for refusals mid-body), `grpc` (both protocols over gRPC), `metrics`,
`server` (uvicorn and gRPC), `command` (``kerasexport serve``), `page` (the
page at ``/``, ``/openapi.json``, ``/docs``).

The package is `serving`, not `serve`, so that `kerasexport.serve` stays the
function: importing a submodule `kerasexport.serve.x` would replace it.
"""

from kerasexport.serving.server import Server, serve

__all__ = ["Server", "serve"]
