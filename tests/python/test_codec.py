"""The protocols' codecs on their own: shapes a response cannot take, datatypes from the one table."""

import numpy as np
import pytest

from kerasexport import dtypes
from kerasexport import errors
from kerasexport.artifact import Endpoint, TensorInfo
from kerasexport.codec import kserve, tensors, tfserving


def endpoint(*rows):
    outputs = tuple(TensorInfo(f"y{i}", "float32", (None,)) for i in range(len(rows)))
    return Endpoint("serve", "graph", (TensorInfo("x", "float32", (None,)),), outputs)


def test_row_format_outputs_of_different_lengths_are_refused_not_cut():
    spec = endpoint(3, 2)
    outputs = [np.zeros(3, "float32"), np.zeros(2, "float32")]
    with pytest.raises(errors.RequestError, match="different numbers of rows"):
        tfserving.encode_predict(spec, outputs, rows=True)
    # The columnar format holds them as they are.
    body = tfserving.encode_predict(spec, outputs, rows=False)
    assert body == b'{"outputs":{"y0":[0.0,0.0,0.0],"y1":[0.0,0.0]}}'


def test_row_format_rows_pair_outputs_by_example():
    spec = endpoint(2, 2)
    outputs = [np.array([1.0, 2.0], "float32"), np.array([3.0, 4.0], "float32")]
    assert tfserving.encode_predict(spec, outputs, rows=True) == (
        b'{"predictions":[{"y0":1.0,"y1":3.0},{"y0":2.0,"y1":4.0}]}')


def test_every_table_datatype_round_trips_through_v2():
    for d in dtypes.TABLE:
        assert tensors.v2_datatype(d.name) == d.v2
    assert tensors.v2_numpy("FP32") == np.dtype("float32")
    assert tensors.v2_numpy("BYTES") is None and tensors.v2_numpy("BF16") is None
    assert tensors.v2_datatype(np.array(["a"], dtype=object).dtype) == "BYTES"


def test_a_request_error_is_an_input_error_for_every_caller():
    with pytest.raises(errors.InputError):
        kserve.decode_infer(b'{"inputs": []}', None)
    assert issubclass(errors.RequestError, errors.KerasexportError)


def test_a_shape_whose_size_overflows_int64_is_refused_not_wrapped_to_zero():
    # 2**32 x 2**32 elements wrap to 0 in int64: an empty body used to pass the
    # size check and fail later in reshape (not a RequestError).
    with pytest.raises(errors.RequestError, match="needs 73786976294838206464"):
        kserve.from_binary(b"", "FP32", [2**32, 2**32], "x")
    from tritonclient.grpc import service_pb2

    from kerasexport.codec import kserve_proto

    message = service_pb2.ModelInferRequest(model_name="m")
    tensor = message.inputs.add()
    tensor.name, tensor.datatype = "x", "FP32"
    tensor.shape.extend([2**32, 2**32])
    with pytest.raises(errors.RequestError, match="neither"):
        kserve_proto.decode_infer(message)
