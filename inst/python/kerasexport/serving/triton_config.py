"""What `kerasexport serve` takes from a Triton ``<model>/config.pbtxt``.

Triton's ``ModelConfig`` (triton-inference-server/common
``protobuf/model_config.proto``), three parts of it:

- ``max_batch_size``: 0 turns batching off; above 0, merged batches hold
  at most that many rows. Without ``dynamic_batching`` Triton merges no
  requests, and neither does the server.
- ``dynamic_batching { max_queue_delay_microseconds }``: how long a request
  to an idle model waits for company.
- ``model_warmup``: the requests run on a version before it serves
  (``zero_data``, ``random_data``; ``input_data_file`` is refused), in
  place of the server's own run on zeros.

A malformed file fails the versions of its model with a message naming the
file and the field; the other models keep serving.
"""

import dataclasses
import os

import numpy as np

from kerasexport import dtypes
from kerasexport.serving import textproto

FILE = "config.pbtxt"


@dataclasses.dataclass(frozen=True)
class Warmup:
    """One ``model_warmup`` entry: its name, batch size and {input: (dtype, dims, kind)}."""

    name: str
    batch_size: int
    inputs: dict

    def arrays(self, batching, reshapes=None):
        """{input name: array}, the batch dimension first when the model batches.

        `reshapes`: {input name: the shape its ``reshape`` gives the model}.
        """
        rng = np.random.default_rng(0)
        out = {}
        for name, (dtype, dims, kind) in self.inputs.items():
            dims = (reshapes or {}).get(name, dims)
            shape = ((self.batch_size,) if batching else ()) + tuple(dims)
            if dtype == "string":
                out[name] = np.full(shape, b"" if kind == "zero_data" else b"warm-up", dtype=object)
            elif kind == "zero_data":
                out[name] = np.zeros(shape, dtype=dtype)
            else:
                out[name] = rng.integers(0, 2, size=shape).astype(dtype)
        return out


@dataclasses.dataclass(frozen=True)
class TritonConfig:
    """The parts of a ``config.pbtxt`` the server honours.

    Attributes:
        max_batch_size: `int`; 0: the model does not batch.
        dynamic_batching: `bool`, whether requests are merged.
        max_delay_ms: `float`, the queue delay, in milliseconds.
        warmups: tuple of `Warmup`.
        reshapes: {input name: shape} of the inputs with a ``reshape``.
    """

    max_batch_size: int
    dynamic_batching: bool
    max_delay_ms: float
    warmups: tuple
    reshapes: dict = dataclasses.field(default_factory=dict)

    def warmup_arrays(self):
        """Each warm-up's inputs, as the model receives them."""
        return [w.arrays(self.max_batch_size > 0, self.reshapes) for w in self.warmups]

    @property
    def rows_per_batch(self):
        """Rows per merged batch for `batching.Runner` (1: none merged)."""
        return self.max_batch_size if self.max_batch_size > 0 and self.dynamic_batching else 1


def read(model_dir):
    """The `TritonConfig` of the model in `model_dir`, or `None` when it has no config.pbtxt.

    Raises:
        ValueError: a malformed file, naming it and the field.
    """
    path = os.path.join(model_dir, FILE)
    if not os.path.isfile(path):
        return None
    where = f"{os.path.basename(model_dir)}/{FILE}"
    try:
        with open(path, encoding="utf-8") as f:
            message = textproto.parse(f.read())
    except (OSError, UnicodeDecodeError, textproto.ParseError) as exc:
        raise ValueError(f"{where} is not a Triton model configuration: {exc}.") from None
    max_batch = _integer(textproto.one(message, "max_batch_size", 0), where, "max_batch_size", 0)
    batching = textproto.one(message, "dynamic_batching")
    delay_us = 0
    if batching is not None:
        if not isinstance(batching, dict):
            raise ValueError(f"{where}: field 'dynamic_batching' must be a message.")
        delay_us = _integer(textproto.one(batching, "max_queue_delay_microseconds", 0), where,
                            "dynamic_batching.max_queue_delay_microseconds", 0)
    warmups = tuple(_warmup(w, where, i) for i, w in enumerate(message.get("model_warmup", [])))
    reshapes = {}
    for i, tensor in enumerate(message.get("input", [])):
        reshape = textproto.one(tensor, "reshape") if isinstance(tensor, dict) else None
        if reshape is not None:
            shape = reshape.get("shape", []) if isinstance(reshape, dict) else None
            if shape is None or any(isinstance(d, bool) or not isinstance(d, int) for d in shape):
                raise ValueError(f"{where}: field 'input[{i}].reshape.shape' must list whole numbers.")
            reshapes[str(textproto.one(tensor, "name"))] = [max(d, 1) for d in shape]
    return TritonConfig(max_batch, batching is not None, delay_us / 1000, warmups, reshapes)


def _warmup(entry, where, index):
    field = f"model_warmup[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: field {field!r} must be a message.")
    batch = _integer(textproto.one(entry, "batch_size", 1), where, f"{field}.batch_size", 1)
    inputs = {}
    for item in entry.get("inputs", []):
        name = textproto.one(item, "key") if isinstance(item, dict) else None
        value = textproto.one(item, "value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(value, dict):
            raise ValueError(f"{where}: field '{field}.inputs' entries need a key and a value.")
        type_name = textproto.one(value, "data_type")
        dtype = dtypes.convert(type_name, "triton", "name", default="")
        if not dtype or dtype == "bfloat16":
            raise ValueError(f"{where}: field '{field}.inputs[{name}].data_type' is {type_name!r}, "
                             "not a Triton data type the server can build (TYPE_FP32, TYPE_INT64, ...).")
        dims = [_integer(d, where, f"{field}.inputs[{name}].dims", 1) for d in value.get("dims", [])]
        kinds = [k for k in ("zero_data", "random_data", "input_data_file") if k in value]
        if kinds != ["zero_data"] and kinds != ["random_data"]:
            raise ValueError(f"{where}: field '{field}.inputs[{name}]' needs zero_data or random_data "
                             f"(found {kinds or 'neither'}; input_data_file is not read here).")
        inputs[name] = (dtype, dims, kinds[0])
    return Warmup(str(textproto.one(entry, "name", f"warmup {index}")), batch, inputs)


def _integer(value, where, field, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: field {field!r} must be a whole number >= {minimum}, "
                         f"received {value!r}.")
    return value
