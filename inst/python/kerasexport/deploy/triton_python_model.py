"""A Triton Python-backend model that runs a kerasexport artifact: copied as ``<model>/<v>/model.py``.

Not imported by kerasexport: Triton's Python stub loads this file. It
needs kerasexport importable in the stub's Python (installed in the
image's Python, or packed as the backend's ``EXECUTION_ENV_PATH``). The
artifact beside it is named by the configuration's
``kerasexport_artifact`` parameter and opened with `kerasexport.load()`;
inputs are passed in the configuration's order (the artifact's), so an
older version naming its tensors otherwise runs too. Triton's batched
requests are concatenated along the batch dimension,
run once, and split back.

Tensors cross the stub by DLPack (``np.from_dlpack`` in,
``pb_utils.Tensor.from_dlpack`` out): with NumPy 2, ``as_numpy()`` and
``pb_utils.Tensor(name, array)`` misread the stub's buffers. Byte strings
(``TYPE_STRING``) have no DLPack form and go through ``as_numpy()``.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

import kerasexport


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        name = config["parameters"]["kerasexport_artifact"]["string_value"]
        path = os.path.join(args["model_repository"], args["model_version"], name)
        self.artifact = kerasexport.load(path)
        self.endpoint = self.artifact.endpoint()
        self.batching = int(config.get("max_batch_size", 0)) > 0
        # The configuration's names, in the artifact's order: an older version may name them otherwise.
        self.inputs = [(i["name"], i["data_type"] == "TYPE_STRING") for i in config["input"]]
        self.outputs = [(o["name"], pb_utils.triton_string_to_numpy(o["data_type"]))
                        for o in config["output"]]

    def execute(self, requests):
        inputs = [[_numpy(pb_utils.get_input_tensor_by_name(request, name), strings)
                   for name, strings in self.inputs] for request in requests]
        if self.batching and len(requests) > 1 and _stackable(inputs):
            rows = [arrays[0].shape[0] for arrays in inputs]
            merged = [np.concatenate(column) for column in zip(*inputs)]
            try:
                outputs = self._run(merged)
            except Exception as exc:  # every request of the batch gets the error
                return [_error(exc) for _ in requests]
            responses, start = [], 0
            for n in rows:
                responses.append(self._response([np.array(o[start:start + n]) for o in outputs]))
                start += n
            return responses
        return [self._response(arrays, run=True) for arrays in inputs]

    def _run(self, arrays):
        result = self.artifact.predict(list(arrays))
        if not isinstance(result, dict):
            return [np.asarray(result)]
        return [np.asarray(result[t.name]) for t in self.endpoint.outputs]

    def _response(self, arrays, run=False):
        """One request's response: `arrays` are its outputs (with `run`: its inputs, run first), or its error."""
        try:
            outputs = self._run(arrays) if run else arrays
            tensors = []
            for (name, dtype), array in zip(self.outputs, outputs):
                if dtype == np.object_:
                    tensors.append(pb_utils.Tensor(name, np.asarray(array, dtype=object)))
                else:
                    tensors.append(_tensor(name, np.ascontiguousarray(array, dtype=dtype)))
        except Exception as exc:  # a response for every request, whatever fails
            return _error(exc)
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def finalize(self):
        self.artifact = None


def _numpy(tensor, strings):
    if strings:
        return tensor.as_numpy()
    return np.array(np.from_dlpack(tensor), copy=True)


def _tensor(name, array):
    """A Triton tensor holding `array`, by DLPack where the stub takes it.

    This stub's DLPack import sometimes refuses an array ("PyCapsule_GetPointer
    called with incorrect name": seen on warm-up and on merged batches); the
    array is then handed over as a NumPy array.
    """
    try:
        return pb_utils.Tensor.from_dlpack(name, array)
    except ValueError:
        return pb_utils.Tensor(name, array)


def _stackable(inputs):
    first = inputs[0]
    return all(len(arrays) == len(first) and all(
        a.ndim == b.ndim and a.ndim > 0 and a.shape[1:] == b.shape[1:] and a.dtype == b.dtype
        for a, b in zip(arrays, first)) for arrays in inputs)


def _error(exc):
    message = " ".join(str(exc).split()) or type(exc).__name__
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message[:500]))
