"""TensorFlow's ``TensorProto`` into arrays and back, for TF-Serving's gRPC API.

Follows ``tensorflow/core/framework/tensor.proto``: the values are either
packed in ``tensor_content`` (little-endian), or typed in the field of the
dtype (``float_val``, ``int_val`` for the small integers, ``half_val`` for
bit patterns of halves, ``string_val``...), where one value stands for
every element (as ``tf.make_ndarray`` reads it). Dtypes are named by
`kerasexport.dtypes`; the messages are the caller's (``tensor_pb2`` of the
TensorFlow install), read and filled here by field name, so this module
imports no TensorFlow. Refusals are `RequestError`s.
"""

import math

import numpy as np

from kerasexport import dtypes
from kerasexport.errors import RequestError

# The typed field of each dtype (kerasexport's names).
_FIELDS = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "int16": "int_val",
    "int8": "int_val", "uint8": "int_val", "uint16": "int_val", "int64": "int64_val",
    "uint32": "uint32_val", "uint64": "uint64_val", "bool": "bool_val", "float16": "half_val",
    "string": "string_val",
}


def _enum(message):
    return message.DESCRIPTOR.fields_by_name["dtype"].enum_type


def dtype_name(message):
    """kerasexport's name of a TensorProto's dtype, or `None` when the table lacks it."""
    enum = _enum(message).values_by_number.get(message.dtype)
    found = dtypes.find(enum.name if enum else "", "tf")
    return found.name if found else None


def to_array(message, name):
    """A ``TensorProto`` as an array of its dtype and shape.

    Args:
        message: the ``TensorProto``.
        name: `str`, the input's name, for messages.

    Raises:
        RequestError: an unknown or unsupported dtype, an unknown rank,
            negative dimensions, values that do not fill the shape.
    """
    dtype = dtype_name(message)
    if dtype is None or dtype == "bfloat16":
        enum = _enum(message).values_by_number.get(message.dtype)
        supported = sorted(d.tf for d in dtypes.TABLE if d.name != "bfloat16")
        raise RequestError(f"Input {name!r}: dtype {enum.name if enum else message.dtype} is not "
                           f"supported. Expected one of {supported}.")
    if message.tensor_shape.unknown_rank:
        raise RequestError(f"Input {name!r}: tensor_shape has an unknown rank; send its dimensions.")
    shape = [d.size for d in message.tensor_shape.dim]
    if any(d < 0 for d in shape):
        raise RequestError(f"Input {name!r}: tensor_shape {shape} has negative dimensions; expected "
                           "non-negative whole numbers.")
    count = math.prod(shape)
    if dtype != "string" and message.tensor_content:
        numpy_dtype = np.dtype(dtype).newbyteorder("<")
        if len(message.tensor_content) != count * numpy_dtype.itemsize:
            raise RequestError(f"Input {name!r} has {len(message.tensor_content)} bytes of {dtype} in "
                               f"tensor_content; shape {shape} needs {count * numpy_dtype.itemsize}.")
        return np.frombuffer(message.tensor_content, dtype=numpy_dtype).reshape(shape)
    values = getattr(message, _FIELDS[dtype])
    if dtype == "string":
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
    elif dtype == "float16":
        array = np.asarray(values, dtype=np.uint16).view(np.float16)
    else:
        array = np.asarray(values, dtype=dtype)
    if array.size == count:
        return array.reshape(shape)
    if array.size == 1:  # one value for every element, as tf.make_ndarray reads it
        return np.full(shape, array[0], dtype=array.dtype)
    raise RequestError(f"Input {name!r} has {array.size} values; shape {shape} needs {count}.")


def from_array(message, array):
    """Fill an empty ``TensorProto`` with an array (numbers packed in ``tensor_content``).

    Returns:
        `message`.
    """
    name = dtypes.of_array(array)
    if name == "bfloat16" or array.dtype.kind == "f" and array.dtype.itemsize < 2:
        array, name = array.astype(np.float32), "float32"
    message.dtype = _enum(message).values_by_name[dtypes.convert(name, "name", "tf")].number
    for size in array.shape:
        message.tensor_shape.dim.add().size = size
    if name == "string":
        message.string_val.extend(
            v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in array.reshape(-1))
    else:
        message.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return message


def set_shape(message, shape):
    """Fill a ``TensorShapeProto`` from a `TensorInfo` shape (`None`: unknown rank or size -1)."""
    if shape is None:
        message.unknown_rank = True
        return message
    for size in shape:
        message.dim.add().size = -1 if size is None else size
    return message


def dtype_number(message, name):
    """The ``DataType`` number of kerasexport's dtype `name`, read from `message`'s enum."""
    values = _enum(message).values_by_name
    return values[dtypes.convert(name, "name", "tf", default="DT_INVALID")].number
