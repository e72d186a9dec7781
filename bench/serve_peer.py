"""The peer for bench/serve.py: what a user would write instead of kerasexport serve.

A minimal Starlette + onnxruntime endpoint answering TF-Serving's row format,
run by uvicorn as ours is. Usage: ``python bench/serve_peer.py MODEL.onnx``;
prints ``port N`` once it listens.
"""

import os
import socket
import sys

import numpy as np
import onnxruntime
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

# kerasexport's session rule (formats/onnx.py): as many intra-op threads as the CPUs this
# process may use when that is fewer than the machine's; left alone, onnxruntime pins a
# thread to a CPU outside `taskset` (bench/peers.py pins the server to core 0).
options = onnxruntime.SessionOptions()
if len(os.sched_getaffinity(0)) < (os.cpu_count() or 1):
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
session = onnxruntime.InferenceSession(sys.argv[1], sess_options=options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name


async def predict(request):
    body = await request.json()
    x = np.asarray(body["instances"], dtype=np.float32)
    y = session.run(None, {input_name: x})[0]
    return JSONResponse({"predictions": y.tolist()})


app = Starlette(routes=[Route("/v1/models/{name}:predict", predict, methods=["POST"])])

if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"port {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
