"""Triton's launcher for bench/peers.py: a model repository and the tritonserver command.

The repository holds one Python-backend model (bench/peers/triton/model.py)
running the ONNX file on onnxruntime, with Triton's dynamic batcher and one
instance. The server is the C++ `tritonserver` from PyTriton's wheel, prepared
by bench/peers/setup.sh in bench/peers/venv-triton/tritonserver.
"""

import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "venv-triton")

_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: {max_batch}
input [ {{ name: "{input}" data_type: TYPE_FP32 dims: [ {input_dims} ] }} ]
output [ {outputs} ]
dynamic_batching {{ }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "onnx_path" value: {{ string_value: "{path}" }} }}
"""


def missing():
    """Why this peer cannot run here, or None."""
    if not os.path.exists(os.path.join(VENV, "tritonserver", "backends", "python", "triton_python_backend_stub")):
        return "no bench/peers/venv-triton (run bench/peers/setup.sh triton)"
    return None


def command(name, onnx_path, http_port, grpc_port, work, max_batch=32):
    """(argv, env) that start tritonserver serving `onnx_path` as model `name`."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    (input_,) = session.get_inputs()
    outputs = ", ".join(
        f'{{ name: "{o.name}" data_type: TYPE_FP32 dims: [ {", ".join(str(d) for d in o.shape[1:])} ] }}'
        for o in session.get_outputs())
    repo = os.path.join(work, "triton-repository")
    version = os.path.join(repo, name, "1")
    os.makedirs(version, exist_ok=True)
    shutil.copy(os.path.join(HERE, "triton", "model.py"), os.path.join(version, "model.py"))
    with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
        f.write(_CONFIG.format(name=name, max_batch=max_batch, input=input_.name,
                               input_dims=", ".join(str(d) for d in input_.shape[1:]), outputs=outputs,
                               path=os.path.abspath(onnx_path)))
    server = os.path.join(VENV, "tritonserver")
    env = dict(os.environ)
    libs = os.path.join(VENV, "lib", "python3.11", "site-packages", "nvidia_pytriton.libs")
    env["LD_LIBRARY_PATH"] = libs + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["PATH"] = os.path.join(VENV, "bin") + ":" + env["PATH"]  # the stub runs the first python3
    env.pop("PYTHONPATH", None)
    argv = [os.path.join(server, "bin", "tritonserver"), "--model-repository", repo,
            "--backend-directory", os.path.join(server, "backends"),
            "--cache-directory", os.path.join(server, "caches"),
            "--http-address", "127.0.0.1", "--http-port", str(http_port),
            "--grpc-address", "127.0.0.1", "--grpc-port", str(grpc_port),
            "--allow-metrics", "false", "--allow-sagemaker", "false", "--allow-vertex-ai", "false",
            "--log-verbose", "0", "--log-info", "false", "--strict-readiness", "true"]
    return argv, env
