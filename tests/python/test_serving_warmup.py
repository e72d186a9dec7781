"""Warm-up: a new version runs at every batch size the batcher sends before it
is READY, and the first request finds it warm."""

import numpy as np
import pytest

from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend


def test_batch_sizes_cover_what_the_batcher_sends():
    from kerasexport.serving.warmup import batch_sizes

    assert batch_sizes(1) == (1,)
    assert batch_sizes(8) == (1, 2, 4, 8)
    assert batch_sizes(12) == (1, 2, 4, 8, 12)


@pytest.fixture
def recorded(monkeypatch):
    """Every `Artifact.predict` call of loaded artifacts: (batch rows, what the repository serves then)."""
    import kerasexport.api

    calls, state = [], {}
    original = kerasexport.api.load

    def load(path, *args, **kwargs):
        artifact = original(path, *args, **kwargs)
        predict = artifact.predict

        def recording(x, *a, **k):
            repository = state.get("repository")
            serving = repository is not None and any(
                v.state == "AVAILABLE" for vs in repository.models().values() for v in vs)
            calls.append((np.asarray(x[0]).shape[0], serving))
            return predict(x, *a, **k)

        artifact.predict = recording
        return artifact

    monkeypatch.setattr(kerasexport.api, "load", load)
    return calls, state


def test_a_version_is_ready_only_after_running_at_each_batch_size(serving_artifacts, recorded):
    from kerasexport.serving.repository import AVAILABLE, Repository

    calls, state = recorded
    repository = state["repository"] = Repository(serving_artifacts.onnx["mlp1"], warmup_rows=(1, 2, 4, 8))
    repository.scan()
    assert calls == [(1, False), (2, False), (4, False), (8, False)]
    assert [v.state for vs in repository.models().values() for v in vs] == [AVAILABLE]
    repository.stop()


def test_the_server_warms_up_at_its_batch_sizes_before_answering(serving_artifacts, recorded):
    import kerasexport
    import serving_kit

    calls, _ = recorded
    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, poll_seconds=0, quiet=True,
                            max_batch_size=16) as server:
        assert [rows for rows, _ in calls] == [1, 2, 4, 8, 16]
        client = serving_kit.Client(server.url)
        assert client.request("GET", "/v2/health/ready")[0] == 200
        stats = client.json("GET", "/v2/models/model/stats")[1]["model_stats"][0]
        assert stats["execution_count"] == 0  # warm-up is not counted, as in Triton
        client.close()


def test_a_version_that_fails_at_a_batch_size_it_would_be_sent_is_not_served(tmp_path):
    import tensorflow as tf

    from kerasexport.serving.repository import AVAILABLE, FAILED, Repository

    class SmallBatches(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            tf.debugging.assert_less(tf.shape(x)[0], 3, message="batch of 3 or more")
            return {"y": x + 1}

    module = SmallBatches()
    path = str(tmp_path / "small" / "1")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    states = {}
    for rows in ((1, 2), (1, 2, 4)):
        repository = Repository(str(tmp_path), warmup_rows=rows)
        repository.scan()
        (version,) = repository.models()["small"]
        states[rows] = (version.state, version.error)
        repository.stop()
    assert states[(1, 2)] == (AVAILABLE, "")
    assert states[(1, 2, 4)][0] == FAILED and "batch of 3 or more" in states[(1, 2, 4)][1]
