"""`write_repository(engine="triton")`: every config.pbtxt parsed strictly into Triton's own
`ModelConfig` (tritonclient's model_config_pb2), its tensors compared with what the artifact's
runtime declares (onnxruntime, tf.saved_model, OpenVINO), and the Python-backend tree served by a
real `tritonserver` (the nvidia-pytriton wheel's) and answered through tritonclient, compared
with the Keras models."""

import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import deploy_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend
RTOL, ATOL = 1e-4, 1e-5


def parse(path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    with open(path) as f:
        return text_format.Parse(f.read(), model_config_pb2.ModelConfig())  # unknown fields raise


@pytest.fixture(scope="module")
def native(deploy_source, tmp_path_factory):
    import kerasexport

    before = deploy_kit.tree_digest(deploy_source.root)
    out = str(tmp_path_factory.mktemp("triton") / "models")
    report = kerasexport.write_repository(deploy_source.root, out, engine="triton",
                                          max_batch_size=16, max_queue_delay_us=250, instances=2)
    assert deploy_kit.tree_digest(deploy_source.root) == before
    return out, report


@pytest.fixture(scope="module")
def python_tree(deploy_source, tmp_path_factory):
    import kerasexport

    out = str(tmp_path_factory.mktemp("triton-python") / "models")
    # A long queue delay, so concurrent requests reach model.py together.
    report = kerasexport.write_repository(deploy_source.root, out, engine="triton",
                                          python_backend=True, max_queue_delay_us=50000)
    return out, report


def test_the_report_names_what_was_left_out_and_why(native):
    out, report = native
    assert sorted(report.models) == ["mlp", "mlp_ov", "mlp_sm", "text", "two"]
    assert report.models["mlp"] == (2,)  # version 1 names its tensors otherwise
    assert any("mlp_lite" in s and "LiteRT" in s for s in report.skipped)
    assert any("'mlp' version 1" in s for s in report.skipped)
    assert not os.path.exists(os.path.join(out, "mlp_lite"))
    assert sorted(os.listdir(out)) == sorted(report.models)


def test_layout_is_tritons(native):
    out, _ = native
    assert os.path.isfile(os.path.join(out, "mlp", "2", "model.onnx"))
    assert os.path.isfile(os.path.join(out, "mlp_sm", "1", "model.savedmodel", "saved_model.pb"))
    assert sorted(os.listdir(os.path.join(out, "mlp_ov", "1"))) == ["model.bin", "model.xml"]


@pytest.mark.parametrize("model, key, value", [
    ("mlp", "platform", "onnxruntime_onnx"), ("two", "platform", "onnxruntime_onnx"),
    ("mlp_sm", "platform", "tensorflow_savedmodel"), ("text", "platform", "tensorflow_savedmodel"),
    ("mlp_ov", "backend", "openvino"),
])
def test_config_parses_into_tritons_model_config(native, model, key, value):
    from tritonclient.grpc import model_config_pb2 as pb

    config = parse(os.path.join(native[0], model, "config.pbtxt"))
    assert config.name == model and getattr(config, key) == value
    assert config.max_batch_size == 16
    assert config.dynamic_batching.max_queue_delay_microseconds == 250
    (group,) = config.instance_group
    assert group.kind == pb.ModelInstanceGroup.KIND_CPU and group.count == 2
    (warmup,) = config.model_warmup
    assert warmup.batch_size == 1
    assert sorted(warmup.inputs) == sorted(i.name for i in config.input)
    for i in config.input:
        sample = warmup.inputs[i.name]
        assert sample.data_type == i.data_type and sample.zero_data
        assert list(sample.dims) == [1 if d == -1 else d for d in i.dims]


def _declared(config):
    from tritonclient.grpc import model_config_pb2 as pb

    def one(t):
        dims = [] if t.HasField("reshape") else list(t.dims)
        return t.name, pb.DataType.Name(t.data_type), [-1] + dims
    return [one(t) for t in config.input], [one(t) for t in config.output]


def test_onnx_tensors_are_onnxruntimes(native):
    import onnxruntime as ort

    types = {"tensor(float)": "TYPE_FP32", "tensor(int64)": "TYPE_INT64", "tensor(string)": "TYPE_STRING"}
    for model, version in (("mlp", 2), ("two", 1)):
        config = parse(os.path.join(native[0], model, "config.pbtxt"))
        session = ort.InferenceSession(os.path.join(native[0], model, str(version), "model.onnx"),
                                       providers=["CPUExecutionProvider"])

        def runtime(nodes):
            return sorted((n.name, types[n.type], [d if isinstance(d, int) else -1 for d in n.shape])
                          for n in nodes)
        inputs, outputs = _declared(config)
        assert sorted(inputs) == runtime(session.get_inputs())
        assert sorted(outputs) == runtime(session.get_outputs())


def test_saved_model_tensors_are_the_serving_signatures(native):
    import tensorflow as tf

    types = {tf.float32: "TYPE_FP32", tf.int32: "TYPE_INT32", tf.int64: "TYPE_INT64",
             tf.string: "TYPE_STRING"}
    for model in ("mlp_sm", "text"):
        config = parse(os.path.join(native[0], model, "config.pbtxt"))
        loaded = tf.saved_model.load(os.path.join(native[0], model, "1", "model.savedmodel"))
        signature = loaded.signatures["serving_default"]

        def runtime(specs):
            return sorted((k, types[s.dtype], [-1 if d is None else d for d in s.shape.as_list()])
                          for k, s in specs.items())
        inputs, outputs = _declared(config)
        assert sorted(inputs) == runtime(signature.structured_input_signature[1])
        assert sorted(outputs) == runtime(signature.structured_outputs)


def test_openvino_tensors_are_openvinos(native):
    import openvino as ov

    config = parse(os.path.join(native[0], "mlp_ov", "config.pbtxt"))
    model = ov.Core().read_model(os.path.join(native[0], "mlp_ov", "1", "model.xml"))
    types = {"f32": "TYPE_FP32"}

    def runtime(ports):
        return sorted((p.get_any_name(), types[p.get_element_type().get_type_name()],
                       [d.get_length() if d.is_static else -1 for d in p.get_partial_shape()])
                      for p in ports)
    inputs, outputs = _declared(config)
    assert sorted(inputs) == runtime(model.inputs)
    assert [o[1:] for o in outputs] == [o[1:] for o in runtime(model.outputs)]
    assert {o[0] for o in outputs} <= {n for p in model.outputs for n in p.get_names()}


def test_a_fixed_batch_is_declared_without_batching(deploy_source, tmp_path):
    import kerasexport

    src = tmp_path / "fixed.onnx"
    kerasexport.export(deploy_source.models["mlp"], str(src), format="onnx",
                       input_signature=[kerasexport.spec((2, 4))])
    kerasexport.write_repository(str(src), str(tmp_path / "out"), engine="triton")
    config = parse(tmp_path / "out" / "fixed" / "config.pbtxt")
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [2, 4]


def test_python_backend_takes_every_format(python_tree):
    out, report = python_tree
    assert sorted(report.models) == ["mlp", "mlp_lite", "mlp_ov", "mlp_sm", "text", "two"]
    assert report.models["mlp"] == (1, 2) and not report.skipped
    for model in report.models:
        config = parse(os.path.join(out, model, "config.pbtxt"))
        assert config.backend == "python"
        for version in report.models[model]:
            assert os.path.isfile(os.path.join(out, model, str(version), "model.py"))


# A real tritonserver ----


def _tritonserver():
    """(binary, backend directory maker, environment), or a reason to skip."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")  # found, not imported: only its binaries are used
    if spec is None or not spec.submodule_search_locations:
        return "nvidia-pytriton (the wheel carrying tritonserver) is not installed"
    package = list(spec.submodule_search_locations)[0]
    home = os.path.join(package, "tritonserver")
    binary = os.path.join(home, "bin", "tritonserver")
    stub = os.path.join(home, "python_backend_stubs", f"{sys.version_info.major}.{sys.version_info.minor}",
                        "triton_python_backend_stub")
    if not (os.path.isfile(binary) and os.path.isfile(stub)):
        return "the nvidia-pytriton wheel holds no tritonserver and Python stub for this Python"
    return home, binary, stub, os.path.join(os.path.dirname(package), "nvidia_pytriton.libs")


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tritonserver(python_tree, tmp_path_factory):
    found = _tritonserver()
    if isinstance(found, str):
        pytest.skip(found)
    home, binary, stub, libs = found
    backends = tmp_path_factory.mktemp("backends")
    (backends / "python").mkdir()
    for path in (os.path.join(home, "backends", "python", "libtriton_python.so"),
                 os.path.join(home, "backends", "python", "triton_python_backend_utils.py"), stub):
        os.symlink(path, backends / "python" / os.path.basename(path))
    env = dict(os.environ, LD_LIBRARY_PATH=libs,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "inst", "python")))
    port = _port()
    log = open(tmp_path_factory.mktemp("triton-log") / "tritonserver.log", "w")
    process = subprocess.Popen(
        [binary, f"--model-repository={python_tree[0]}", f"--backend-directory={backends}",
         "--http-address=127.0.0.1", f"--http-port={port}", "--allow-grpc=false",
         "--allow-metrics=false"], env=env, stdout=log, stderr=subprocess.STDOUT)
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60)
    client.address = f"127.0.0.1:{port}"  # for tests that open clients of their own
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.flush()
                pytest.skip(f"tritonserver could not start here (exit {process.returncode}): "
                            + open(log.name).read()[-400:])
            try:
                if client.is_server_ready():
                    break
            except Exception:
                pass
            time.sleep(1)
        else:
            pytest.fail("tritonserver did not become ready in 240 s: " + open(log.name).read()[-2000:])
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _infer(client, model, arrays, outputs, version=""):
    import tritonclient.http as httpclient
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, array in arrays.items():
        i = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        i.set_data_from_numpy(array)
        inputs.append(i)
    result = client.infer(model, inputs, model_version=version,
                          outputs=[httpclient.InferRequestedOutput(n) for n in outputs])
    return {n: result.as_numpy(n) for n in outputs}


def _names(out, model):
    config = parse(os.path.join(out, model, "config.pbtxt"))
    return [i.name for i in config.input], [o.name for o in config.output]


@pytest.mark.parametrize("model", ["mlp", "mlp_sm", "mlp_ov", "mlp_lite"])
def test_tritonserver_answers_as_the_model_does(tritonserver, python_tree, deploy_source, model):
    inputs, outputs = _names(python_tree[0], model)
    x = deploy_kit.rows(1 if model == "mlp_lite" else 5, 4, seed=7)
    got = _infer(tritonserver, model, {inputs[0]: x}, outputs)
    np.testing.assert_allclose(got[outputs[0]], deploy_source.expected(model, x), rtol=RTOL, atol=ATOL)


def test_tritonserver_serves_both_versions(tritonserver, python_tree, deploy_source):
    inputs, outputs = _names(python_tree[0], "mlp")
    x = deploy_kit.rows(3, 4, seed=8)
    for version, name in (("1", "mlp_v1"), ("2", "mlp")):
        got = _infer(tritonserver, "mlp", {inputs[0]: x}, outputs, version=version)
        np.testing.assert_allclose(got[outputs[0]], deploy_source.expected(name, x), rtol=RTOL, atol=ATOL)


def test_tritonserver_merges_concurrent_requests_and_splits_the_answers(tritonserver, python_tree,
                                                                         deploy_source):
    import concurrent.futures

    inputs, outputs = _names(python_tree[0], "mlp_ov")
    xs = [deploy_kit.rows(n, 4, seed=20 + n) for n in (1, 2, 3, 1, 2, 3)]
    before = tritonserver.get_inference_statistics("mlp_ov")["model_stats"][0]
    import tritonclient.http as httpclient

    def one(x):  # a client per thread: tritonclient's HTTP client is not shared across threads
        client = httpclient.InferenceServerClient(tritonserver.address, network_timeout=60)
        try:
            return _infer(client, "mlp_ov", {inputs[0]: x}, outputs)
        finally:
            client.close()

    with concurrent.futures.ThreadPoolExecutor(len(xs)) as pool:
        answers = list(pool.map(one, xs, timeout=120))
    for x, got in zip(xs, answers):
        np.testing.assert_allclose(got[outputs[0]], deploy_source.expected("mlp_ov", x), rtol=RTOL, atol=ATOL)
    after = tritonserver.get_inference_statistics("mlp_ov")["model_stats"][0]
    requests = int(after["inference_count"]) - int(before["inference_count"])
    executions = int(after["execution_count"]) - int(before["execution_count"])
    assert requests == sum(len(x) for x in xs)  # Triton counts rows
    assert executions < len(xs)  # some requests ran together, through the merged path


def test_tritonserver_runs_dict_inputs(tritonserver, python_tree, deploy_source):
    a, b = deploy_kit.rows(4, 3, seed=9), deploy_kit.rows(4, 5, seed=10)
    got = _infer(tritonserver, "two", {"a": a, "b": b}, ["first", "second"])
    want = deploy_source.expected("two", {"a": a, "b": b})
    for name in ("first", "second"):
        np.testing.assert_allclose(got[name], want[name], rtol=RTOL, atol=ATOL)
    # Not tried here: the `text` model's BYTES tensors. This wheel's Python stub is built for
    # NumPy < 2 and its process dies on a BYTES input with NumPy 2 in the environment, before
    # model.py sees the request (a bare model.py that only reads the input dies the same way).
