"""uvicorn's HTTP protocol, answering the inference routes without ASGI.

Under load, uvicorn's side of each request (its ASGI ``send``, which checks
and joins the response head, and the messages to and from the app) costs
more than the rest of a small model's path (bench/RESULTS.md, "Where
kerasexport's server spends its time"). `protocol_class` subclasses
uvicorn's httptools protocol so that a request `Guard.direct()` accepts (a
POST to an inference path, token passed, Content-Length within the limit)
skips ASGI: its body is read from uvicorn's request cycle as the ASGI
``receive`` reads it, `InferRoutes.outcome()` computes the answer, and the
answer goes out in one write, head and body. Everything else about the
connection stays uvicorn's: parsing, keep-alive and its timeout,
pipelining, flow control, ``Expect: 100-continue``, disconnects and the
graceful shutdown, which waits for these tasks as for its own. Every other
request is uvicorn's and the ASGI app's, as before.
"""

import time

from kerasexport.serving.errors import internal_error
from kerasexport.serving.infer_routes import ClientGone, error, read_body

# Bodies up to this size go out in the same write as the head; larger ones
# are written after it rather than copied into one buffer.
_JOINED_BYTES = 64 * 1024


def protocol_class(guard):
    """uvicorn's `HttpToolsProtocol` with `guard`'s inference routes answered directly.

    Args:
        guard: the app's `Guard` (the application `create_app` returns).

    Returns:
        A protocol class, for ``uvicorn.Config(http=...)``.
    """
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    class InferenceProtocol(HttpToolsProtocol):
        def _start_asgi_task(self, cycle, app):
            matched = guard.direct(cycle.scope) if app is self.app else None
            if matched is None:
                return super()._start_asgi_task(cycle, app)
            task = self.loop.create_task(_answer(cycle, matched))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)

    async def _answer(cycle, matched):
        scope = cycle.scope
        start = time.perf_counter()
        status = 500
        try:
            body = await read_body(cycle.receive)
            status, content, headers, failure = await guard.infer_routes.outcome(matched, scope, body)
            await _write(cycle, status, content, headers)
            if failure is not None:
                guard.log_failure(scope, failure)
        except ClientGone:
            pass
        except Exception as exc:  # ours, not the request's: answer 500 if nothing went out yet
            guard.log_failure(scope, exc)
            if not cycle.response_started:
                status = 500
                await _write(cycle, *error(500, internal_error(exc)))
            else:
                cycle.transport.close()
        finally:
            cycle.on_response = _nothing  # as uvicorn's cycle does once its app returns
            guard.observe(scope, status, start)

    async def _write(cycle, status, content, headers):
        """What uvicorn's ``send`` does for a whole response with a Content-Length, in one write."""
        if cycle.flow.write_paused and not cycle.disconnected:
            await cycle.flow.drain()
        if cycle.disconnected:
            return
        cycle.response_started = True
        cycle.waiting_for_100_continue = False
        head = [STATUS_LINE[status]]
        for name, value in cycle.default_headers:
            head += (name, b": ", value, b"\r\n")
        head += (b"content-length: ", str(len(content)).encode(), b"\r\n")
        for name, value in headers.items():
            head += (name.encode(), b": ", value.encode(), b"\r\n")
        if not cycle.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        if len(content) <= _JOINED_BYTES:
            head.append(content)
            cycle.transport.write(b"".join(head))
        else:
            cycle.transport.write(b"".join(head))
            cycle.transport.write(content)
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            cycle.transport.close()
        cycle.on_response()

    return InferenceProtocol


def _nothing():
    pass
