"""KServe's peer for bench/peers.py: kserve.ModelServer with a custom Model on onnxruntime.

Run in bench/peers/venv-kserve: ``python kserve_server.py NAME MODEL.onnx
HTTP_PORT GRPC_PORT``. Answers V1 (`:predict`, TF-Serving's row format), V2
REST (JSON and binary tensors) and V2 gRPC; one worker, one onnxruntime thread;
no access or latency log line per request (kerasexport runs `--quiet`).
KServe's ModelServer has no batcher of its own (KServe batches in a sidecar).
When imported by the driver, `command()` builds that command line.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "venv-kserve")


def missing():
    if not os.path.exists(os.path.join(VENV, "bin", "python")) or not os.path.isdir(
            os.path.join(VENV, "lib", "python3.11", "site-packages", "kserve")):
        return "no bench/peers/venv-kserve (run bench/peers/setup.sh kserve)"
    return None


def command(name, onnx_path, http_port, grpc_port, work, max_batch=32):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return [os.path.join(VENV, "bin", "python"), os.path.abspath(__file__), name, os.path.abspath(onnx_path),
            str(http_port), str(grpc_port)], env


def serve(name, path, http_port, grpc_port):
    import logging

    import numpy as np
    import onnxruntime
    from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

    class OnnxModel(Model):
        def __init__(self):
            super().__init__(name)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(path, sess_options=options,
                                                        providers=["CPUExecutionProvider"])
            self.input = self.session.get_inputs()[0].name
            self.outputs = [o.name for o in self.session.get_outputs()]
            self.ready = True

        def predict(self, payload, headers=None, response_headers=None):
            if isinstance(payload, InferRequest):
                x = payload.inputs[0].as_numpy()
                results = self.session.run(self.outputs, {self.input: x})
                return InferResponse(model_name=name, response_id=payload.id or "", infer_outputs=[
                    InferOutput(name=n, shape=list(r.shape), datatype="FP32", data=r)
                    for n, r in zip(self.outputs, results)])
            x = np.asarray(payload["instances"], dtype=np.float32)
            return {"predictions": self.session.run(self.outputs, {self.input: x})[0].tolist()}

    logging.getLogger("uvicorn.access").addFilter(lambda record: False)
    ModelServer(http_port=http_port, grpc_port=grpc_port, workers=1, enable_docs_url=False,
                enable_latency_logging=False).start([OnnxModel()])


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
