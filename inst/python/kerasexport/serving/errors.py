"""Failures a request can meet, each with its HTTP status.

Handlers raise these; `app.py` turns every one into ``{"error": message}``
with its status in one place (both protocols use that error object).
Messages say what was received and what was expected, and never hold a
local path.
"""

from kerasexport.errors import KerasexportError


class ServeError(KerasexportError):
    """Base class: a request that cannot be answered; `status` is its HTTP code."""

    kind = "serve"
    status = 500


class BadRequest(ServeError, ValueError):
    """Malformed body, bad inputs, unknown signature or output."""

    status = 400


class Unauthorized(ServeError):
    """A missing or wrong bearer token."""

    status = 401


class NotFound(ServeError, LookupError):
    """Unknown model or version (TF-Serving answers these with 404)."""

    status = 404


class BodyTooLarge(ServeError):
    """A body over the server's limit, refused before it is read whole."""

    status = 413


class UnsupportedEncoding(ServeError):
    """A request body in a content coding the server does not read (HTTP only)."""

    status = 415


class Unavailable(ServeError):
    """The model exists but has no version ready (loading, or every one failed)."""

    status = 503


class RuntimeFailure(ServeError, RuntimeError):
    """The artifact's runtime failed on valid inputs; the server lives on."""

    status = 500


def token_refusal(given, expected):
    """The `Unauthorized` for a presented ``Authorization`` value, or `None` when it is right.

    Args:
        given: `bytes`, the ``Authorization`` header (HTTP) or metadata (gRPC); empty if absent.
        expected: `bytes`, ``b"Bearer <token>"``.
    """
    import hmac

    if hmac.compare_digest(given, expected):
        return None
    what = "no Authorization header" if not given else "a wrong token"
    return Unauthorized(f"This server requires a bearer token; the request had {what}. Send "
                        "'Authorization: Bearer <token>'.")


def body_too_large(size, limit):
    """The `BodyTooLarge` for a body of `size` bytes over `limit`."""
    return BodyTooLarge(f"The body is {size} bytes; this server accepts at most {limit} (--max-body-mb).")


def internal_error(exc):
    """The message of a 500: the failure's type, never its text (which may hold paths)."""
    return (f"Internal server error ({type(exc).__name__}); the server keeps serving. See the "
            "server's log.")
