"""MLServer's custom runtime for bench/peers.py: the ONNX file on onnxruntime, one thread.

MLServer's adaptive batcher merges requests along the first axis before
`predict` and splits the answer after it.
"""

import onnxruntime
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxRuntime(MLModel):
    async def load(self):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(self.settings.parameters.uri, sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        self._input_name = self.session.get_inputs()[0].name
        self._output_names = [o.name for o in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        results = self.session.run(self._output_names, {self._input_name: x})
        return InferenceResponse(
            model_name=self.name, id=payload.id,
            outputs=[NumpyCodec.encode_output(name=n, payload=r) for n, r in zip(self._output_names, results)])
