"""A TensorFlow Serving repository: ``models.config``, ``batching_parameters.txt``, ``<model>/<v>/``.

TF-Serving runs SavedModels only. Each version is the SavedModel itself
(``<model>/<v>/saved_model.pb``) with ``assets.extra/tf_serving_warmup_requests``
(`warmup`) added to the copy. ``models.config`` is a ``ModelServerConfig``
in protobuf text format (tensorflow/serving ``config/model_server_config.proto``):
one ``config`` per model with its ``base_path`` under ``/models`` (where
the published ``tensorflow/serving`` image looks), ``model_platform:
"tensorflow"`` and a version policy (every version when there are several).
``batching_parameters.txt`` is a ``BatchingParameters`` message
(``servables/tensorflow/session_bundle_config.proto``), read with
``--enable_batching --batching_parameters_file``; it is written when every
model's signature has a dynamic batch dimension, since TF-Serving's
batcher splits and pads along the first dimension of every tensor.
"""

import os
import shutil

from kerasexport.artifact import SERVING_DEFAULT
from kerasexport.deploy import triton as triton_lib
from kerasexport.deploy import warmup

CONFIG = "models.config"
BATCHING = "batching_parameters.txt"
BASE = "/models"


def refusal(version):
    """Why TF-Serving cannot take `version`, or `None`."""
    if version.format != "tf_saved_model":
        return f"TF-Serving runs SavedModels only, not {version.format}"
    if SERVING_DEFAULT not in version.endpoints:
        return "TF-Serving calls the serving_default signature, which this SavedModel lacks"
    return None


def write_model(directory, name, versions, options):
    """Copy each version's SavedModel under `directory` and add its warm-up records."""
    os.makedirs(directory)
    for version in versions:
        target = os.path.join(directory, str(version.number))
        shutil.copytree(version.path, target, ignore=shutil.ignore_patterns(".*"))
        extra = os.path.join(target, warmup.DIRECTORY)
        os.makedirs(extra, exist_ok=True)
        sizes = [1]
        if triton_lib.batchable(version.endpoint) and options.max_batch_size > 1:
            sizes.append(options.max_batch_size)
        # `refusal` let through only SavedModels with serving_default, their default endpoint.
        warmup.write(os.path.join(extra, warmup.FILE), name, SERVING_DEFAULT, version.endpoint, sizes)


def config_text(models):
    """``models.config`` for `models`: {name: [version numbers]}."""
    lines = ["model_config_list {"]
    for name, numbers in models.items():
        policy = ("all {}" if len(numbers) > 1
                  else f"specific {{ versions: {numbers[0]} }}")
        lines += ["  config {", f"    name: {triton_lib._quote(name)}",
                  f"    base_path: {triton_lib._quote(BASE + '/' + name)}",
                  '    model_platform: "tensorflow"',
                  f"    model_version_policy {{ {policy} }}", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def batching_text(options):
    """``batching_parameters.txt``: the batcher's size, timeout and threads."""
    return (f"max_batch_size {{ value: {options.max_batch_size} }}\n"
            f"batch_timeout_micros {{ value: {options.max_queue_delay_us} }}\n"
            f"num_batch_threads {{ value: {options.instances} }}\n"
            "max_enqueued_batches { value: 100 }\n")
