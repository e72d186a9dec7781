"""A Triton Inference Server model repository: ``<model>/config.pbtxt`` and ``<model>/<v>/<artifact>``.

Triton's standard backends take ONNX (``platform: "onnxruntime_onnx"``,
``<v>/model.onnx``), SavedModel (``platform: "tensorflow_savedmodel"``,
``<v>/model.savedmodel/``, its ``serving_default`` signature) and OpenVINO
IR (``backend: "openvino"``, ``<v>/model.xml`` + ``model.bin``). LiteRT
and ``.pt2`` have none (Triton's PyTorch backend runs TorchScript, not
torch.export programs): with ``python_backend=True`` every format is
written as a Python-backend model instead, whose ``<v>/model.py``
(`deploy/triton_python_model.py`) opens the artifact with
`kerasexport.load()`.

The configuration is Triton's ``ModelConfig`` in protobuf text format
(triton-inference-server/common ``protobuf/model_config.proto``): the
artifact's own tensor names and types, ``max_batch_size`` > 0 with
``dims`` without the batch dimension when every tensor's first dimension
is dynamic (``-1`` for other dynamic dimensions), else 0 and full shapes;
``dynamic_batching``, ``instance_group`` on CPU and ``model_warmup``.
"""

import os
import shutil

from kerasexport import dtypes
from kerasexport.artifact import SERVING_DEFAULT

NATIVE = {
    "onnx": ("platform", "onnxruntime_onnx"),
    "tf_saved_model": ("platform", "tensorflow_savedmodel"),
    "openvino": ("backend", "openvino"),
}
PYTHON = ("backend", "python")
# How Triton names an artifact in a version directory, per format.
FILE_NAMES = {
    "onnx": "model.onnx",
    "tf_saved_model": "model.savedmodel",
    "openvino": "model.xml",
    "litert": "model.tflite",
    "torch": "model.pt2",
}
PYTHON_MODEL = "model.py"
ARTIFACT_PARAMETER = "kerasexport_artifact"
_WHY_NOT = {
    "litert": "Triton's standard backends have none for LiteRT (.tflite)",
    "torch": "Triton's PyTorch backend runs TorchScript, not torch.export programs (.pt2)",
}
_MODEL_SOURCE = os.path.join(os.path.dirname(__file__), "triton_python_model.py")


def refusal(version, python_backend=False):
    """Why Triton cannot take `version` (a `source.Version`), or `None`."""
    if not python_backend and version.format not in NATIVE:
        return (_WHY_NOT.get(version.format, f"Triton has no backend for {version.format}")
                + "; pass --python-backend (python_backend=True) to serve it through "
                "kerasexport in Triton's Python backend")
    if version.format == "tf_saved_model" and not python_backend and \
            SERVING_DEFAULT not in version.endpoints:
        return "Triton's TensorFlow backend calls the serving_default signature, which it lacks"
    if any(t.shape is None for t in (*version.endpoint.inputs, *version.endpoint.outputs)):
        return "a tensor has an unknown rank, which a Triton configuration cannot declare"
    bad = [t.name for t in (*version.endpoint.inputs, *version.endpoint.outputs)
           if dtypes.find(t.dtype) is None]
    if bad:
        return f"tensors {bad} have types Triton does not know"
    return None


def batchable(endpoint):
    """Whether every input and output has a dynamic first (batch) dimension."""
    return all(t.shape and t.shape[0] is None for t in (*endpoint.inputs, *endpoint.outputs))


def write_model(directory, name, versions, options, python_backend=False):
    """Write one model: ``directory/config.pbtxt`` and a directory per version.

    Args:
        directory: the model's directory (created).
        name: the model's name, as Triton will serve it.
        versions: `source.Version`s of this model, ascending; the config
            describes the latest's default endpoint.
        options: `deploy.Options`.
        python_backend: `bool`, write a Python-backend model.
    """
    os.makedirs(directory)
    for version in versions:
        version_dir = os.path.join(directory, str(version.number))
        os.makedirs(version_dir)
        _copy_artifact(version, os.path.join(version_dir, FILE_NAMES[version.format]))
        if python_backend:
            shutil.copyfile(_MODEL_SOURCE, os.path.join(version_dir, PYTHON_MODEL))
    latest = versions[-1]
    with open(os.path.join(directory, "config.pbtxt"), "w") as f:
        f.write(config_text(name, latest, options, python_backend,
                            several_versions=len(versions) > 1))


def config_text(name, version, options, python_backend=False, several_versions=False):
    """The ``config.pbtxt`` of a model whose latest version is `version`."""
    endpoint = version.endpoint
    batching = batchable(endpoint) and options.max_batch_size > 0
    key, value = PYTHON if python_backend else NATIVE[version.format]
    lines = [f"name: {_quote(name)}", f"{key}: {_quote(value)}",
             f"max_batch_size: {options.max_batch_size if batching else 0}"]
    if several_versions:
        lines.append("version_policy: { all: {} }")
    for kind, tensors in (("input", endpoint.inputs), ("output", endpoint.outputs)):
        lines.append(f"{kind} [")
        lines.append(",\n".join(_tensor(t, batching) for t in tensors))
        lines.append("]")
    if batching:
        lines += ["dynamic_batching {",
                  f"  max_queue_delay_microseconds: {options.max_queue_delay_us}", "}"]
    lines += ["instance_group [", "  {", "    kind: KIND_CPU",
              f"    count: {options.instances}", "  }", "]"]
    lines += _warmup(endpoint, batching)
    if python_backend:
        lines += ["parameters {", f"  key: {_quote(ARTIFACT_PARAMETER)}",
                  f"  value: {{ string_value: {_quote(FILE_NAMES[version.format])} }}", "}"]
    return "\n".join(lines) + "\n"


def dims(tensor, batching):
    """Triton's ``dims`` for a tensor: without the batch dimension when batching; -1 for dynamic."""
    shape = tensor.shape[1:] if batching else tensor.shape
    return [-1 if d is None else int(d) for d in shape]


def _tensor(tensor, batching):
    shape = dims(tensor, batching)
    lines = ["  {", f"    name: {_quote(tensor.name)}",
             f"    data_type: {dtypes.convert(tensor.dtype, 'name', 'triton')}"]
    if shape:
        lines.append(f"    dims: [ {', '.join(str(d) for d in shape)} ]")
    else:  # one value per row (or a scalar): Triton wants a non-empty dims, reshaped away
        lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
    lines.append("  }")
    return "\n".join(lines)


def _warmup(endpoint, batching):
    """One warm-up request of zeros at batch size 1, every dynamic dimension 1."""
    lines = ["model_warmup [", "  {", '    name: "kerasexport_zeros"', "    batch_size: 1"]
    for t in endpoint.inputs:
        shape = [1 if d == -1 else d for d in dims(t, batching)] or [1]
        lines += ["    inputs {", f"      key: {_quote(t.name)}", "      value {",
                  f"        data_type: {dtypes.convert(t.dtype, 'name', 'triton')}",
                  f"        dims: [ {', '.join(str(d) for d in shape)} ]",
                  "        zero_data: true", "      }", "    }"]
    lines += ["  }", "]"]
    return lines


def _copy_artifact(version, target):
    """Copy the artifact (and its companions, renamed alike) to `target`; SRC is only read."""
    if os.path.isdir(version.path):
        shutil.copytree(version.path, target, ignore=shutil.ignore_patterns(".*"))
        return
    shutil.copyfile(version.path, target)
    stem = os.path.splitext(target)[0]
    for companion in version.files()[1:]:
        shutil.copyfile(companion, stem + os.path.splitext(companion)[1])


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
