"""The inference routes as plain ASGI, taken before Starlette's router.

Nearly every request a server answers is a ``POST`` to one of five paths
(KServe v2 ``/infer``, TF-Serving ``:predict``, with or without a version
or a label). `InferRoutes` matches those and answers them itself: the
body is read straight from the ASGI channel and the answer sent as two
messages, without Starlette's middleware, routing, `Request` and
`Response`, which together cost more per request than the runtime does on
a small model (bench/RESULTS.md, "Where kerasexport's server spends its
time"). The work itself is the app's handlers', shared with Starlette's
routes, which still answer every other method on these paths (405). A
failure is answered as the app's handlers answer it, ``{"error": ...}``
with its status. A compressed body is inflated before the handler reads it,
and the answer compressed when ``Accept-Encoding`` asks (`content_coding`).
`outcome()` is that answer for a body already read:
`http_protocol` uses it for the requests it answers without ASGI (most of
them); `answer()` is the ASGI path, for the rest (bodies without a
Content-Length).
"""

import re

import orjson

from kerasexport import errors
from kerasexport.serving import content_coding
from kerasexport.serving.errors import ServeError, Unauthorized, UnsupportedEncoding, internal_error

# Starlette's own patterns for these routes ({name} is [^/]+), in its order.
_PATTERNS = (
    (re.compile(r"/v2/models/(?P<model>[^/]+)/infer"), "v2"),
    (re.compile(r"/v2/models/(?P<model>[^/]+)/versions/(?P<version>[^/]+)/infer"), "v2"),
    (re.compile(r"/v1/models/(?P<model>[^/]+):predict"), "tfs"),
    (re.compile(r"/v1/models/(?P<model>[^/]+)/versions/(?P<version>[^/]+):predict"), "tfs"),
    (re.compile(r"/v1/models/(?P<model>[^/]+)/labels/(?P<label>[^/]+):predict"), "tfs"),
)


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


class InferRoutes:
    """Matches and answers ``POST`` requests to the inference paths.

    Args:
        handlers: the app's handlers (their `infer()` and `predict()`).
        max_body_bytes: `int`, the most a compressed body may inflate to
            (`content_coding`).
    """

    def __init__(self, handlers, max_body_bytes):
        self._run = {"v2": handlers.infer, "tfs": handlers.predict}
        self._max_body_bytes = max_body_bytes

    def match(self, scope):
        """`(protocol, path parameters)` when `scope` is a POST to an inference path, else `None`."""
        if scope["method"] != "POST":
            return None
        path = scope["path"]
        for pattern, protocol in _PATTERNS:
            found = pattern.fullmatch(path)
            if found is not None:
                return protocol, found.groupdict()
        return None

    async def answer(self, matched, scope, receive, send):
        """Answer the request `match()` found, success or failure, over ASGI.

        Raises:
            Exception: a failure that is not the request's fault, once
                answered 500 (as Starlette re-raises it, for the log).
        """
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        except ServeError as exc:  # a body streamed past the limit (`Guard` counts it)
            await respond(send, *error(exc.status, str(exc)))
            return
        status, content, headers, failure = await self.outcome(matched, scope, body)
        await respond(send, status, content, headers)
        if failure is not None:
            raise failure

    async def outcome(self, matched, scope, body):
        """`(status, content, headers, failure)` of the request `match()` found, with its `body`.

        `failure` is the exception behind a 500 (for the log), else `None`;
        every other failure is the request's, answered with its status.
        """
        protocol, params = matched
        try:
            body = await content_coding.decoded(scope, body, self._max_body_bytes)
            content, headers = await self._run[protocol](params, body, scope)
            coding = content_coding.accepted(scope)
            if coding is not None:
                content = await content_coding.encoded(content, coding)
                headers = {**headers, "content-encoding": coding}
            return 200, content, headers, None
        except ServeError as exc:
            extra = ({"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized)
                     else content_coding.SUPPORTED if isinstance(exc, UnsupportedEncoding) else None)
            return (*error(exc.status, str(exc), extra), None)
        except errors.InputError as exc:
            return (*error(400, str(exc)), None)
        except Exception as exc:
            return (*error(500, internal_error(exc)), exc)


async def read_body(receive):
    """The whole request body, as Starlette's `Request.body()` reads it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(send, status, content, headers):
    """Send `content` (bytes) with `headers` (a dict of lower-case names) and its length."""
    raw = [(b"content-length", str(len(content)).encode())]
    raw.extend((name.encode(), value.encode()) for name, value in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


def error(status, message, headers=None):
    """`(status, content, headers)` of ``{"error": message}``, as `app.error_response` answers."""
    return status, orjson.dumps({"error": message}), {"content-type": "application/json", **(headers or {})}


def header(scope, name):
    """The first value of header `name` (lower-case `bytes`) as `str`, or `None`."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
