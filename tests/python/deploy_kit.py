"""What the deploy tests share: a source repository in four formats, built once per session.

    mlp/1/model.onnx, mlp/2/model.onnx    4 -> 3, different weights per version
    mlp_sm/1/                             the version-2 MLP as a SavedModel
    mlp_ov/1/model.xml + model.bin        the version-2 MLP as OpenVINO IR
    mlp_lite/1/model.tflite               the version-2 MLP as LiteRT (no engine's native backend)
    two/1/model.onnx                      dict inputs a (3), b (5); outputs first (2), second (1)
    text/1/                               SavedModel: strings in, lengths and the bytes back

Expected values are the Keras models' own outputs (`expected`).
"""

import dataclasses
import hashlib
import os

import numpy as np

import serving_kit


@dataclasses.dataclass
class Source:
    root: str
    models: dict  # name in the repository -> Keras model (or None for text)

    def expected(self, name, x):
        return serving_kit.keras_outputs(self.models[name], x)


def build(directory):
    import kerasexport

    root = os.path.join(directory, "src")
    mlp1, mlp2, two = serving_kit.mlp(1), serving_kit.mlp(2), serving_kit.two_io()
    kerasexport.export(mlp1, os.path.join(root, "mlp", "1", "model.onnx"), format="onnx")
    kerasexport.export(mlp2, os.path.join(root, "mlp", "2", "model.onnx"), format="onnx")
    kerasexport.export(mlp2, os.path.join(root, "mlp_sm", "1"), format="tf_saved_model")
    kerasexport.export(mlp2, os.path.join(root, "mlp_ov", "1", "model.xml"), format="openvino")
    kerasexport.export(mlp2, os.path.join(root, "mlp_lite", "1", "model.tflite"), format="litert")
    kerasexport.export(two, os.path.join(root, "two", "1", "model.onnx"), format="onnx")
    serving_kit._text_model(os.path.join(root, "text", "1"))
    return Source(root, {"mlp": mlp2, "mlp_v1": mlp1, "mlp_sm": mlp2, "mlp_ov": mlp2,
                         "mlp_lite": mlp2, "two": two, "text": None})


def tree_digest(root):
    """Every file's path, mode and bytes under `root`: equal only if nothing changed."""
    digest = hashlib.sha256()
    for directory, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        digest.update(os.path.relpath(directory, root).encode())
        for name in sorted(files):
            path = os.path.join(directory, name)
            digest.update(name.encode() + oct(os.stat(path).st_mode).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def rows(n, features, seed=0):
    return np.random.default_rng(seed).normal(size=(n, features)).astype("float32")
