"""What every gRPC method shares: the token, the size limit, errors as status codes, metrics.

`Calls.unary` wraps a method's behaviour (``async (request, labels) ->
response``) into a grpcio handler that checks ``authorization: Bearer``
metadata (except on the health methods), refuses a message over
``--max-body-mb`` before parsing it, turns the exceptions the HTTP routes
turn into ``{"error": ...}`` into the gRPC status of the same meaning with
the same message, and counts, times and logs the call as `Guard` does for
HTTP. While the server stops, calls in flight finish and new ones (but
the health methods') are refused UNAVAILABLE.

grpcio's threaded server calls the handler in one of its worker threads;
the behaviour runs on the server's event loop (`Calls.loop`), beside the
HTTP routes, the repository and the batchers, and the thread waits for its
answer. Calls that arrive together are on the loop together, so they merge
into batches as HTTP requests do.
"""

import asyncio
import concurrent.futures
import logging
import time

import grpc

from kerasexport import errors
from kerasexport.serving.errors import (BodyTooLarge, NotFound, RuntimeFailure, ServeError,
                                        Unauthorized, Unavailable, body_too_large, internal_error,
                                        token_refusal)

logger = logging.getLogger("kerasexport.serve")

# The gRPC status of each refusal, and the HTTP status metrics count it under.
_CODES = (
    (Unauthorized, grpc.StatusCode.UNAUTHENTICATED),
    (BodyTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (RuntimeFailure, grpc.StatusCode.INTERNAL),
    (errors.InputError, grpc.StatusCode.INVALID_ARGUMENT),
    (ServeError, grpc.StatusCode.INVALID_ARGUMENT),
)


# What a call that starts while the server stops is told (UNAVAILABLE: clients may retry).
_STOPPING = ("The server is shutting down and takes no new calls; send this one again, to another "
             "replica or once the server is back.")


class _TooLarge:
    """A message refused unread: its size, for the handler to answer RESOURCE_EXHAUSTED."""

    def __init__(self, size):
        self.size = size


class _Refusal:
    """A call's gRPC status and message, for its worker thread to abort with."""

    def __init__(self, code, message):
        self.code, self.message = code, message


class Calls:
    """Builds the handlers of one server's gRPC methods.

    Args:
        metrics: the server's `Metrics`.
        token: `str` or `None`.
        max_body_bytes: `int`, larger messages get RESOURCE_EXHAUSTED.
        access_log: `bool`, one info line per call.
    """

    def __init__(self, metrics, *, token, max_body_bytes, access_log):
        self.metrics = metrics
        self.token = None if token is None else f"Bearer {token}".encode()
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.stopping = False  # set by `GrpcServer.stop()`: new calls get UNAVAILABLE
        self.in_flight = 0
        self.loop = None  # the event loop the behaviours run on, set by `GrpcServer.start()`
        self._waiting = set()  # futures worker threads wait on, cancelled by `release()`

    def release(self):
        """Let every worker thread still waiting for the loop go (the loop is stopping)."""
        for future in list(self._waiting):
            future.cancel()

    def unary(self, name, behaviour, request_class, response_class, *, protocol, open=False):
        """A unary-unary handler for `behaviour(request, labels)`.

        Args:
            name: `str`, the method's full name, for the log.
            behaviour: `async callable(request, labels) -> response`; `labels`
                is a list to set to ``[model, version]``.
            request_class, response_class: the generated message classes.
            protocol: `str`, the metrics' protocol label.
            open: `bool`, no token needed (health methods).
        """
        limit = self.max_body_bytes

        def deserialize(data):
            return _TooLarge(len(data)) if len(data) > limit else request_class.FromString(data)

        async def handle(request, metadata):
            """The answer, or the `_Refusal` to abort with."""
            start = time.perf_counter()
            labels = ["", ""]
            status = 200
            self.in_flight += 1
            try:
                if self.stopping and not open:
                    raise Unavailable(_STOPPING)
                if self.token is not None and not open:
                    given = dict(metadata or ()).get("authorization", "")
                    refusal = token_refusal(given.encode() if isinstance(given, str) else given,
                                            self.token)
                    if refusal is not None:
                        raise refusal
                if isinstance(request, _TooLarge):
                    raise body_too_large(request.size, limit)
                return await behaviour(request, labels)
            except Exception as exc:
                status, code, message = _failure(exc, name)
                return _Refusal(code, message)
            finally:
                self.in_flight -= 1
                elapsed = time.perf_counter() - start
                self.metrics.observe_request(labels[0], labels[1], protocol, status, elapsed)
                if self.access_log:
                    logger.info("gRPC %s %d %.1fms", name, status, elapsed * 1000)

        def in_worker(request, context):
            future = asyncio.run_coroutine_threadsafe(handle(request, context.invocation_metadata()),
                                                      self.loop)
            self._waiting.add(future)
            try:
                answer = future.result()
            except concurrent.futures.CancelledError:
                answer = _Refusal(grpc.StatusCode.UNAVAILABLE, _STOPPING)
            finally:
                self._waiting.discard(future)
            if isinstance(answer, _Refusal):
                context.abort(answer.code, answer.message)
            return answer

        return grpc.unary_unary_rpc_method_handler(
            in_worker, request_deserializer=deserialize,
            response_serializer=response_class.SerializeToString)


def _failure(exc, name):
    """(HTTP status for metrics, gRPC code, message) of an exception."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            status = getattr(exc, "status", 400) if isinstance(exc, ServeError) else 400
            return status, code, str(exc)
    logger.error("gRPC %s failed: %s: %s", name, type(exc).__name__,
                 str(exc).splitlines()[0][:200] if str(exc) else "")
    return 500, grpc.StatusCode.INTERNAL, internal_error(exc)


def labelled(labels, model, version):
    """Set a call's metrics labels."""
    labels[0], labels[1] = model, "" if version is None else str(version)
