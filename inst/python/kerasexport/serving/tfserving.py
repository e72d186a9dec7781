"""TensorFlow Serving's REST API documents other than predict: model status and metadata.

Follows TF-Serving's ``api_rest.md``: model status
(``GetModelStatusResponse``) and model metadata (``signature_def``). The
``:predict`` bodies are `kerasexport.codec.tfserving`'s.
"""

from kerasexport import dtypes
from kerasexport.serving.repository import AVAILABLE, FAILED, UNLOADING

PREDICT_METHOD = "tensorflow/serving/predict"


def status(versions):
    """``GetModelStatusResponse`` for `Version`s (TF-Serving's states and status)."""
    return {"model_version_status": [_version_status(v) for v in versions]}


def _version_status(version):
    state = {AVAILABLE: "AVAILABLE", FAILED: "END", UNLOADING: "UNLOADING"}.get(version.state, "END")
    failed = version.state == FAILED
    return {
        "version": str(version.number),
        "state": state,
        "status": {"error_code": "UNKNOWN" if failed else "OK",
                   "error_message": version.error if failed else ""},
    }


def metadata(model, version):
    """``GetModelMetadataResponse``: every endpoint as a ``signature_def``.

    Beside TF-Serving's ``signature_def``, ``metadata.kerasexport`` carries
    the artifact's own description (format, size, default endpoint), which
    `load_artifact(<url>)` in R prints as for a local artifact.
    """
    artifact = version.artifact
    signatures = {name: _signature_def(e) for name, e in artifact.endpoints.items()}
    described = artifact.describe()
    described.pop("path", None)
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version.number)},
        "metadata": {"signature_def": {"signature_def": signatures}, "kerasexport": described},
    }


def _signature_def(endpoint):
    return {
        "inputs": {t.name: _tensor_info(t) for t in endpoint.inputs},
        "outputs": {t.name: _tensor_info(t) for t in endpoint.outputs},
        "method_name": PREDICT_METHOD,
    }


def _tensor_info(info):
    if info.shape is None:
        shape = {"dim": [], "unknown_rank": True}
    else:
        shape = {"dim": [{"size": str(-1 if d is None else d), "name": ""} for d in info.shape],
                 "unknown_rank": False}
    return {"dtype": dtypes.convert(info.dtype, "name", "tf", default="DT_INVALID"),
            "tensor_shape": shape, "name": info.name}
