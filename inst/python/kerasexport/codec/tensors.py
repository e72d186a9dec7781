"""Tensor values between JSON and NumPy, shared by both protocols' codecs.

Each protocol module decides where a tensor's values are in a request;
this module turns those values into arrays (refusing ragged or
non-numeric data with a message that says what was received) and arrays
back into JSON-ready values. Dtype names follow `TensorInfo.dtype`
(NumPy names, and ``"string"`` for byte strings; `kerasexport.dtypes`).
"""

import base64
import functools
import json

import numpy as np
import orjson

from kerasexport import dtypes
from kerasexport.errors import RequestError

@functools.lru_cache(maxsize=256)  # on every answer's every output: NumPy's dtype names are slow
def v2_datatype(dtype):
    """The KServe v2 datatype of a TensorInfo dtype name, or of a NumPy dtype."""
    name = "string" if getattr(dtype, "kind", None) in ("O", "S", "U") else str(dtype)
    return dtypes.convert(name, "name", "v2", default=name.upper())


@functools.lru_cache(maxsize=256)
def v2_numpy(datatype):
    """The NumPy dtype a KServe v2 datatype's binary data is read as (`None` for BYTES, BF16)."""
    name = dtypes.convert(datatype, "v2", "name", default="")
    return None if name in ("", "string", "bfloat16") else np.dtype(name)


def to_array(value, info, what):
    """A JSON value (nested lists of numbers, booleans or strings) as an array.

    Args:
        value: the decoded JSON value.
        info: the input's `TensorInfo`.
        what: `str`, how to name the value in an error (e.g. ``"input 'x'"``).

    Returns:
        A NumPy array; strings become an object array of `bytes`.

    Raises:
        RequestError: ragged lists, or values of the wrong kind (strings or
            objects for a numeric input, numbers for a string input).
    """
    if info.dtype == "string":
        return _strings(value, what)
    try:
        array = np.asarray(value)
    except ValueError:
        raise RequestError(
            f"{what} is ragged: its nested lists have different lengths; "
            f"expected a rectangular tensor of shape {shape_text(info.shape)}."
        ) from None
    if array.dtype.kind not in "biuf":
        raise RequestError(
            f"{what} holds {_kinds(value)}; expected numbers ({info.dtype}) in "
            f"a rectangular tensor of shape {shape_text(info.shape)}."
        )
    return array


def _strings(value, what):
    try:
        array = np.asarray(value, dtype=object)
    except ValueError:
        raise RequestError(f"{what} is ragged: its nested lists have different lengths.") from None
    if array.dtype != object or array.ndim == 0 and isinstance(value, list):
        raise RequestError(f"{what} must hold strings.")
    flat = array.reshape(-1)
    for i, item in enumerate(flat):
        if isinstance(item, str):
            flat[i] = item.encode("utf-8")
        elif isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                flat[i] = base64.b64decode(item["b64"], validate=True)
            except ValueError:
                raise RequestError(f"{what} holds a 'b64' value that is not valid base64.") from None
        elif isinstance(item, bytes):
            pass
        else:
            raise RequestError(
                f"{what} holds {type(item).__name__} values; expected strings "
                "(or {\"b64\": ...} objects for binary data)."
            )
    return array


def _kinds(value):
    """What a JSON value holds, for an error message: "strings", "null"..."""
    seen = set()
    stack = [value]
    while stack and len(seen) < 3:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item[:64])
        elif isinstance(item, dict):
            seen.add("objects")
        elif isinstance(item, str):
            seen.add("strings")
        elif item is None:
            seen.add("null")
    return " and ".join(sorted(seen)) or "non-numeric values"


def shape_text(shape):
    """A shape as the protocols write it: ``[-1, 4]``, or "of unknown rank"."""
    if shape is None:
        return "of unknown rank"
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def json_value(array, *, b64=False):
    """An output array as a JSON-ready value (nested lists; NumPy kept for orjson).

    Byte strings become text, or ``{"b64": ...}`` objects when `b64` is set or
    they are not valid UTF-8 (TF-Serving's rule for binary strings).
    """
    if array.dtype.kind in "OSU":
        return np.vectorize(lambda v: _text(v, b64), otypes=[object])(array).tolist() if array.size else array.tolist()
    if array.dtype.kind == "f" and array.dtype.itemsize < 4 or dtypes.name_of(array.dtype) == "bfloat16":
        return array.astype(np.float32)
    return np.ascontiguousarray(array)


def _text(value, b64):
    if isinstance(value, str):
        return {"b64": base64.b64encode(value.encode()).decode()} if b64 else value
    if not b64:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(bytes(value)).decode()}


def loads(body, expected):
    """Parse a JSON body; ``NaN`` and ``Infinity`` tokens are accepted (TF-Serving's rule).

    Args:
        body: `bytes`.
        expected: `str`, what the body should be, for the error message.

    Raises:
        RequestError: an empty body, or one that is not JSON.
    """
    if not body.strip():
        raise RequestError(f"The request body is empty; expected {expected}.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body)  # the slow path knows NaN and Infinity
        except (ValueError, UnicodeDecodeError):
            raise RequestError(f"The request body is not valid JSON ({exc}); expected {expected}.") from None


def json_type(value):
    """The JSON name of a decoded value's type ("object", "list", "string"...)."""
    for kind, name in ((dict, "object"), (list, "list"), (str, "string"), (bool, "boolean"),
                       (int, "number"), (float, "number")):
        if isinstance(value, kind):
            return name
    return "null"


def dumps(body, arrays=()):
    """A response body as JSON bytes (NumPy arrays serialized natively).

    Float outputs holding NaN or infinities are written with ``NaN`` and
    ``Infinity`` tokens, as TF-Serving writes them, not as ``null``.
    """
    if any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays):
        return json.dumps(body, allow_nan=True, default=_plain).encode()
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def _plain(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def by_position_if_single(endpoint, named):
    """`named` (a dict of inputs), keyed by the endpoint's input name when both have one.

    Versions of a model often name their one input differently (Keras
    numbers unnamed inputs per process); a client that names it as an older
    version did must keep working when a new version is swapped in.
    """
    if len(endpoint.inputs) == 1 and len(named) == 1:
        return {endpoint.inputs[0].name: next(iter(named.values()))}
    return named
