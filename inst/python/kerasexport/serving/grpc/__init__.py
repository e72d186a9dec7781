"""gRPC: KServe v2 / Triton and TensorFlow Serving on one port, beside HTTP.

`GrpcServer` runs grpcio's threaded server beside the event loop uvicorn
runs (started and stopped by `serving.server`); each call's behaviour runs
on that loop (`calls`), so both transports share the repository, the
runners and their batchers, the statistics and the metrics. Threaded, not
grpcio's asyncio server: on one busy core its C core costs less per call
than the asyncio server's turns of the loop, hand-off to the loop included
(bench/RESULTS.md), and calls that arrive together reach the batcher
together. The services, one module each: `kserve`
(``inference.GRPCInferenceService``) and `tfserving`
(``tensorflow.serving.PredictionService`` and ``ModelService``); what
their methods share (token, size limit, status codes, metrics) is `calls`.
"""

import logging
import os
import sys

from kerasexport import errors

# grpcio reads GRPC_EXPERIMENTS once, when it is first imported. On a busy core its
# EventEngine listener and endpoints cost more per call than its older posix TCP path
# (bench/RESULTS.md: about 15% more calls/s on one core at 32 clients, a fixed answer).
_EXPERIMENTS = "-event_engine_listener,-event_engine_for_all_other_endpoints"


def _import_grpc():
    """Import grpcio with `_EXPERIMENTS`, unless it is imported already or the operator set them."""
    if "grpc" in sys.modules or "GRPC_EXPERIMENTS" in os.environ:
        return
    os.environ["GRPC_EXPERIMENTS"] = _EXPERIMENTS
    try:
        import grpc  # noqa: F401
    finally:
        del os.environ["GRPC_EXPERIMENTS"]  # not for the processes and clients started later


_import_grpc()

from kerasexport.serving.grpc.calls import Calls  # noqa: E402  (after grpcio's import above)
from kerasexport.serving.grpc.workers import WORKER_THREADS, Workers, worker_threads  # noqa: E402,F401

logger = logging.getLogger("kerasexport.serve")

DEFAULT_PORT = 8500
# grpcio refuses messages over its own limit before the handler sees them, in
# its words; up to this limit (a bound on memory) the handler refuses in ours.
_READ_FACTOR = 4
_READ_EXTRA = 64 * 2**20
# How often a stopping server looks whether its calls in flight have finished.
_DRAIN_POLL_SECONDS = 0.01


class GrpcServer:
    """grpcio's threaded server with both services, their behaviours on the event loop.

    Args:
        repository: the `Repository`.
        metrics: the server's `Metrics`.
        version: `str`, the server version (ServerMetadata).
        host: `str`, the address to bind.
        port: `int`; 0 picks a free one.
        token: `str` or `None`.
        max_body_bytes: `int`, larger messages get RESOURCE_EXHAUSTED.
        access_log: `bool`.
        workers: the `workers.Workers` grpcio runs the handlers on (the server
            grows it as versions load); a new one when `None`.

    Attributes:
        port: the bound port, once `start()` has run.
    """

    def __init__(self, repository, metrics, *, version, host, port, token, max_body_bytes,
                 access_log, workers=None):
        self.repository = repository
        self.host = host
        self.port = port
        self.version = version
        self.calls = Calls(metrics, token=token, max_body_bytes=max_body_bytes, access_log=access_log)
        self.max_body_bytes = max_body_bytes
        self.workers = Workers() if workers is None else workers
        self._server = None

    async def start(self):
        """Bind and start serving; the methods run on the running event loop.

        Raises:
            KerasexportError: the address cannot be bound.
        """
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self._asked = self.port
        try:
            _check_free(self.host, self.port)  # before grpcio (which logs its own failure) and imports
        except OSError:
            raise self._unavailable(shown) from None

        import asyncio
        import grpc

        from kerasexport.serving.grpc import kserve, tfserving

        self.calls.loop = asyncio.get_running_loop()
        limit = min(self.max_body_bytes * _READ_FACTOR + _READ_EXTRA, 2**31 - 1)
        self._server = grpc.server(self.workers, options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),
        ])
        handlers = [kserve.handler(self.repository, self.calls, self.version)]
        handlers += tfserving.handlers(self.repository, self.calls)
        if len(handlers) == 1:
            logger.warning("gRPC: TF-Serving's API is off: tensorflow-serving-api (and TensorFlow) "
                           "are not installed; KServe v2 is served")
        self._server.add_generic_rpc_handlers(handlers)
        try:
            self.port = self._server.add_insecure_port(f"{shown}:{self.port}")
        except RuntimeError:
            self.port = 0
        if not self.port:
            self.workers.shutdown(wait=False)
            raise self._unavailable(shown)
        self._server.start()
        return self.port

    def _unavailable(self, shown):
        return errors.KerasexportError(
            f"Cannot listen for gRPC on {shown}:{self._asked}: the port is in use or the address "
            "is not available. Pick another --grpc-port (0 turns gRPC off).")

    async def stop(self, grace):
        """Stop taking calls; let those in flight finish within `grace` seconds.

        Until they have, the server stays up and refuses new calls UNAVAILABLE
        (retryable, with the reason), rather than leaving them to grpcio's
        shutdown, which cancels calls that arrive while it runs.
        """
        if self._server is not None:
            import asyncio

            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace
            self.calls.stopping = True
            while self.calls.in_flight and loop.time() < deadline:
                await asyncio.sleep(_DRAIN_POLL_SECONDS)
            stopped = self._server.stop(max(deadline - loop.time(), 0))
            await loop.run_in_executor(None, stopped.wait)
            self.calls.release()  # calls grpcio cancelled at the deadline stop waiting
            self.workers.shutdown(wait=False)
            self._server = None


def _check_free(host, port):
    """Raise `OSError` when `host:port` cannot be bound now."""
    import socket

    if not port:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
