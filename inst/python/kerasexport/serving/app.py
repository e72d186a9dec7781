"""The ASGI application: routes, and errors as data at the edge.

Routes only: each handler finds the model version in the `Repository`,
hands the body to its protocol module (`tfserving`, `kserve`) to decode,
runs the version's `Runner`, and returns what the protocol module encodes.
Every failure is an exception; the handlers registered here turn them into
``{"error": ...}`` with their status, in one place. `Guard`, around the
whole application, checks the bearer token and the body size before
anything is read, and counts, times and logs each request.
"""

import logging
import time

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

from kerasexport import errors
from kerasexport.codec import kserve as kserve_codec
from kerasexport.codec import tfserving as tfserving_codec
from kerasexport.codec import tensors
from kerasexport.serving import kserve, page, tfserving, triton
from kerasexport.serving.batching import in_thread
from kerasexport.serving.errors import (BodyTooLarge, ServeError, Unauthorized, body_too_large,
                                        internal_error, token_refusal)
from kerasexport.serving.infer_routes import InferRoutes, header
from kerasexport.serving.lingering import lingering
from kerasexport.serving.repository import AVAILABLE, version_number

logger = logging.getLogger("kerasexport.serve")

# Health routes stay open when a token is required (load balancers probe them),
# and so do the page and its files (they hold nothing of the models).
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"}) | page.OPEN_PATHS
JSON = "application/json"
# Bodies larger than this are decoded in a worker thread, not on the event loop.
_THREAD_DECODE_BYTES = 256 * 1024
_LABELS = "kerasexport.labels"
_HEADER_LENGTH = kserve_codec.HEADER_LENGTH.encode()
_JSON_HEADERS = {"content-type": JSON}


def create_app(repository, metrics, *, version, token=None, max_body_bytes=64 * 2**20,
               access_log=True):
    """The server's ASGI application.

    Args:
        repository: the `Repository` to serve.
        metrics: the server's `Metrics`.
        version: `str`, the server version shown by ``GET /v2``.
        token: `str` or `None`: when set, every route but the health routes
            requires ``Authorization: Bearer <token>``.
        max_body_bytes: `int`, larger bodies get 413 before being read.
        access_log: `bool`, one info line per request on the
            ``kerasexport.serve`` logger.

    Returns:
        An ASGI application.
    """
    handlers = _Handlers(repository, metrics, version)
    # Inference first: Starlette tries routes in order, and these take nearly
    # every request (none of their paths is matched by a route further down).
    routes = [
        Route("/v2/models/{model}/infer", handlers.v2_infer, methods=["POST"]),
        Route("/v2/models/{model}/versions/{version}/infer", handlers.v2_infer, methods=["POST"]),
        # :predict before status: "/v1/models/m:predict" also fits "/v1/models/{model}", and the
        # first route a path fits names the methods a 405 allows.
        Route("/v1/models/{model}:predict", handlers.tfs_predict, methods=["POST"]),
        Route("/v1/models/{model}/versions/{version}:predict", handlers.tfs_predict, methods=["POST"]),
        Route("/v1/models/{model}", handlers.tfs_status, methods=["GET"]),
        Route("/v1/models/{model}/versions/{version}", handlers.tfs_status, methods=["GET"]),
        Route("/v1/models/{model}/metadata", handlers.tfs_metadata, methods=["GET"]),
        Route("/v1/models/{model}/versions/{version}/metadata", handlers.tfs_metadata, methods=["GET"]),
        Route("/v1/models/{model}/labels/{label}:predict", handlers.tfs_predict, methods=["POST"]),
        Route("/v1/models/{model}/labels/{label}", handlers.tfs_status, methods=["GET"]),
        Route("/v1/models/{model}/labels/{label}/metadata", handlers.tfs_metadata, methods=["GET"]),
        Route("/v2", handlers.v2_server, methods=["GET"]),
        Route("/v2/health/live", handlers.v2_live, methods=["GET"]),
        Route("/v2/health/ready", handlers.v2_ready, methods=["GET"]),
        Route("/v2/repository/index", handlers.v2_index, methods=["POST"]),
        Route("/v2/repository/models/{model}/load", handlers.v2_load, methods=["POST"]),
        Route("/v2/repository/models/{model}/unload", handlers.v2_unload, methods=["POST"]),
        Route("/v2/models/stats", handlers.v2_stats, methods=["GET"]),
        Route("/v2/models/{model}/stats", handlers.v2_stats, methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}/stats", handlers.v2_stats, methods=["GET"]),
        Route("/v2/models/{model}/config", handlers.v2_config, methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}/config", handlers.v2_config, methods=["GET"]),
        Route("/v2/models/{model}", handlers.v2_metadata, methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}", handlers.v2_metadata, methods=["GET"]),
        Route("/v2/models/{model}/ready", handlers.v2_model_ready, methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}/ready", handlers.v2_model_ready, methods=["GET"]),
        Route("/metrics", handlers.prometheus, methods=["GET"]),
    ] + page.routes(repository, version=version, token=token is not None)
    app = Starlette(routes=routes, exception_handlers={
        ServeError: _serve_error, errors.InputError: _bad_input, HTTPException: _http_error,
        Exception: _internal_error,
    })
    return Guard(app, metrics, token=token, max_body_bytes=max_body_bytes, access_log=access_log,
                 infer_routes=InferRoutes(handlers, max_body_bytes))


def error_response(status, message, headers=None):
    """``{"error": message}``, the error object of both protocols."""
    return Response(orjson.dumps({"error": message}), status_code=status, media_type=JSON,
                    headers=headers)


async def _serve_error(request, exc):
    headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return error_response(exc.status, str(exc), headers)


async def _bad_input(request, exc):
    """A body the codecs refuse, or inputs that do not fit the endpoint: 400."""
    return error_response(400, str(exc))


async def _http_error(request, exc):
    if exc.status_code == 404:
        message = (f"No route for {request.method} {request.url.path}. Routes: /v1/models/<model>"
                   "[/versions/<v>|/labels/<l>][/metadata|:predict], /v2/models/<model>[/versions/<v>]"
                   "[/ready|/infer|/config|/stats], /v2/models/stats, /v2/repository/index, "
                   "/v2/repository/models/<model>/load|unload, /v2/health/live, /v2/health/ready, "
                   "/metrics, / (the page), /openapi.json, /docs.")
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, exc.headers)


async def _internal_error(request, exc):
    return error_response(500, internal_error(exc))


class _Handlers:
    def __init__(self, repository, metrics, version):
        self.repository = repository
        self.metrics = metrics
        self.version = version

    # TF-Serving ----

    async def tfs_status(self, request):
        """GET /v1/models/{m}[/versions/{v}]: ``GetModelStatusResponse``."""
        model, version = _reference(request, self.repository)
        versions = self.repository.status(model, version)
        _label(request.scope, model, version)
        return _json(tfserving.status(versions))

    async def tfs_metadata(self, request):
        """GET /v1/models/{m}[/versions/{v}]/metadata: ``signature_def`` of each endpoint."""
        model, version = _reference(request, self.repository)
        served = self.repository.get(model, version)
        _label(request.scope, model, served.number)
        return _json(tfserving.metadata(model, served))

    async def tfs_predict(self, request):
        """POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict (`infer_routes` takes these first)."""
        content, headers = await self.predict(request.path_params, await request.body(), request.scope)
        return Response(content, headers=headers)

    async def predict(self, params, body, scope):
        """TF-Serving predict, row or columnar format: `(content, headers)` of the answer."""
        model = params["model"]
        version = (self.repository.label(model, params["label"]) if "label" in params
                   else version_number(params.get("version")))
        self.repository.get(model, version)  # an unknown model is a 404 whatever the body
        decoded = await _decode(tfserving_codec.decode_predict, body)
        with self.repository.use(model, version) as served:
            _label(scope, model, served.number)
            endpoint = tfserving_codec.endpoint(served.artifact, decoded.signature_name)
            arrays = await _decode(tfserving_codec.inputs, endpoint, decoded, size=len(body))
            outputs = await served.runner.run(endpoint, arrays)
        return tfserving_codec.encode_predict(endpoint, outputs, decoded.rows), _JSON_HEADERS

    # KServe v2 ----

    async def v2_server(self, request):
        """GET /v2: server metadata."""
        return _json(kserve.server_metadata(self.version))

    async def v2_live(self, request):
        """GET /v2/health/live: 200 while the server answers."""
        return Response(status_code=200)

    async def v2_ready(self, request):
        """GET /v2/health/ready: 200 once every model has a version available, else 400."""
        return Response(status_code=200 if self.repository.ready else 400)

    async def v2_index(self, request):
        """POST /v2/repository/index: each version's state and load error (Triton's extension)."""
        body = await request.body()
        asked = tensors.loads(body, "an object") if body.strip() else {}
        ready = bool(asked.get("ready", False)) if isinstance(asked, dict) else False
        return _json(triton.repository_index(self.repository, ready_only=ready))

    async def v2_load(self, request):
        """POST /v2/repository/models/{m}/load: load it now; polling manages it again."""
        await in_thread(self.repository.load, request.path_params["model"])
        return Response(status_code=200)

    async def v2_unload(self, request):
        """POST /v2/repository/models/{m}/unload: stop serving it until an explicit load."""
        await in_thread(self.repository.unload, request.path_params["model"])
        return Response(status_code=200)

    async def v2_config(self, request):
        """GET /v2/models/{m}[/versions/{v}]/config: Triton's model configuration."""
        model, version = _reference(request)
        served = self.repository.get(model, version)
        _label(request.scope, model, served.number)
        return _json(triton.model_config(model, served))

    async def v2_stats(self, request):
        """GET /v2/models[/{m}[/versions/{v}]]/stats: Triton's statistics extension."""
        model, version = request.path_params.get("model"), None
        if model is not None:
            model, version = _reference(request)
        return _json(triton.statistics(self.repository, model, version))

    async def v2_metadata(self, request):
        """GET /v2/models/{m}[/versions/{v}]: name, versions, platform, inputs, outputs."""
        model, version = _reference(request)
        served = self.repository.get(model, version)
        _label(request.scope, model, served.number)
        available = [v.number for v in self.repository.models().get(model, []) if v.state == AVAILABLE]
        return _json(kserve.model_metadata(model, served, available))

    async def v2_model_ready(self, request):
        """GET /v2/models/{m}[/versions/{v}]/ready: 200 when it can infer, else 404 and why."""
        model, version = _reference(request)
        served = self.repository.get(model, version)
        _label(request.scope, model, served.number)
        return Response(status_code=200)

    async def v2_infer(self, request):
        """POST /v2/models/{m}[/versions/{v}]/infer (`infer_routes` takes these first)."""
        content, headers = await self.infer(request.path_params, await request.body(), request.scope)
        return Response(content, headers=headers)

    async def infer(self, params, body, scope):
        """KServe v2 inference, JSON or binary tensors: `(content, headers)` of the answer."""
        model, version = params["model"], version_number(params.get("version"))
        self.repository.get(model, version)  # an unknown model is a 404 whatever the body
        decoded = await _decode(kserve_codec.decode_infer, body,
                                header(scope, _HEADER_LENGTH))
        with self.repository.use(model, version) as served:
            _label(scope, model, served.number)
            endpoint = served.artifact.endpoint()
            arrays = await _decode(kserve_codec.inputs, endpoint, decoded, size=len(body))
            outputs = await served.runner.run(endpoint, arrays)
        return kserve_codec.encode_infer(model, served.number, endpoint, outputs, decoded)

    # Operations ----

    async def prometheus(self, request):
        """GET /metrics: Prometheus text format."""
        from kerasexport.serving.metrics import CONTENT_TYPE

        return Response(self.metrics.text(), headers={"content-type": CONTENT_TYPE})


def _reference(request, repository=None):
    """(model, version or None) from the path; the version must be a positive integer.

    A TF-Serving label (``/labels/{label}``) is the version the model config
    file's ``version_labels`` gives it (`Repository.label`).
    """
    params = request.path_params
    if "label" in params and repository is not None:
        return params["model"], repository.label(params["model"], params["label"])
    version = params.get("version")
    if version is not None and version.endswith(":predict") and request.method != "POST":
        raise HTTPException(405, headers={"Allow": "POST"})  # a :predict path, read as status
    return params["model"], version_number(version)


def _label(scope, model, version):
    scope[_LABELS] = (model, "" if version is None else str(version))


def _json(value):
    return Response(orjson.dumps(value), media_type=JSON)


async def _decode(function, *args, size=0):
    """`function(*args)`, in a worker thread when the body is large."""
    if max(size, len(args[0]) if isinstance(args[0], bytes) else 0) > _THREAD_DECODE_BYTES:
        return await in_thread(function, *args)
    return function(*args)


class Guard:
    """ASGI middleware: token, body limit, metrics and access log, around the app.

    POSTs to the inference paths go to `infer_routes` (an `InferRoutes`)
    rather than through the app.

    A body whose Content-Length is over the limit is refused (413) before a
    byte of it is read; a body without one is counted as it streams in and
    refused when it passes the limit.
    """

    def __init__(self, app, metrics, *, token, max_body_bytes, access_log, infer_routes=None):
        self.app = app
        self.infer_routes = infer_routes
        self.metrics = metrics
        self.token = None if token is None else f"Bearer {token}".encode()
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send_status)
            else:
                matched = self.infer_routes and self.infer_routes.match(scope)
                if matched:
                    await self.infer_routes.answer(matched, scope, self._limited(receive), send_status)
                else:
                    await self.app(scope, self._limited(receive), send_status)
        except Exception as exc:  # already answered 500 by Starlette; one line, no traceback
            self.log_failure(scope, exc)
        finally:
            self.observe(scope, status[0], start)

    def direct(self, scope):
        """The inference route `scope` asks for, when its request needs nothing of ASGI, else `None`.

        That is a POST to an inference path that passes the token and says a
        Content-Length within the limit (a body without one is counted as
        it streams in, by the ASGI path). `http_protocol` answers those
        itself, with `infer_routes.outcome()`, `observe()` and `log_failure()`.
        """
        matched = self.infer_routes and self.infer_routes.match(scope)
        if not matched or header(scope, b"content-length") is None or self._refusal(scope) is not None:
            return None
        return matched

    def observe(self, scope, status, start):
        """Count, time and log (`access_log`) a request answered with `status`."""
        elapsed = time.perf_counter() - start
        model, version = scope.get(_LABELS, ("", ""))
        path = scope["path"]
        protocol = "tfserving" if path.startswith("/v1/") else ("kserve" if path.startswith("/v2") else "other")
        self.metrics.observe_request(model, version, protocol, status, elapsed)
        if self.access_log:
            logger.info("%s %s %d %.1fms", scope["method"], path, status, elapsed * 1000)

    @staticmethod
    def log_failure(scope, exc):
        """One line, no traceback, for a request answered 500."""
        logger.error("%s %s failed: %s: %s", scope["method"], scope["path"], type(exc).__name__,
                     str(exc).splitlines()[0][:200] if str(exc) else "")

    def _refusal(self, scope):
        headers = dict(scope["headers"])
        if self.token is not None and scope["path"] not in OPEN_PATHS:
            refusal = token_refusal(headers.get(b"authorization", b""), self.token)
            if refusal is not None:
                return error_response(401, str(refusal), {"www-authenticate": "Bearer"})
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return lingering(error_response(413, str(body_too_large(int(length), self.max_body_bytes)),
                                            {"connection": "close"}),
                             expect=headers.get(b"expect", b"").lower() == b"100-continue")
        return None

    def _limited(self, receive):
        limit = self.max_body_bytes
        seen = 0

        async def receive_counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"The body passed {limit} bytes, the most this server "
                                       "accepts (--max-body-mb).")
            return message

        return receive_counted


def body_limit(max_body_mb):
    """Bytes from megabytes (MiB), as `--max-body-mb` counts them."""
    return int(float(max_body_mb) * 2**20)
