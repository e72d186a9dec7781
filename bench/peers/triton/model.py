"""Triton's Python-backend model for bench/peers.py: the ONNX file on onnxruntime.

The file is named by the model configuration's `onnx_path` parameter; the
session runs on one thread, as every server in the comparison does. Triton's
dynamic batcher hands `execute` several requests; they run as one batch.
Inputs cross by DLPack; outputs by DLPack under NumPy 2 (where `as_numpy()`
and `pb_utils.Tensor(name, array)` misread buffers), as PyTriton itself does
under NumPy 1 (PyTriton 0.7.0 pins numpy<2, and the backend's `from_dlpack`
refuses NumPy 1's capsules).
"""

import json

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        path = config["parameters"]["onnx_path"]["string_value"]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(path, sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        # pb_utils.Tensor exists once the stub runs, not at import.
        numpy2 = int(np.__version__.split(".")[0]) >= 2
        self.tensor = pb_utils.Tensor.from_dlpack if numpy2 else pb_utils.Tensor

    def execute(self, requests):
        arrays = [np.from_dlpack(pb_utils.get_input_tensor_by_name(r, self.input)) for r in requests]
        batch = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        results = self.session.run(self.outputs, {self.input: batch})
        responses, start = [], 0
        for array in arrays:
            stop = start + len(array)
            tensors = [self.tensor(name, np.ascontiguousarray(result[start:stop]))
                       for name, result in zip(self.outputs, results)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start = stop
        return responses
