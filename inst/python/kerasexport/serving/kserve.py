"""KServe v2 (Open Inference Protocol) documents other than inference: server and model metadata.

Follows kserve's ``docs/predict-api/v2/required_api.md`` (server and model
metadata). Triton's extensions (configuration, statistics, repository
index) are `serving.triton`'s; inference bodies are `kerasexport.codec.kserve`'s.
"""

from kerasexport.codec import tensors

SERVER_NAME = "kerasexport"
EXTENSIONS = ("binary_tensor_data", "model_repository", "model_configuration", "statistics")
# Triton's names for the formats' runtimes; any other format is named as it is.
PLATFORMS = {"tf_saved_model": "tensorflow_savedmodel", "onnx": "onnxruntime_onnx",
             "openvino": "openvino", "litert": "tensorflow_tflite", "torch": "pytorch_exported_program"}


def server_metadata(version):
    """``$metadata_server_response``."""
    return {"name": SERVER_NAME, "version": version, "extensions": list(EXTENSIONS)}


def model_metadata(model, served, available):
    """``$metadata_model_response`` of a served version's default endpoint.

    Args:
        model: `str`, the model's name.
        served: the `Version` answering.
        available: the model's available version numbers.
    """
    artifact = served.artifact
    endpoint = artifact.endpoint()
    return {
        "name": model,
        "versions": [str(v) for v in available],
        "platform": PLATFORMS.get(artifact.format, artifact.format),
        "inputs": [_tensor_metadata(t) for t in endpoint.inputs],
        "outputs": [_tensor_metadata(t) for t in endpoint.outputs],
    }


def _tensor_metadata(info):
    shape = [-1] if info.shape is None else [-1 if d is None else d for d in info.shape]
    return {"name": info.name, "datatype": tensors.v2_datatype(info.dtype), "shape": shape}
