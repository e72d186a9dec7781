"""Tensors between JSON and NumPy, shared by both protocols.

Each protocol module decides where a tensor's values are in a request;
this module turns those values into arrays (refusing ragged or
non-numeric data with a message that says what was received) and arrays
back into JSON-ready values. Dtype names follow `TensorInfo.dtype`
(NumPy names, and ``"string"`` for byte strings).
"""

import base64
import json

import numpy as np
import orjson

from kerasexport.serving.errors import BadRequest

# TensorInfo dtype -> KServe v2 datatype (Open Inference Protocol, "Tensor Data Types").
V2_DATATYPES = {
    "bool": "BOOL",
    "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "float16": "FP16", "float32": "FP32", "float64": "FP64",
    "bfloat16": "BF16", "string": "BYTES",
}
# KServe v2 datatype -> the NumPy dtype its binary data is read as.
V2_NUMPY = {v: np.dtype(k) for k, v in V2_DATATYPES.items() if k not in ("string", "bfloat16")}

# TensorInfo dtype -> TensorFlow's DataType enum name, as TF-Serving prints it.
TF_DATATYPES = {
    "bool": "DT_BOOL", "string": "DT_STRING",
    "uint8": "DT_UINT8", "uint16": "DT_UINT16", "uint32": "DT_UINT32", "uint64": "DT_UINT64",
    "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64",
    "float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE", "bfloat16": "DT_BFLOAT16",
}


def v2_datatype(dtype):
    """The v2 datatype of a TensorInfo dtype (or a NumPy dtype)."""
    name = "string" if getattr(dtype, "kind", None) in ("O", "S", "U") else str(dtype)
    return V2_DATATYPES.get(name, name.upper())


def to_array(value, info, what):
    """A JSON value (nested lists of numbers, booleans or strings) as an array.

    Args:
        value: the decoded JSON value.
        info: the input's `TensorInfo`.
        what: `str`, how to name the value in an error (e.g. ``"input 'x'"``).

    Returns:
        A NumPy array; strings become an object array of `bytes`.

    Raises:
        BadRequest: ragged lists, or values of the wrong kind (strings or
            objects for a numeric input, numbers for a string input).
    """
    if info.dtype == "string":
        return _strings(value, what)
    try:
        array = np.asarray(value)
    except ValueError:
        raise BadRequest(
            f"{what} is ragged: its nested lists have different lengths; "
            f"expected a rectangular tensor of shape {shape_text(info.shape)}."
        ) from None
    if array.dtype.kind not in "biuf":
        raise BadRequest(
            f"{what} holds {_kinds(value)}; expected numbers ({info.dtype}) in "
            f"a rectangular tensor of shape {shape_text(info.shape)}."
        )
    return array


def _strings(value, what):
    try:
        array = np.asarray(value, dtype=object)
    except ValueError:
        raise BadRequest(f"{what} is ragged: its nested lists have different lengths.") from None
    if array.dtype != object or array.ndim == 0 and isinstance(value, list):
        raise BadRequest(f"{what} must hold strings.")
    flat = array.reshape(-1)
    for i, item in enumerate(flat):
        if isinstance(item, str):
            flat[i] = item.encode("utf-8")
        elif isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                flat[i] = base64.b64decode(item["b64"], validate=True)
            except ValueError:
                raise BadRequest(f"{what} holds a 'b64' value that is not valid base64.") from None
        elif isinstance(item, bytes):
            pass
        else:
            raise BadRequest(
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
    if array.dtype.kind == "f" and array.dtype.itemsize < 4 or array.dtype.name == "bfloat16":
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
        BadRequest: an empty body, or one that is not JSON.
    """
    if not body.strip():
        raise BadRequest(f"The request body is empty; expected {expected}.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body)  # the slow path knows NaN and Infinity
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(f"The request body is not valid JSON ({exc}); expected {expected}.") from None


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
