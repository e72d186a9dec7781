"""`kerasexport serve` reads the engines' files: a Triton tree (each config.pbtxt's batching and
warm-up) answered through tritonclient, and TF-Serving's models.config (version policies,
version_labels and the /labels/ routes). Expected values are the Keras models' own outputs."""

import os
import shutil

import numpy as np
import pytest

import deploy_kit
import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def triton_tree(deploy_source, tmp_path_factory):
    import kerasexport

    out = str(tmp_path_factory.mktemp("serve-triton") / "models")
    kerasexport.write_repository(deploy_source.root, out, engine="triton", max_batch_size=6,
                                 max_queue_delay_us=2000)
    # Two broken models beside the good ones: a malformed config, a warm-up the model cannot take.
    for name, edit in (("broken", lambda t: t.replace("max_batch_size: 6", "max_batch_size: six")),
                       ("badwarm", lambda t: t.replace('key: "keras_tensor_', 'key: "nothing_'))):
        shutil.copytree(os.path.join(out, "mlp"), os.path.join(out, name))
        path = os.path.join(out, name, "config.pbtxt")
        with open(path) as f:
            text = edit(f.read())
        with open(path, "w") as f:
            f.write(text)
    return out


@pytest.fixture(scope="module")
def triton_server(triton_tree):
    import kerasexport

    with kerasexport.Server(triton_tree, port=0, poll_seconds=0, quiet=True, max_batch_size=32) as server:
        yield server


def test_each_config_sets_its_models_batching(triton_server):
    for model in ("mlp", "mlp_sm", "mlp_ov", "two", "text"):
        runner = triton_server.repository.get(model).runner
        assert runner._max_rows == 6 and runner._max_delay == pytest.approx(0.002), model


def test_a_config_without_dynamic_batching_merges_nothing(deploy_source, tmp_path):
    import kerasexport

    out = str(tmp_path / "models")
    kerasexport.write_repository(os.path.join(deploy_source.root, "mlp", "2", "model.onnx"), out,
                                 engine="triton")
    path = os.path.join(out, "model", "config.pbtxt")
    with open(path) as f:
        text = f.read()
    start = text.index("dynamic_batching {")
    with open(path, "w") as f:
        f.write(text[:start] + text[text.index("}", start) + 1:])
    with kerasexport.Server(out, port=0, poll_seconds=0, quiet=True) as server:
        assert server.repository.get("model").runner._max_rows == 1


def test_a_malformed_config_names_file_and_field_and_the_rest_serve(triton_server):
    client = serving_kit.Client(triton_server.url)
    try:
        status, body = client.json("GET", "/v1/models/broken")
        assert status == 200
        (version,) = body["model_version_status"]
        message = version["status"]["error_message"]
        assert "broken/config.pbtxt" in message and "max_batch_size" in message
        assert os.sep + "tmp" not in message
        status, body = client.json("GET", "/v1/models/badwarm")
        message = body["model_version_status"][0]["status"]["error_message"]
        assert "nothing_" in message  # the warm-up's input, refused by the artifact
        status, _ = client.json("GET", "/v2/models/mlp/ready")
        assert status == 200
    finally:
        client.close()


def _infer(client, model, arrays, outputs):
    import tritonclient.http as httpclient
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, array in arrays.items():
        i = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        i.set_data_from_numpy(array)
        inputs.append(i)
    result = client.infer(model, inputs, outputs=[httpclient.InferRequestedOutput(n) for n in outputs])
    return {n: result.as_numpy(n) for n in outputs}


def test_the_triton_tree_answers_as_the_models_do(triton_server, triton_tree, deploy_source):
    import tritonclient.http as httpclient
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    client = httpclient.InferenceServerClient(triton_server.url.removeprefix("http://"))
    try:
        for model in ("mlp", "mlp_sm", "mlp_ov", "two"):
            with open(os.path.join(triton_tree, model, "config.pbtxt")) as f:
                config = text_format.Parse(f.read(), model_config_pb2.ModelConfig())
            names = [i.name for i in config.input]
            if model == "two":
                x = {"a": deploy_kit.rows(3, 3, 1), "b": deploy_kit.rows(3, 5, 2)}
            else:
                x = {names[0]: deploy_kit.rows(5, 4, 3)}
            outputs = [o.name for o in config.output]
            got = _infer(client, model, x, outputs)
            want = deploy_source.expected(model, x if model == "two" else x[names[0]])
            for name in outputs:
                expected = want[name] if isinstance(want, dict) else want
                np.testing.assert_allclose(got[name], expected, rtol=RTOL, atol=ATOL)
    finally:
        client.close()


# TF-Serving's models.config ----


MODELS_CONFIG = """
model_config_list {
  config {
    name: "every"
    base_path: "/models/mlp"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "first" base_path: "mlp" model_version_policy { specific { versions: 1 } } }
  config { name: "newest" base_path: "mlp" }
  config { name: "bad" base_path: "mlp" model_version_policy { sometimes {} } }
}
"""


@pytest.fixture(scope="module")
def configured(deploy_source, tmp_path_factory):
    import kerasexport

    root = tmp_path_factory.mktemp("serve-config")
    shutil.copytree(os.path.join(deploy_source.root, "mlp"), root / "mlp")
    (root / "models.config").write_text(MODELS_CONFIG)
    with kerasexport.Server(str(root), port=0, poll_seconds=0, quiet=True,
                            model_config_file=str(root / "models.config")) as server:
        client = serving_kit.Client(server.url)
        yield client
        client.close()


def _predict(client, path, x):
    return client.json("POST", path, {"instances": x.tolist()})


@pytest.mark.parametrize("model, versions", [("every", ["2", "1"]), ("first", ["1"]), ("newest", ["2"])])
def test_version_policies(configured, model, versions):
    status, body = configured.json("GET", f"/v1/models/{model}")
    assert status == 200
    assert [v["version"] for v in body["model_version_status"]] == versions


@pytest.mark.parametrize("label, name", [("stable", "mlp_v1"), ("canary", "mlp")])
def test_labels_route_to_their_versions(configured, deploy_source, label, name):
    x = deploy_kit.rows(2, 4, 4)
    status, body = _predict(configured, f"/v1/models/every/labels/{label}:predict", x)
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["predictions"]), deploy_source.expected(name, x),
                               rtol=RTOL, atol=ATOL)
    status, body = configured.json("GET", f"/v1/models/every/labels/{label}")
    assert status == 200 and len(body["model_version_status"]) == 1
    status, body = configured.json("GET", f"/v1/models/every/labels/{label}/metadata")
    assert status == 200 and body["model_spec"]["version"] == ("1" if label == "stable" else "2")


def test_an_unknown_label_is_404_listing_the_labels(configured):
    status, body = _predict(configured, "/v1/models/every/labels/beta:predict", deploy_kit.rows(1, 4))
    assert status == 404 and "'beta'" in body["error"] and "['canary', 'stable']" in body["error"]


def test_a_version_outside_the_policy_is_not_served(configured):
    status, body = _predict(configured, "/v1/models/first/versions/2:predict", deploy_kit.rows(1, 4))
    assert status == 404


def test_a_malformed_entry_names_file_and_field_and_the_rest_serve(configured):
    status, body = configured.json("GET", "/v1/models/bad")
    assert status == 404
    assert "models.config" in body["error"] and "model_version_policy" in body["error"]
    status, _ = _predict(configured, "/v1/models/newest:predict", deploy_kit.rows(1, 4))
    assert status == 200


def test_a_file_that_does_not_parse_is_refused_with_its_line(tmp_path):
    import kerasexport

    (tmp_path / "models.config").write_text('model_config_list {\n  config { name: "x" \n')
    with pytest.raises(kerasexport.errors.ArtifactError, match=r"models.config .*ends inside a message"):
        kerasexport.Server(str(tmp_path), port=0, model_config_file=str(tmp_path / "models.config")).load()


def test_a_python_backend_tree_serves_too(deploy_source, tmp_path):
    import kerasexport

    out = str(tmp_path / "models")
    kerasexport.write_repository(deploy_source.root, out, engine="triton", python_backend=True)
    with kerasexport.Server(out, port=0, poll_seconds=0, quiet=True) as server:
        client = serving_kit.Client(server.url)
        try:
            x = deploy_kit.rows(1, 4, 5)
            for model in ("mlp_lite", "mlp_ov"):  # model.py beside the artifact is not taken for one
                status, body = _predict(client, f"/v1/models/{model}:predict", x)
                assert status == 200, body
                np.testing.assert_allclose(np.array(body["predictions"]),
                                           deploy_source.expected(model, x), rtol=RTOL, atol=ATOL)
        finally:
            client.close()


# The text format, read as protobuf reads it ----

TRICKY = """
# a comment
name: 'quo\\"ted' platform: "onnx" "runtime_onnx"
max_batch_size: 0x10   # hexadecimal
input < name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] >
input { name: "y"; data_type: TYPE_INT64, dims: 2 dims: 3 }
dynamic_batching { max_queue_delay_microseconds: 100 }
model_warmup [ { name: "w" batch_size: 2 inputs { key: "x" value { data_type: TYPE_FP32 dims: [ 4 ] random_data: true } } } ]
"""


def test_textproto_reads_what_protobufs_own_parser_reads():
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from kerasexport.serving import textproto

    config = text_format.Parse(TRICKY, model_config_pb2.ModelConfig())
    ours = textproto.parse(TRICKY)
    assert textproto.one(ours, "name") == config.name == 'quo"ted'
    assert textproto.one(ours, "platform") == config.platform
    assert textproto.one(ours, "max_batch_size") == config.max_batch_size == 16
    assert [(textproto.one(i, "name"), i["dims"]) for i in ours["input"]] == \
        [(i.name, list(i.dims)) for i in config.input]
    warmup = textproto.one(ours, "model_warmup")
    assert textproto.one(warmup, "batch_size") == config.model_warmup[0].batch_size == 2


def test_triton_config_reads_batching_and_warmup(tmp_path):
    from kerasexport.serving import triton_config

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text(TRICKY)
    config = triton_config.read(str(tmp_path / "m"))
    assert (config.max_batch_size, config.rows_per_batch, config.max_delay_ms) == (16, 16, 0.1)
    (arrays,) = config.warmup_arrays()
    assert arrays["x"].shape == (2, 4) and arrays["x"].dtype == np.float32


@pytest.mark.parametrize("text, words", [
    ("max_batch_size: -1", ["m/config.pbtxt", "'max_batch_size'", "-1"]),
    ("dynamic_batching { max_queue_delay_microseconds: 1.5 }", ["max_queue_delay_microseconds"]),
    ('model_warmup { inputs { key: "x" value { data_type: TYPE_FP32 dims: 4 input_data_file: "f" } } }',
     ["model_warmup[0].inputs[x]", "input_data_file"]),
    ("input [ { name: ", ["m/config.pbtxt", "line 1"]),
])
def test_a_malformed_triton_config_names_file_and_field(tmp_path, text, words):
    from kerasexport.serving import triton_config

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text(text)
    with pytest.raises(ValueError) as raised:
        triton_config.read(str(tmp_path / "m"))
    for word in words:
        assert word in str(raised.value), (word, str(raised.value))
    assert str(tmp_path) not in str(raised.value)
