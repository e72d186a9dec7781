"""The one dtype table: each tensor type under the name every runtime and protocol gives it.

kerasexport names a dtype as NumPy does (``"float32"``), with ``"string"``
for byte strings (TensorFlow's ``tf.string``, ONNX's ``tensor(string)``,
KServe's ``BYTES``); `TensorInfo.dtype` and input signatures use these
names. Every other spelling is read from and written to this table.
"""

import dataclasses
import functools


@dataclasses.dataclass(frozen=True)
class DType:
    """One tensor type.

    Attributes:
        name: kerasexport's (NumPy's) name, or ``"string"``.
        onnx: ONNX Runtime's type string, ``"tensor(float)"``.
        openvino: OpenVINO's element type name, ``"f32"``.
        tf: TensorFlow's DataType enum name, as TF-Serving prints it, ``"DT_FLOAT"``.
        v2: the KServe v2 / Open Inference Protocol datatype, ``"FP32"``.
        triton: Triton's model-configuration data type, ``"TYPE_FP32"``.
    """

    name: str
    onnx: str
    openvino: str
    tf: str
    v2: str
    triton: str

    @property
    def integer(self):
        return self.name.startswith(("int", "uint"))


TABLE = (
    DType("bool", "tensor(bool)", "boolean", "DT_BOOL", "BOOL", "TYPE_BOOL"),
    DType("uint8", "tensor(uint8)", "u8", "DT_UINT8", "UINT8", "TYPE_UINT8"),
    DType("uint16", "tensor(uint16)", "u16", "DT_UINT16", "UINT16", "TYPE_UINT16"),
    DType("uint32", "tensor(uint32)", "u32", "DT_UINT32", "UINT32", "TYPE_UINT32"),
    DType("uint64", "tensor(uint64)", "u64", "DT_UINT64", "UINT64", "TYPE_UINT64"),
    DType("int8", "tensor(int8)", "i8", "DT_INT8", "INT8", "TYPE_INT8"),
    DType("int16", "tensor(int16)", "i16", "DT_INT16", "INT16", "TYPE_INT16"),
    DType("int32", "tensor(int32)", "i32", "DT_INT32", "INT32", "TYPE_INT32"),
    DType("int64", "tensor(int64)", "i64", "DT_INT64", "INT64", "TYPE_INT64"),
    DType("float16", "tensor(float16)", "f16", "DT_HALF", "FP16", "TYPE_FP16"),
    DType("bfloat16", "tensor(bfloat16)", "bf16", "DT_BFLOAT16", "BF16", "TYPE_BF16"),
    DType("float32", "tensor(float)", "f32", "DT_FLOAT", "FP32", "TYPE_FP32"),
    DType("float64", "tensor(double)", "f64", "DT_DOUBLE", "FP64", "TYPE_FP64"),
    DType("string", "tensor(string)", "string", "DT_STRING", "BYTES", "TYPE_STRING"),
)
NAMES = tuple(d.name for d in TABLE)
INTEGER = tuple(d.name for d in TABLE if d.integer)
_BY = {field.name: {getattr(d, field.name): d for d in TABLE} for field in dataclasses.fields(DType)}


def find(value, spelling="name"):
    """The `DType` whose `spelling` (a field of `DType`) is `value`, or `None`."""
    return _BY[spelling].get(value)


def convert(value, source, target, default=None):
    """`value` in `source`'s spelling, in `target`'s (``convert("f32", "openvino", "name")``).

    Returns:
        The other spelling; `default` (or `value` itself when `default` is
        `None`) for a type the table does not hold.
    """
    found = find(value, source)
    if found is None:
        return value if default is None else default
    return getattr(found, target)


def of_array(array):
    """kerasexport's name for a NumPy array's dtype (byte and text strings: ``"string"``)."""
    return "string" if array.dtype.kind in "OSU" else name_of(array.dtype)


@functools.lru_cache(maxsize=256)
def name_of(dtype):
    """A NumPy dtype's name, remembered: NumPy builds it in Python (µs on every request)."""
    return dtype.name
