"""MLServer's launcher for bench/peers.py: settings files and the `mlserver start` command.

One model on bench/peers/mlserver_runtime.py with adaptive batching (up to 32
rows, waiting at most 1 ms for them); inference in the server's own process
(`parallel_workers: 0`: with one core a worker process would only add a hop);
no metrics server (Triton's is off too).
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "venv-mlserver")


def missing():
    if not os.path.exists(os.path.join(VENV, "bin", "mlserver")):
        return "no bench/peers/venv-mlserver (run bench/peers/setup.sh mlserver)"
    return None


def command(name, onnx_path, http_port, grpc_port, work, max_batch=32):
    folder = os.path.join(work, "mlserver")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "settings.json"), "w") as f:
        json.dump({"host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port,
                   "parallel_workers": 0, "metrics_endpoint": None, "debug": False}, f)
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump({"name": name, "implementation": "mlserver_runtime.OnnxRuntime",
                   "parameters": {"uri": os.path.abspath(onnx_path)},
                   "max_batch_size": max_batch, "max_batch_time": 0.001}, f)
    env = dict(os.environ, PYTHONPATH=HERE)
    env["PATH"] = os.path.join(VENV, "bin") + ":" + env["PATH"]
    return [os.path.join(VENV, "bin", "mlserver"), "start", folder], env
