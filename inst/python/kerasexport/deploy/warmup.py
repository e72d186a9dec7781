"""TF-Serving's warm-up file: ``assets.extra/tf_serving_warmup_requests``.

A TFRecord file of ``tensorflow.serving.PredictionLog`` records, each a
``PredictLog`` holding a ``PredictRequest`` for the serving signature,
which TF-Serving replays when it loads a version (tensorflow/serving
``tensorflow_serving/g3doc/saved_model_warmup.md``). The messages are
encoded here by their field numbers in tensorflow/serving's
``apis/prediction_log.proto``, ``predict.proto`` and ``model.proto``, so
writing one needs no tensorflow-serving-api; the tensors are TensorFlow's
own ``TensorProto`` (`tf.make_tensor_proto`), and the file is written by
`tf.io.TFRecordWriter`. Tests parse it back with tensorflow-serving-api.
"""

import numpy as np

FILE = "tf_serving_warmup_requests"
DIRECTORY = "assets.extra"

# Field numbers (tensorflow/serving apis/*.proto).
_PREDICTION_LOG_PREDICT_LOG = 6
_PREDICT_LOG_REQUEST = 1
_REQUEST_MODEL_SPEC = 1
_REQUEST_INPUTS = 2
_MODEL_SPEC_NAME = 1
_MODEL_SPEC_SIGNATURE_NAME = 3
_MAP_KEY = 1
_MAP_VALUE = 2


def sample(tensor, rows):
    """An input of `tensor`'s declared dtype and shape: `rows` rows, other dynamic dimensions 1.

    Values are small and deterministic (0, 1, 2, ... modulo 4; strings
    ``b"warm-up"``), in range for any integer or boolean input.
    """
    shape = tuple(rows if i == 0 and d is None else (1 if d is None else d)
                  for i, d in enumerate(tensor.shape or ()))
    size = int(np.prod(shape)) if shape else 1
    if tensor.dtype == "string":
        return np.full(shape, b"warm-up", dtype=object)
    values = np.arange(size) % (2 if tensor.dtype == "bool" else 4)
    return values.reshape(shape).astype(tensor.dtype)


def records(model, signature, endpoint, batch_sizes):
    """Serialized ``PredictionLog`` records, one per batch size."""
    import tensorflow as tf

    out = []
    for rows in batch_sizes:
        spec = (_field(_MODEL_SPEC_NAME, model.encode())
                + _field(_MODEL_SPEC_SIGNATURE_NAME, signature.encode()))
        request = _field(_REQUEST_MODEL_SPEC, spec)
        for t in endpoint.inputs:
            proto = tf.make_tensor_proto(sample(t, rows)).SerializeToString()
            request += _field(_REQUEST_INPUTS, _field(_MAP_KEY, t.name.encode())
                              + _field(_MAP_VALUE, proto))
        out.append(_field(_PREDICTION_LOG_PREDICT_LOG, _field(_PREDICT_LOG_REQUEST, request)))
    return out


def write(path, model, signature, endpoint, batch_sizes):
    """Write the warm-up records for `endpoint` at each batch size to `path` (a TFRecord file)."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as writer:
        for record in records(model, signature, endpoint, batch_sizes):
            writer.write(record)


def _field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
