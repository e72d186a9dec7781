"""HTTP content codings of the inference bodies: gzip and deflate, both ways.

tritonclient.http compresses a request when asked
(``request_compression_algorithm``, sent as ``Content-Encoding``) and asks
for a compressed answer (``response_compression_algorithm``, sent as
``Accept-Encoding``); Triton's HTTP server and TF-Serving's REST server
read and answer both. `decoded()` inflates a request body, bounded by the
server's body limit as it inflates (a small body that inflates past it is
refused, 413, rather than held in memory), and refuses a coding it does
not know (415, with ``Accept-Encoding`` naming the ones it does, as
Triton answers). `accepted()` reads ``Accept-Encoding`` with its weights;
`encoded()` compresses an answer. Over gRPC, grpcio does both itself.
"""

import zlib

from kerasexport.serving.batching import in_thread
from kerasexport.serving.errors import BadRequest, BodyTooLarge, UnsupportedEncoding

# The codings this server reads and writes, in its order of preference.
CODINGS = ("gzip", "deflate")
SUPPORTED = {"accept-encoding": ", ".join(CODINGS)}
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 §8.4.1.3
# gzip's wrapper, and zlib's (what "deflate" means in HTTP); raw deflate is told apart by its header.
_WBITS = {"gzip": 31, "deflate": 15}
_RAW_DEFLATE = -15
# Bodies larger than this are inflated or compressed in a worker thread, not on the event loop.
_OFF_LOOP_BYTES = 256 * 1024


def request_codings(value):
    """The codings a ``Content-Encoding`` value applied, in the order applied, without identity.

    Raises:
        UnsupportedEncoding: a coding other than gzip, deflate and identity.
    """
    if not value:
        return []
    codings = []
    for item in value.split(","):
        name = item.strip().lower()
        name = _ALIASES.get(name, name)
        if name in ("", "identity"):
            continue
        if name not in _WBITS:
            raise UnsupportedEncoding(
                f"The body's Content-Encoding is {value.strip()!r}; this server reads gzip, deflate "
                "or identity. Send the body uncompressed or compressed with gzip or deflate.")
        codings.append(name)
    return codings


def decode(body, codings, limit):
    """`body` with `codings` undone (last applied, first undone), at most `limit` bytes.

    Raises:
        BodyTooLarge: the body inflates past `limit`.
        BadRequest: the body is not what its Content-Encoding says.
    """
    for coding in reversed(codings):
        body = _inflate(body, coding, limit)
    return body


def _inflate(data, coding, limit):
    wbits = _WBITS[coding]
    if coding == "deflate" and not _has_zlib_header(data):
        wbits = _RAW_DEFLATE  # some clients send "deflate" without zlib's wrapper
    parts, size = [], 0
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise BadRequest(f"The body says Content-Encoding: {coding} but is not {coding} data "
                             f"({exc}). Compress it with {coding}, or drop the header.") from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise BodyTooLarge(f"The {coding} body inflates to more than {limit} bytes, the most this "
                               "server accepts (--max-body-mb).")
        parts.append(part)
        if not inflater.eof:
            raise BadRequest(f"The {coding} body ends before its compressed data does (cut short?). "
                             "Send the whole compressed body.")
        data = inflater.unused_data
        if not data:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if coding != "gzip":  # gzip may hold several members one after another; zlib holds one
            raise BadRequest(f"The {coding} body has {len(data)} bytes after its compressed data. "
                             "Send only the compressed body.")


def _has_zlib_header(data):
    # RFC 1950: method 8 (deflate) in the low bits, and the first two bytes a multiple of 31.
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def response_coding(value):
    """The coding to answer with for an ``Accept-Encoding`` value: ``"gzip"``, ``"deflate"`` or `None`.

    The highest weight (``q``) among the codings this server writes wins,
    ``*`` standing for any not named; none, or identity named with a
    higher weight, means the answer goes uncompressed (an identity not
    named is acceptable, RFC 9110 §12.5.3, but weighs nothing against a
    coding that is).
    """
    if not value:
        return None
    weights = {}
    for item in value.split(","):
        name, _, parameters = item.partition(";")
        name = name.strip().lower()
        name = _ALIASES.get(name, name)
        weights[name] = _weight(parameters)
    identity = weights.get("identity", weights.get("*", 0.0))
    best, best_weight = None, 0.0
    for coding in CODINGS:
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best if best_weight >= identity else None


def _weight(parameters):
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def encode(content, coding):
    """`content` compressed with `coding` (zlib's default level, as Triton compresses)."""
    compressor = zlib.compressobj(wbits=_WBITS[coding])
    return compressor.compress(content) + compressor.flush()


async def decoded(scope, body, limit):
    """The request's `body` with its ``Content-Encoding`` undone, at most `limit` bytes."""
    codings = request_codings(_header(scope, b"content-encoding"))
    if not codings:
        return body
    if len(body) > _OFF_LOOP_BYTES:
        return await in_thread(decode, body, codings, limit)
    return decode(body, codings, limit)


def accepted(scope):
    """The coding the request's ``Accept-Encoding`` asks its answer in, or `None`."""
    return response_coding(_header(scope, b"accept-encoding"))


async def encoded(content, coding):
    """`encode(content, coding)`, in a worker thread when `content` is large."""
    if len(content) > _OFF_LOOP_BYTES:
        return await in_thread(encode, content, coding)
    return encode(content, coding)


def _header(scope, name):
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None
