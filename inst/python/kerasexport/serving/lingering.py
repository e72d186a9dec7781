"""Refusing a request whose body is still arriving, so that every client reads the refusal.

A server that answers 413 and closes while the client is still sending
makes the client's kernel see a reset: clients that send the whole body
before reading (Python's ``urllib``, ``http.client``) then report
``Connection reset by peer`` or ``Broken pipe`` instead of the answer.
As nginx's lingering close does, `lingering` sends the whole answer
first, then reads and discards what is left of the body, within
`LINGER_BYTES` bytes and `LINGER_SECONDS` seconds (`LINGER_IDLE` without
data ends it sooner), and only then ends the response and lets the server
close. A client that asked ``Expect: 100-continue`` has not sent the body:
it is answered at once.
"""

import asyncio

LINGER_BYTES = 256 * 2**20
LINGER_SECONDS = 10.0
LINGER_IDLE = 2.0


def lingering(response, *, expect=False):
    """An ASGI app answering `response` (a Starlette `Response`), then draining the body.

    Args:
        response: the refusal, with its whole body.
        expect: `bool`, the request asked ``Expect: 100-continue`` (nothing to drain).
    """

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": response.raw_headers})
        if expect:
            await send({"type": "http.response.body", "body": response.body})
            return
        # The body goes out whole (the client can read the answer now); the
        # response stays open while the rest of the request is discarded.
        await send({"type": "http.response.body", "body": response.body, "more_body": True})
        await drain(receive)
        await send({"type": "http.response.body", "body": b""})

    return app


async def drain(receive, *, limit=LINGER_BYTES, seconds=LINGER_SECONDS, idle=LINGER_IDLE):
    """Read and discard request body messages within the bounds; the bytes read."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    read = 0
    while read < limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            message = await asyncio.wait_for(receive(), min(idle, remaining))
        except (asyncio.TimeoutError, TimeoutError):
            break
        if message["type"] != "http.request":
            break
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return read
