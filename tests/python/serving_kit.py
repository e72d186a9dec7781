"""What the serving tests share: the test repository, and a plain HTTP client.

The repository is built once per session (the `serving_artifacts` fixture
in conftest.py), on the TensorFlow backend, where the protocol suite runs:

    mlp/1/model.onnx, mlp/2/model.onnx    4 -> 3, different weights per version
    mlp_sm/1/                             the version-1 MLP as a SavedModel
    two/1/model.onnx                      dict inputs a (3), b (5); outputs first (2), second (1)
    fixed/1/model.onnx                    the version-1 MLP with its batch fixed at 2
    text/1/                               SavedModel: strings in, lengths and the bytes back
    picky/1/                              SavedModel that fails at run time on negative inputs
"""

import dataclasses
import http.client
import os
import shutil
import time
import urllib.parse

import keras
import numpy as np
import orjson
import pytest

requires_tensorflow_backend = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the server's protocol suite does not depend on the Keras backend; it runs on the "
           "tensorflow backend only (test_serve_backends.py checks each backend's artifacts)",
)


def mlp(seed):
    """A 4 -> 3 MLP."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    model(np.zeros((1, 4), "float32"))
    return model


def two_io():
    """Dict inputs a (3) and b (5); dict outputs first (2) and second (1)."""
    keras.utils.set_random_seed(3)
    a = keras.Input((3,), name="a")
    b = keras.Input((5,), name="b")
    first = keras.layers.Dense(2, name="first")(keras.layers.Concatenate()([a, b]))
    second = keras.layers.Dense(1, name="second")(b)
    model = keras.Model({"a": a, "b": b}, {"first": first, "second": second})
    model({"a": np.zeros((1, 3), "float32"), "b": np.zeros((1, 5), "float32")})
    return model


def keras_outputs(model, x):
    """The model's own outputs as NumPy (a dict for dict outputs)."""
    out = model(x, training=False)
    if isinstance(out, dict):
        return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in out.items()}
    return np.asarray(keras.ops.convert_to_numpy(out))


@dataclasses.dataclass
class Artifacts:
    root: str
    models: dict
    onnx: dict  # name -> path of an ONNX file, to copy into other repositories


def build(directory):
    """Export the test repository under `directory` (see the module's doc)."""
    import kerasexport

    root = os.path.join(directory, "models")
    models = {"mlp1": mlp(1), "mlp2": mlp(2), "two": two_io()}
    onnx = {}
    for name, model, target in (("mlp1", models["mlp1"], "mlp/1"), ("mlp2", models["mlp2"], "mlp/2"),
                                ("two", models["two"], "two/1")):
        path = os.path.join(root, target, "model.onnx")
        kerasexport.export(model, path, format="onnx")
        onnx[name] = path
    kerasexport.export(models["mlp1"], os.path.join(root, "mlp_sm", "1"), format="tf_saved_model")
    kerasexport.export(models["mlp1"], os.path.join(root, "fixed", "1", "model.onnx"), format="onnx",
                       input_signature=[kerasexport.spec((2, 4))])
    _text_model(os.path.join(root, "text", "1"))
    _picky_model(os.path.join(root, "picky", "1"))
    return Artifacts(root, models, onnx)


def _text_model(path):
    import tensorflow as tf

    class Text(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text), "echo_bytes": text}

    module = Text()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def _picky_model(path):
    import tensorflow as tf

    class Picky(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            tf.debugging.assert_non_negative(x, message="negative input")
            return {"y": x * 2}

    module = Picky()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def copy_version(source, root, model, version):
    """Put an ONNX file in place as ROOT/model/version/model.onnx, atomically (a rename)."""
    staging = os.path.join(root, model, f".staging-{version}")
    os.makedirs(staging)
    shutil.copy(source, os.path.join(staging, "model.onnx"))
    os.rename(staging, os.path.join(root, model, str(version)))


# Plain HTTP ----


class Client:
    """A keep-alive HTTP/1.1 client for one server (http.client, no helpers).

    Args:
        url: the server's base URL.
        token: sent as a bearer token when given.
    """

    def __init__(self, url, token=None, timeout=30):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.token = token
        self.timeout = timeout
        self._connection = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers dict with lower-case names, body bytes)."""
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if isinstance(body, (dict, list)):
            body = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        for attempt in (0, 1):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def json(self, method, path, body=None, headers=None):
        """(status, decoded JSON body or None)."""
        status, _, data = self.request(method, path, body, headers)
        return status, (orjson.loads(data) if data else None)

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def free_port():
    """A port free on loopback now (for gRPC, where 0 means "off")."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, seconds=15):
    """`condition()`'s first true value, polled every 50 ms; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached within {seconds} s")
