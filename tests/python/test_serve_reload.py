"""Versions come and go while clients run: new versions swap in without a failed
request, a broken one is reported while the previous keeps serving, a removed
one unloads once its requests are done. Plus where a version's artifact is found."""

import json
import os
import shutil
import threading
import time

import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend, wait_for

pytestmark = requires_tensorflow_backend

THREADS = 16
X = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)


class Load:
    """THREADS client threads, half TF-Serving and half KServe v2, until stopped."""

    def __init__(self, url, input_name, max_requests=4000, max_seconds=60):
        self.url = url
        self.input_name = input_name
        self.results = []  # (status, outputs or error)
        self.stop = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.max_requests = max_requests
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i % 2,)) for i in range(THREADS)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self, kserve):
        client = serving_kit.Client(self.url)
        for _ in range(self.max_requests // THREADS):
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            if kserve:
                status, body = client.json("POST", "/v2/models/mlp/infer", {"inputs": [
                    {"name": self.input_name, "shape": [2, 4], "datatype": "FP32", "data": X.ravel().tolist()}]})
                out = np.reshape(body["outputs"][0]["data"], (2, 3)) if status == 200 else body
            else:
                status, body = client.json("POST", "/v1/models/mlp:predict", {"instances": X.tolist()})
                out = np.asarray(body["predictions"]) if status == 200 else body
            with self.lock:
                self.results.append((status, out))
        client.close()

    def latest(self, n=8):
        with self.lock:
            return self.results[-n:]


def version_state(client, version):
    status, body = client.json("GET", f"/v1/models/mlp/versions/{version}")
    return body["model_version_status"][0] if status == 200 else None


def test_versions_swap_without_a_failed_request(serving_artifacts, tmp_path):
    import kerasexport

    root = str(tmp_path / "models")
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], root, "mlp", 1)
    outputs = {v: serving_kit.keras_outputs(serving_artifacts.models[f"mlp{v}"], X) for v in (1, 2)}

    def answered_by(version):
        latest = [out for status, out in load.latest() if status == 200]
        return len(latest) == 8 and all(np.allclose(out, outputs[version], atol=1e-5) for out in latest)

    with kerasexport.Server(root, port=0, poll_seconds=0.2, quiet=True) as server:
        client = serving_kit.Client(server.url)
        name = client.json("GET", "/v2/models/mlp")[1]["inputs"][0]["name"]
        with Load(server.url, name) as load:
            wait_for(lambda: answered_by(1))
            # A new version lands (atomically, as export_savedmodel() writes it).
            landed = time.monotonic()
            serving_kit.copy_version(serving_artifacts.onnx["mlp2"], root, "mlp", 2)
            wait_for(lambda: answered_by(2))
            swap_seconds = time.monotonic() - landed
            # A broken version: reported in both protocols, version 2 keeps serving.
            broken = tmp_path / "broken.onnx"
            broken.write_bytes(b"not an onnx file")
            serving_kit.copy_version(str(broken), root, "mlp", 3)
            state = wait_for(lambda: (version_state(client, 3) or {}).get("state") == "END"
                             and version_state(client, 3))
            assert state["status"]["error_code"] == "UNKNOWN"
            assert "model.onnx" in state["status"]["error_message"]
            assert root not in state["status"]["error_message"]
            index = client.json("POST", "/v2/repository/index")[1]
            assert {"name": "mlp", "version": "3", "state": "UNAVAILABLE"}.items() <= next(
                e for e in index if e["version"] == "3").items()
            assert client.request("GET", "/v2/models/mlp/versions/3/ready")[0] == 404
            time.sleep(0.5)
            assert answered_by(2)
            # Version 2 is removed: requests go back to version 1.
            os.rename(os.path.join(root, "mlp", "2"), os.path.join(root, "mlp", ".removed-2"))
            wait_for(lambda: answered_by(1))
            assert version_state(client, 2)["state"] == "END"
            assert client.json("POST", "/v1/models/mlp/versions/2:predict", {"instances": X.tolist()})[0] == 404
            # A new model folder is picked up the same way.
            serving_kit.copy_version(serving_artifacts.onnx["mlp2"], root, "fresh", 1)
            wait_for(lambda: client.request("GET", "/v2/models/fresh/ready")[0] == 200)
        client.close()
    statuses = [status for status, _ in load.results]
    failures = [out for status, out in load.results if status != 200]
    assert len(statuses) > 100 and not failures, failures[:3]
    assert swap_seconds < 15


def test_a_removed_version_unloads_after_its_requests(serving_artifacts, tmp_path):
    from kerasexport.serving.repository import AVAILABLE, END, UNLOADING, Repository

    root = str(tmp_path / "models")
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], root, "mlp", 1)
    serving_kit.copy_version(serving_artifacts.onnx["mlp2"], root, "mlp", 2)
    repository = Repository(root)
    repository.scan()
    with repository.use("mlp") as held:
        assert held.number == 2 and held.state == AVAILABLE
        shutil.rmtree(os.path.join(root, "mlp", "2"))
        repository.scan()
        assert held.state == UNLOADING and held.artifact is not None
        np.testing.assert_allclose(held.artifact.predict(X), serving_kit.keras_outputs(
            serving_artifacts.models["mlp2"], X), atol=1e-5)
        assert repository.get("mlp").number == 1
    assert held.state == END and held.artifact is None
    repository.stop()


@pytest.mark.parametrize("files, found", [
    (["saved_model.pb", "variables/"], "."),
    (["model.savedmodel/saved_model.pb", "config.pbtxt"], "model.savedmodel"),
    (["model.onnx", "config.pbtxt", ".kerasexport-staging-1/model.onnx"], "model.onnx"),
    (["anything.onnx"], "anything.onnx"),
    (["model.xml", "model.bin"], "model.xml"),
    (["model.tflite", "labels.txt"], "model.tflite"),
    ([], None),
])
def test_where_a_version_keeps_its_artifact(tmp_path, files, found):
    from kerasexport.serving.repository import Repository

    version = tmp_path / "m" / "1"
    version.mkdir(parents=True)
    for name in files:
        target = version / name
        if name.endswith("/"):
            target.mkdir(parents=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"x")
    path = Repository(str(tmp_path))._artifact_path(str(version))
    assert path == (None if found is None else os.path.normpath(os.path.join(str(version), found)))


def test_a_version_with_several_artifacts_fails_with_their_names(tmp_path):
    from kerasexport.serving.repository import FAILED, Repository

    version = tmp_path / "m" / "1"
    version.mkdir(parents=True)
    (version / "a.onnx").write_bytes(b"x")
    (version / "b.onnx").write_bytes(b"x")
    (tmp_path / "m" / "notaversion").mkdir()
    repository = Repository(str(tmp_path))
    repository.scan()
    (state,) = repository.models()["m"]
    assert state.state == FAILED and "a.onnx, b.onnx" in state.error and str(tmp_path) not in state.error
    assert not repository.ready


def test_a_server_that_cannot_listen_releases_what_it_loaded(serving_artifacts):
    import socket

    import kerasexport
    from kerasexport import errors

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        server = kerasexport.Server(serving_artifacts.root, port=busy.getsockname()[1],
                                    poll_seconds=0, quiet=True)
        with pytest.raises(errors.KerasexportError, match="Cannot listen on 127.0.0.1"):
            server.start()
    finally:
        busy.close()
    versions = [v for vs in server.repository.models().values() for v in vs]
    assert versions and all(v.artifact is None and v.runner is None for v in versions)
