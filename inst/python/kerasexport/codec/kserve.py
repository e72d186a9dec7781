"""KServe v2 (Open Inference Protocol) inference bodies, JSON or binary, into arrays and back.

Follows kserve's ``docs/predict-api/v2/required_api.md`` (inference with
JSON tensors, flat or nested, ``id`` echoed, requested ``outputs``) and
Triton's binary tensor data extension (``extension_binary_data.md``):
inputs with a ``binary_data_size`` parameter are read, in order, from the
bytes after the JSON header whose length ``Inference-Header-Content-Length``
gives; outputs go back as binary when the request asks (``binary_data``
per output, or ``binary_data_output`` for all), which is what
``tritonclient.http`` does by default. Refusals are `RequestError`s.

A model with one input takes it under any name, and its one output can be
asked for under any name (and is answered under that name): versions of a
model often name them differently (Keras numbers unnamed inputs per
process), and a client must not fail when a new version lands.
"""

import dataclasses
import functools
import math
import struct

import numpy as np

from kerasexport import dtypes
from kerasexport import errors
from kerasexport.artifact import TensorInfo, check_inputs
from kerasexport.codec import tensors
from kerasexport.errors import RequestError

HEADER_LENGTH = "inference-header-content-length"
# The datatypes a request may carry (every v2 datatype of the dtype table).
_DATATYPES = sorted(d.v2 for d in dtypes.TABLE)
_KNOWN = frozenset(_DATATYPES)


@dataclasses.dataclass
class InferRequest:
    """A decoded inference request."""

    id: str | None
    inputs: dict
    outputs: list  # (name, binary: bool or None), in the order asked
    binary_output: bool


# Requests ----


def decode_infer(body, header_length):
    """Parse an inference request (JSON, or JSON header + binary tensors).

    Args:
        body: `bytes`, the whole body.
        header_length: the ``Inference-Header-Content-Length`` header, or `None`.

    Returns:
        An `InferRequest` with inputs as arrays of their declared shapes.

    Raises:
        RequestError: see the module's doc and the messages.
    """
    binary = b""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            raise RequestError(f"Inference-Header-Content-Length must be a whole number of bytes, "
                             f"received {header_length[:40]!r}.") from None
        if length < 0 or length > len(body):
            raise RequestError(f"Inference-Header-Content-Length is {length}, but the body has "
                             f"{len(body)} bytes; expected the length of the JSON header, "
                             "between 0 and the body's length.")
        body, binary = body[:length], body[length:]
    request = tensors.loads(body, "an inference request: a JSON object with \"inputs\"")
    if not isinstance(request, dict):
        raise RequestError(f"The inference request is a JSON {tensors.json_type(request)}; "
                         "expected an object with \"inputs\".")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"\"id\" must be a string, received a JSON {tensors.json_type(request_id)}.")
    parameters = _object(request.get("parameters"), "\"parameters\"")
    items = request.get("inputs")
    if not isinstance(items, list) or not items:
        raise RequestError("\"inputs\" must be a non-empty list of input tensors "
                         "({\"name\", \"shape\", \"datatype\", \"data\"}); received "
                         + ("nothing." if items is None else f"a JSON {tensors.json_type(items)}."))
    arrays, offset = {}, 0
    for i, item in enumerate(items):
        name, shape, datatype, item_parameters = _tensor_header(item, i)
        if name in arrays:
            raise RequestError(f"Input {name!r} is given twice.")
        size = item_parameters.get("binary_data_size")
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise RequestError(f"Input {name!r}: binary_data_size must be a whole number of "
                                 f"bytes, received {size!r}.")
            if offset + size > len(binary):
                raise RequestError(f"Input {name!r} declares {size} bytes of binary data, but only "
                                 f"{len(binary) - offset} remain after the JSON header.")
            arrays[name] = from_binary(binary[offset:offset + size], datatype, shape, name)
            offset += size
        elif "data" in item:
            arrays[name] = _from_json(item["data"], datatype, shape, name)
        else:
            raise RequestError(f"Input {name!r} has neither \"data\" nor a binary_data_size parameter.")
    if offset != len(binary):
        raise RequestError(f"The body has {len(binary)} bytes of binary data after the JSON header, "
                         f"but the inputs declare {offset}.")
    return InferRequest(request_id, arrays, _requested_outputs(request.get("outputs")),
                        _flag(parameters.get("binary_data_output"), "\"binary_data_output\"") or False)


def _object(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(f"{what} must be a JSON object, received a JSON {tensors.json_type(value)}.")
    return value


def _flag(value, what):
    """A boolean parameter, or `None` when absent."""
    if value is not None and not isinstance(value, bool):
        raise RequestError(f"{what} must be true or false, received a JSON {tensors.json_type(value)}.")
    return value


def _tensor_header(item, i):
    if not isinstance(item, dict):
        raise RequestError(f"inputs[{i}] must be a JSON object, received a JSON {tensors.json_type(item)}.")
    name = item.get("name")
    if not isinstance(name, str):
        raise RequestError(f"inputs[{i}] has no \"name\" string.")
    shape, datatype = item.get("shape"), item.get("datatype")
    if isinstance(shape, list):  # 2.0 is a whole number to JSON (and to JSON Schema's "integer")
        shape = [int(d) if isinstance(d, float) and d.is_integer() else d for d in shape]
    check_header(name, shape, datatype)
    return name, shape, datatype, _object(item.get("parameters"), f"Input {name!r}: \"parameters\"")


def check_header(name, shape, datatype):
    """Refuse an input tensor's shape or datatype as every transport does.

    Raises:
        RequestError: a shape that is not a list of non-negative whole
            numbers, an unknown datatype, or BF16.
    """
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise RequestError(f"Input {name!r}: \"shape\" must be a list of non-negative whole numbers, "
                         f"received {str(shape)[:80]}.")
    if not isinstance(datatype, str) or datatype not in _KNOWN:
        raise RequestError(f"Input {name!r}: unknown datatype {str(datatype)[:40]!r}. Expected one of "
                           f"{_DATATYPES}.")
    if datatype == "BF16":
        raise RequestError(f"Input {name!r}: BF16 tensors are not supported; send FP32.")


def from_binary(raw, datatype, shape, name):
    """One input's binary data (little-endian; BYTES as 4-byte length + bytes) as an array."""
    count = math.prod(shape)  # exact: a huge shape must not wrap around
    if datatype == "BYTES":
        values, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise RequestError(f"Input {name!r}: BYTES data ends inside an element's length prefix.")
            (length,) = struct.unpack_from("<I", raw, offset)
            if offset + 4 + length > len(raw):
                raise RequestError(f"Input {name!r}: a BYTES element of {length} bytes runs past the data.")
            values.append(raw[offset + 4:offset + 4 + length])
            offset += 4 + length
        if len(values) != count:
            raise RequestError(f"Input {name!r} has {len(values)} BYTES elements; shape {shape} needs {count}.")
        array = np.empty(count, dtype=object)
        array[:] = values
        return array.reshape(shape)
    dtype = _little_endian(datatype)
    if len(raw) != count * dtype.itemsize:
        raise RequestError(f"Input {name!r} has {len(raw)} bytes of {datatype} data; shape {shape} "
                         f"needs {count * dtype.itemsize}.")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


@functools.lru_cache(maxsize=64)
def _little_endian(datatype):
    return tensors.v2_numpy(datatype).newbyteorder("<")


def _from_json(data, datatype, shape, name):
    info = TensorInfo(name, "string" if datatype == "BYTES" else dtypes.name_of(tensors.v2_numpy(datatype)), None)
    array = tensors.to_array(data, info, f"input {name!r}")
    count = math.prod(shape)  # exact: a huge shape must not wrap around
    if array.size != count:
        raise RequestError(f"Input {name!r} has {array.size} values; shape {shape} needs {count}.")
    return array.reshape(shape)


def _requested_outputs(items):
    if items is None:
        return []
    if not isinstance(items, list):
        raise RequestError(f"\"outputs\" must be a list, received a JSON {tensors.json_type(items)}.")
    requested = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RequestError(f"outputs[{i}] must be an object with a \"name\" string.")
        binary = _object(item.get("parameters"), f"outputs[{i}].parameters").get("binary_data")
        requested.append((item["name"], _flag(binary, f"outputs[{i}].parameters.binary_data")))
    return requested


def inputs(endpoint, request):
    """The request's arrays, checked and cast, in the endpoint's input order.

    Raises:
        RequestError: unknown or missing inputs, wrong rank or fixed dimension,
            values that do not cast exactly, unknown requested outputs.
    """
    names = {t.name for t in endpoint.outputs}
    unknown = [n for n, _ in request.outputs if n not in names]
    if unknown and not (len(names) == 1 and len(request.outputs) == 1):
        raise RequestError(f"Unknown output(s) {unknown} requested. Available: "
                         f"{[t.name for t in endpoint.outputs]}.")
    try:
        return check_inputs(endpoint, tensors.by_position_if_single(endpoint, request.inputs))
    except errors.InputError as exc:
        raise RequestError(str(exc)) from None


# Responses ----


def encode_infer(model, version, endpoint, outputs, request):
    """The ``$inference_response`` body and its headers.

    Args:
        model: `str`, the model's name.
        version: `str`, the version that answered.
        endpoint: the `Endpoint` that ran.
        outputs: its output arrays, in its order.
        request: the `InferRequest`.

    Returns:
        `(bytes, dict of headers)`: JSON alone, or the JSON header followed
        by the binary outputs with ``Inference-Header-Content-Length``.
    """
    entries, chunks, json_arrays = [], [], []
    for name, binary, array in selected_outputs(endpoint, outputs, request.outputs):
        entry = {"name": name, "datatype": tensors.v2_datatype(array.dtype), "shape": list(array.shape)}
        if request.binary_output if binary is None else binary:
            raw = to_binary(array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            value = tensors.json_value(array)
            entry["data"] = value.reshape(-1) if isinstance(value, np.ndarray) else _flat(value)
            if isinstance(value, np.ndarray):
                json_arrays.append(value)
        entries.append(entry)
    response = {"model_name": model, "model_version": str(version)}
    if request.id is not None:
        response["id"] = request.id
    response["outputs"] = entries
    header = tensors.dumps(response, json_arrays)
    if not chunks:
        return header, {"content-type": "application/json"}
    return header + b"".join(chunks), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(header)),
    }


def selected_outputs(endpoint, outputs, requested):
    """`(name, binary, array)` of each output to answer with, in the order asked.

    Args:
        endpoint: the `Endpoint` that ran.
        outputs: its output arrays, in its order.
        requested: `(name, binary or None)` pairs; empty for every output.
    """
    by_name = dict(zip((t.name for t in endpoint.outputs), outputs))
    wanted = requested or [(t.name, None) for t in endpoint.outputs]
    if len(by_name) == 1 and len(wanted) == 1 and wanted[0][0] not in by_name:
        by_name = {wanted[0][0]: outputs[0]}  # the one output, under the name asked for
    return [(name, binary, by_name[name]) for name, binary in wanted]


def to_binary(array):
    """An output array as binary tensor data (the inverse of `from_binary`)."""
    if array.dtype.kind in "OSU":
        parts = []
        for value in array.reshape(-1):
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _flat(value):
    out = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out
