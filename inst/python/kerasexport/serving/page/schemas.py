"""JSON Schemas and example values for an endpoint's tensors, from its signature.

One place says what a valid tensor looks like in each protocol's JSON,
for the OpenAPI document (`openapi.py`) and for the page's starting
request (`state.py`): nested arrays whose fixed dimensions have exactly
their size and whose dynamic ones hold at least one item, elements whose
JSON type and range are what the codec casts exactly to the input's dtype
(`kerasexport.codec.tensors`, `artifact.check_inputs`), strings or
``{"b64": ...}`` objects for string tensors. Datatypes come from the one
dtype table (`kerasexport.dtypes`).

What JSON Schema cannot say is left to the server's 400: that nested lists
of a dynamic dimension are equally long, that several inputs have the same
batch size, and that a V2 tensor's ``shape`` matches its ``data``.
"""

import numpy as np

from kerasexport import dtypes

# Standard base64, as `base64.b64decode(validate=True)` reads it.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# Where a double starts to round to infinity in each float dtype the codec casts into
# (half a step above the largest finite value), which the codec refuses as an overflow.
_FLOAT_LIMITS = {"float16": 65520.0, "float32": float(2**128 - 2**103)}


def element(dtype):
    """The schema of one request value of a tensor of `dtype` (a `TensorInfo.dtype`)."""
    if dtype == "string":
        return {"anyOf": [{"type": "string"}, {
            "type": "object", "required": ["b64"], "additionalProperties": False,
            "properties": {"b64": {"type": "string", "pattern": BASE64}}}]}
    if dtype == "bool":
        return {"anyOf": [{"type": "boolean"}, {"enum": [0, 1]}]}
    # Booleans are numbers to the codec (0 and 1), as to NumPy.
    if dtype in dtypes.INTEGER:
        info = np.iinfo(dtype)
        return {"type": ["integer", "boolean"], "minimum": int(info.min), "maximum": int(info.max)}
    if dtype in _FLOAT_LIMITS:
        limit = _FLOAT_LIMITS[dtype]
        return {"type": ["number", "boolean"], "exclusiveMinimum": -limit, "exclusiveMaximum": limit}
    return {"type": ["number", "boolean"]}  # float64; bfloat16 is refused by the codec


def output_element(dtype):
    """The schema of one response value: numbers, booleans, text or ``{"b64": ...}``."""
    if dtype == "string":
        return {"anyOf": [{"type": "string"}, {
            "type": "object", "required": ["b64"], "properties": {"b64": {"type": "string"}}}]}
    if dtype == "bool":
        return {"type": "boolean"}
    if dtype in dtypes.INTEGER:
        return {"type": "integer"}
    # A number; NaN and infinities are written as the tokens NaN, Infinity, -Infinity
    # (TF-Serving's JSON), which "type": "number" refuses once a parser has read them.
    return {"description": "A number, or NaN, Infinity, -Infinity.",
            "not": {"type": ["string", "boolean", "object", "array"]}}


def nested(dims, leaf):
    """Nested arrays of the given dimensions (`None`: any length from 1) around `leaf`."""
    schema = leaf
    for size in reversed(list(dims)):
        schema = {"type": "array", "items": schema, "minItems": 1 if size is None else size}
        if size is not None:
            schema["maxItems"] = size
    return schema


def tensor(info, *, rows=False, output=False):
    """The JSON schema of a whole tensor (or of one row of it with `rows`).

    A tensor of unknown rank takes any value of its elements' kind, nested.
    """
    leaf = output_element(info.dtype) if output else element(info.dtype)
    if info.shape is None:
        return {"anyOf": [leaf, {"type": "array"}]}
    dims = info.shape[1:] if rows and info.shape else info.shape
    if output:  # an answer's dimensions are the runtime's: only the rank is promised
        dims = [None] * len(dims)
        schema = leaf
        for _ in dims:
            schema = {"type": "array", "items": schema}
        return schema
    schema = nested(dims, leaf)
    if not rows and len(dims) == 1 and dims[0] is None:
        schema["minItems"] = 0  # an empty batch of a rank-1 input is a tensor of shape (0,)
    return schema


def v2_shape(info):
    """The schema of a V2 request tensor's ``shape``: fixed sizes as they are, dynamic from 1
    (the batch from 0: an empty batch is answered with empty outputs)."""
    if info.shape is None:
        return {"type": "array", "items": {"type": "integer", "minimum": 0}}
    return {"type": "array", "minItems": len(info.shape), "maxItems": len(info.shape),
            "prefixItems": [{"type": "integer", "minimum": 0 if i == 0 else 1} if d is None
                            else {"const": d} for i, d in enumerate(info.shape)], "items": False}


def v2_data(info):
    """A V2 tensor's ``data``: its elements, flat or nested (row-major)."""
    leaf = element(info.dtype)
    return {"type": "array", "items": {"anyOf": [leaf, {"type": "array"}]}}


def v2_datatype(info):
    """The V2 datatype of a `TensorInfo` (the dtype table's spelling)."""
    return dtypes.convert(info.dtype, "name", "v2", default=info.dtype.upper())


# Examples ----


def example_shape(info, batch=1):
    """A concrete shape for an example: the batch (first dynamic dimension) `batch`, others 2."""
    if info.shape is None:
        return (batch,)
    return tuple((batch if i == 0 else 2) if d is None else d for i, d in enumerate(info.shape))


def example(info, batch=1):
    """An example value of the tensor, as nested lists: small, varied, valid for its dtype."""
    shape = example_shape(info, batch)
    count = int(np.prod(shape, dtype=np.int64))
    index = np.arange(count)
    if info.dtype == "string":
        values = np.array([f"text {i}" for i in index], dtype=object)
    elif info.dtype == "bool":
        values = index % 2 == 0
    elif info.dtype in dtypes.INTEGER:
        values = index % 5
    else:
        values = np.round((index % 10) / 10, 1)
    return values.reshape(shape).tolist()


def image(info):
    """``{"height", "width", "channels"}`` for an image-shaped input, else `None`.

    Image-shaped: the last three dimensions are fixed, with 1 or 3
    channels last, and at most one dimension (the batch) before them.
    """
    shape = info.shape
    if shape is None or len(shape) not in (3, 4) or info.dtype == "string":
        return None
    height, width, channels = shape[-3:]
    if None in (height, width) or channels not in (1, 3) or (len(shape) == 4 and shape[0] not in (None, 1)):
        return None
    return {"height": height, "width": width, "channels": channels, "batched": len(shape) == 4}
