"""`write_repository(engine="kserve")`: the manifest parsed with PyYAML and checked against
KServe's InferenceService schema (the fields below are encoded from kserve/kserve's published
CRD, config/crd/full/serving.kserve.io_inferenceservices.yaml, and its runtimes in
config/runtimes/; the `kserve` Python package was not installed for this), and each model's storage laid out as its
runtime mounts it (a Triton repository; OpenVINO Model Server's <v>/model.xml)."""

import os
import re

import pytest

import deploy_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend

DNS_1123_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # KServe: must start with a letter
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[mkMGTPE])?$")
PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}
# Runtime -> model formats it lists (config/runtimes/kserve-tritonserver.yaml, kserve-ovms.yaml).
RUNTIMES = {"kserve-tritonserver": {"tensorflow", "onnx", "pytorch", "triton", "tensorrt"},
            "kserve-ovms": {"openvino", "onnx", "tensorflow", "paddle"}}
PREDICTOR_MODEL_FIELDS = {"modelFormat", "runtime", "protocolVersion", "storageUri", "resources",
                          "storage", "env", "args", "command", "image", "name", "ports"}


@pytest.fixture(scope="module")
def tree(deploy_source, tmp_path_factory):
    import kerasexport

    before = deploy_kit.tree_digest(deploy_source.root)
    out = str(tmp_path_factory.mktemp("kserve") / "models")
    report = kerasexport.write_repository(deploy_source.root, out, engine="kserve",
                                          storage_uri="s3://bucket/models/", cpu_request="1",
                                          cpu_limit="2", memory_request="1Gi", memory_limit="2Gi")
    assert deploy_kit.tree_digest(deploy_source.root) == before
    return out, report


@pytest.fixture(scope="module")
def services(tree):
    import yaml

    with open(os.path.join(tree[0], "inferenceservices.yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def test_one_inference_service_per_model_in_kserves_schema(tree, services):
    out, report = tree
    assert sorted(report.models) == ["mlp", "mlp_ov", "mlp_sm", "text", "two"]
    assert any("mlp_lite" in s for s in report.skipped)
    by_uri = {}
    for service in services:
        assert service["apiVersion"] == "serving.kserve.io/v1beta1"
        assert service["kind"] == "InferenceService"
        name = service["metadata"]["name"]
        assert isinstance(name, str) and DNS_1123_LABEL.match(name) and len(name) <= 63
        model = service["spec"]["predictor"]["model"]
        assert set(model) <= PREDICTOR_MODEL_FIELDS
        assert isinstance(model["modelFormat"]["name"], str)
        assert model["modelFormat"]["name"] in RUNTIMES[model["runtime"]]
        assert model["protocolVersion"] in PROTOCOLS
        assert model["protocolVersion"] == "v2"
        for kind in ("requests", "limits"):
            assert set(model["resources"][kind]) == {"cpu", "memory"}
            assert all(QUANTITY.match(v) for v in model["resources"][kind].values())
        by_uri[model["storageUri"]] = (name, model["modelFormat"]["name"], model["runtime"])
    assert by_uri == {
        "s3://bucket/models/mlp": ("mlp", "onnx", "kserve-tritonserver"),
        "s3://bucket/models/mlp_ov": ("mlp-ov", "openvino", "kserve-ovms"),
        "s3://bucket/models/mlp_sm": ("mlp-sm", "tensorflow", "kserve-tritonserver"),
        "s3://bucket/models/text": ("text", "tensorflow", "kserve-tritonserver"),
        "s3://bucket/models/two": ("two", "onnx", "kserve-tritonserver"),
    }


def test_storage_is_what_each_runtime_mounts(tree):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    out = tree[0]
    for model in ("mlp", "mlp_sm", "text", "two"):  # tritonserver --model-store=/mnt/models
        assert os.listdir(os.path.join(out, model)) == [model]
        with open(os.path.join(out, model, model, "config.pbtxt")) as f:
            config = text_format.Parse(f.read(), model_config_pb2.ModelConfig())
        assert config.name == model
    assert os.path.isfile(os.path.join(out, "mlp", "mlp", "2", "model.onnx"))
    # OpenVINO Model Server --model_path=/mnt/models: numbered versions of model.xml + model.bin
    assert sorted(os.listdir(os.path.join(out, "mlp_ov", "1"))) == ["model.bin", "model.xml"]


def test_service_names_are_dns_labels_and_distinct():
    from kerasexport.deploy import kserve

    taken = set()
    for model, want in (("My_Model", "my-model"), ("my.model", "my-model-2"), ("1st", "model-1st"),
                        ("__", "model"), ("x" * 80, "x" * 63)):
        name = kserve.service_name(model, taken)
        taken.add(name)
        assert name == want and DNS_1123_LABEL.match(name)
