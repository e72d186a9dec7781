"""KServe v2 inference over gRPC: ``ModelInferRequest`` into arrays, arrays into ``ModelInferResponse``.

Follows kserve's ``docs/predict-api/v2/grpc_predict_v2.proto`` (Triton's
``grpc_service.proto``): an input's values are either typed, in its
``contents`` (``fp32_contents``, ``int_contents``... by datatype), or raw,
in the request's ``raw_input_contents`` (one entry per input, in order,
little-endian; BYTES as 4-byte length prefixes), never both. Outputs are
answered raw in ``raw_output_contents``, as Triton answers them and
tritonclient reads them. The rules (datatypes, shapes, one input under any
name, the one output under the name asked for) and the words of every
refusal are `kerasexport.codec.kserve`'s, so HTTP and gRPC refuse alike.
The messages themselves are the caller's (the generated classes of
tritonclient's ``service_pb2``); this module reads and fills their fields.
"""

import math

import numpy as np

from kerasexport.codec import kserve, tensors
from kerasexport.errors import RequestError

# Which typed field holds each datatype's values (FP16 and BF16 have none: raw only).
CONTENTS = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
    "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def decode_infer(message):
    """A ``ModelInferRequest`` as a `codec.kserve.InferRequest`.

    Raises:
        RequestError: see the module's doc and the messages.
    """
    if not message.inputs:
        raise RequestError("\"inputs\" must be a non-empty list of input tensors "
                           "({\"name\", \"shape\", \"datatype\", \"data\"}); received nothing.")
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise RequestError(f"raw_input_contents has {len(raw)} entries, but the request has "
                           f"{len(message.inputs)} inputs; expected one entry per input, in order.")
    arrays = {}
    for i, item in enumerate(message.inputs):
        name, shape, datatype = item.name, list(item.shape), item.datatype
        kserve.check_header(name, shape, datatype)
        if name in arrays:
            raise RequestError(f"Input {name!r} is given twice.")
        field = CONTENTS.get(datatype)
        typed = field is not None and item.HasField("contents") and len(getattr(item.contents, field)) > 0
        if raw:
            if typed:
                raise RequestError(f"Input {name!r} has both contents and raw_input_contents; send "
                                   "one of them.")
            arrays[name] = kserve.from_binary(raw[i], datatype, shape, name)
        elif typed:
            arrays[name] = _from_contents(getattr(item.contents, field), datatype, shape, name)
        elif math.prod(shape) == 0:
            arrays[name] = np.zeros(shape, dtype=object if datatype == "BYTES" else tensors.v2_numpy(datatype))
        else:
            raise RequestError(f"Input {name!r} has neither \"data\" nor a binary_data_size parameter "
                               f"(over gRPC: neither contents.{field or 'raw'} nor raw_input_contents).")
    outputs = [(o.name, True) for o in message.outputs]
    return kserve.InferRequest(message.id or None, arrays, outputs, True)


def _from_contents(values, datatype, shape, name):
    count = math.prod(shape)
    if len(values) != count:
        raise RequestError(f"Input {name!r} has {len(values)} values; shape {shape} needs {count}.")
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    return np.asarray(values, dtype=tensors.v2_numpy(datatype)).reshape(shape)


def encode_infer(response, model, version, endpoint, outputs, request):
    """Fill a ``ModelInferResponse`` with the outputs asked for, raw.

    Args:
        response: an empty ``ModelInferResponse``.
        model: `str`, the model's name.
        version: the version that answered.
        endpoint: the `Endpoint` that ran.
        outputs: its output arrays, in its order.
        request: the `InferRequest` (`decode_infer`'s).

    Returns:
        `response`.
    """
    response.model_name = model
    response.model_version = str(version)
    if request.id is not None:
        response.id = request.id
    for name, _, array in kserve.selected_outputs(endpoint, outputs, request.outputs):
        entry = response.outputs.add()
        entry.name = name
        entry.datatype = tensors.v2_datatype(array.dtype)
        entry.shape.extend(array.shape)
        response.raw_output_contents.append(kserve.to_binary(array))
    return response
