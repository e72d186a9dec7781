"""KServe: ``inferenceservices.yaml`` and, per model, what its runtime mounts at ``/mnt/models``.

One ``serving.kserve.io/v1beta1`` ``InferenceService`` per model, with
``protocolVersion: v2`` and the runtime named (kserve/kserve
``config/runtimes/``): ONNX and SavedModel go to ``kserve-tritonserver``,
which runs ``tritonserver --model-store=/mnt/models``, so ``OUT/<model>/``
is a Triton repository holding that one model; OpenVINO IR goes to
``kserve-ovms`` (``--model_path=/mnt/models``), so ``OUT/<model>/<v>/``
holds ``model.xml`` + ``model.bin``. The runtime is named because two of
KServe's runtimes select themselves for ``tensorflow`` with v2. LiteRT and
``.pt2`` have no KServe runtime that takes them as files.

The YAML is written here (block style, every string quoted), so writing
it needs no YAML package.
"""

import os
import re
import shutil

from kerasexport.deploy import triton as triton_lib

MANIFEST = "inferenceservices.yaml"
API_VERSION = "serving.kserve.io/v1beta1"
# format -> (modelFormat name, its version in the runtime's supportedModelFormats, runtime)
RUNTIMES = {
    "onnx": ("onnx", "1", "kserve-tritonserver"),
    "tf_saved_model": ("tensorflow", "2", "kserve-tritonserver"),
    "openvino": ("openvino", "1", "kserve-ovms"),
}
_NAME_LENGTH = 63  # a DNS-1123 label


def refusal(version):
    """Why KServe's runtimes cannot take `version`, or `None`."""
    if version.format not in RUNTIMES:
        return f"no KServe runtime serves {version.format} files"
    if version.format != "openvino":
        return triton_lib.refusal(version)
    return None


def write_model(directory, name, versions, options):
    """The files for one model's storage, under `directory` (what is mounted at /mnt/models)."""
    if versions[-1].format == "openvino":
        os.makedirs(directory)
        for version in versions:
            version_dir = os.path.join(directory, str(version.number))
            os.makedirs(version_dir)
            shutil.copyfile(version.path, os.path.join(version_dir, "model.xml"))
            shutil.copyfile(version.files()[1], os.path.join(version_dir, "model.bin"))
        return
    os.makedirs(directory)
    triton_lib.write_model(os.path.join(directory, name), name, versions, options)


def service_name(model, taken):
    """A DNS-1123 label starting with a letter, made from `model`, not in `taken`."""
    name = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if not name or not name[0].isalpha():
        name = "model-" + name if name else "model"
    name = name[:_NAME_LENGTH].rstrip("-")
    candidate, n = name, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate = name[:_NAME_LENGTH - len(suffix)].rstrip("-") + suffix
        n += 1
    return candidate


def manifest(services, options):
    """The YAML of every ``InferenceService``: `services` is [(service name, model, format)]."""
    documents = []
    for service, model, format in services:
        model_format, format_version, runtime = RUNTIMES[format]
        lines = [
            f"apiVersion: {_q(API_VERSION)}",
            'kind: "InferenceService"',
            "metadata:",
            f"  name: {_q(service)}",
            "  labels:",
            f"    app.kubernetes.io/name: {_q(service)}",
            '    app.kubernetes.io/managed-by: "kerasexport"',
            "spec:",
            "  predictor:",
            "    model:",
            "      modelFormat:",
            f"        name: {_q(model_format)}",
            f"        version: {_q(format_version)}",
            f"      runtime: {_q(runtime)}",
            '      protocolVersion: "v2"',
            f"      storageUri: {_q(options.storage_uri.rstrip('/') + '/' + model)}",
        ]
        resources = _resources(options)
        if resources:
            lines.append("      resources:")
            lines += resources
        documents.append("\n".join(lines) + "\n")
    return "---\n" + "---\n".join(documents)


def _resources(options):
    lines = []
    for kind, cpu, memory in (("requests", options.cpu_request, options.memory_request),
                              ("limits", options.cpu_limit, options.memory_limit)):
        entries = [f"          {key}: {_q(value)}" for key, value in (("cpu", cpu), ("memory", memory))
                   if value is not None]
        if entries:
            lines += [f"        {kind}:", *entries]
    return lines


def _q(text):
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    import json

    return json.dumps(str(text))
