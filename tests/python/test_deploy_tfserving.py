"""`write_repository(engine="tfserving")`: models.config parsed into TF-Serving's own
`ModelServerConfig`, each warm-up record parsed as its `PredictionLog` and run through the
SavedModel's serving signature, and batching_parameters.txt read as TF-Serving's
`BatchingParameters` (its fields transcribed from tensorflow/serving's
session_bundle_config.proto, which tensorflow-serving-api does not ship)."""

import os

import numpy as np
import pytest

import deploy_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend


@pytest.fixture(scope="module")
def tree(deploy_source, tmp_path_factory):
    import kerasexport

    before = deploy_kit.tree_digest(deploy_source.root)
    out = str(tmp_path_factory.mktemp("tfserving") / "models")
    report = kerasexport.write_repository(deploy_source.root, out, engine="tfserving",
                                          max_batch_size=4, max_queue_delay_us=300, instances=2)
    assert deploy_kit.tree_digest(deploy_source.root) == before
    return out, report


def test_only_saved_models_are_written_and_the_rest_named(tree):
    out, report = tree
    assert sorted(report.models) == ["mlp_sm", "text"]
    for model, fmt in (("mlp", "onnx"), ("mlp_ov", "openvino"), ("mlp_lite", "litert"), ("two", "onnx")):
        assert any(f"'{model}'" in s and f"not {fmt}" in s for s in report.skipped), model
    assert sorted(os.listdir(out)) == ["batching_parameters.txt", "mlp_sm", "models.config", "text"]
    assert os.path.isfile(os.path.join(out, "mlp_sm", "1", "saved_model.pb"))


def test_models_config_is_a_model_server_config(tree):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(tree[0], "models.config")) as f:
        config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    configs = {c.name: c for c in config.model_config_list.config}
    assert sorted(configs) == ["mlp_sm", "text"]
    for name, c in configs.items():
        assert c.base_path == f"/models/{name}"
        assert c.model_platform == "tensorflow"
        assert list(c.model_version_policy.specific.versions) == [1]


def _records(path):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]


@pytest.mark.parametrize("model", ["mlp_sm", "text"])
def test_warmup_records_replay_through_the_serving_signature(tree, deploy_source, model):
    import tensorflow as tf

    version = os.path.join(tree[0], model, "1")
    logs = _records(os.path.join(version, "assets.extra", "tf_serving_warmup_requests"))
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "predict_log"]
    signature = tf.saved_model.load(version).signatures["serving_default"]
    wanted = signature.structured_input_signature[1]
    sizes = []
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == model
        assert request.model_spec.signature_name == "serving_default"
        assert sorted(request.inputs) == sorted(wanted)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        for k, spec in wanted.items():
            assert tf.as_dtype(inputs[k].dtype if inputs[k].dtype != object else tf.string) == spec.dtype
            assert spec.shape.is_compatible_with(inputs[k].shape)
        outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
        rows = next(iter(inputs.values())).shape[0]
        sizes.append(rows)
        if model == "mlp_sm":
            (x,), (y,) = inputs.values(), outputs.values()
            np.testing.assert_allclose(y.numpy(), deploy_source.expected("mlp_sm", x),
                                       rtol=1e-5, atol=1e-6)
        assert all(o.shape[0] == rows for o in outputs.values())
    assert sizes == [1, 4]


def _batching_parameters():
    """TF-Serving's BatchingParameters, from its published .proto's field numbers."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import wrappers_pb2

    file = descriptor_pb2.FileDescriptorProto(
        name="kerasexport_test_session_bundle_config.proto", package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"], syntax="proto3")
    message = file.message_type.add(name="BatchingParameters")
    for name, number, kind in (("max_batch_size", 1, "Int64Value"), ("batch_timeout_micros", 2, "Int64Value"),
                               ("max_enqueued_batches", 3, "Int64Value"),
                               ("num_batch_threads", 4, "Int64Value"),
                               ("thread_pool_name", 5, "StringValue")):
        message.field.add(name=name, number=number, label=1, type=11, type_name=f".google.protobuf.{kind}")
    message.field.add(name="allowed_batch_sizes", number=6, label=3, type=3)
    message.field.add(name="pad_variable_length_inputs", number=7, label=1, type=8)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def test_batching_parameters_parse(tree):
    from google.protobuf import text_format

    with open(os.path.join(tree[0], "batching_parameters.txt")) as f:
        parameters = text_format.Parse(f.read(), _batching_parameters()())
    assert parameters.max_batch_size.value == 4
    assert parameters.batch_timeout_micros.value == 300
    assert parameters.num_batch_threads.value == 2
