"""Dynamic batching: what is merged, what runs alone, and that answers go back
to the right request."""

import asyncio
import threading
import time

import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend


class Recorder:
    """A runtime that doubles its input and records the rows of each call."""

    def __init__(self, gate=None, fail_on=None):
        self.calls = []
        self.gate = gate
        self.fail_on = fail_on

    def __call__(self, arrays):
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(arrays[0].shape[0])
        if self.fail_on is not None and (arrays[0] == self.fail_on).any():
            raise RuntimeError("bad row")
        return [arrays[0] * 2]


async def submit_all(batcher, requests):
    return await asyncio.gather(*(batcher.submit([r]) for r in requests), return_exceptions=True)


def run(coroutine):
    return asyncio.run(coroutine)


def test_requests_arriving_while_a_batch_runs_are_merged():
    from kerasexport.serving.batching import Batcher

    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher(recorder, max_rows=8, max_delay=0)
    requests = [np.full((1, 3), i, "float32") for i in range(7)]

    async def scenario():
        first = asyncio.ensure_future(batcher.submit([requests[0]]))
        await asyncio.sleep(0.05)  # the first runs alone (idle: no wait) and blocks on the gate
        rest = asyncio.ensure_future(submit_all(batcher, requests[1:]))
        await asyncio.sleep(0.05)
        gate.set()
        return [await first] + await rest

    results = run(scenario())
    assert recorder.calls == [1, 6]
    for request, result in zip(requests, results):
        np.testing.assert_array_equal(result[0], request * 2)


def test_requests_arriving_together_at_an_idle_endpoint_run_as_one_batch():
    # No delay still waits out the loop's turn: what it read together merges.
    from kerasexport.serving.batching import Batcher

    recorder = Recorder()
    batcher = Batcher(recorder, max_rows=8, max_delay=0)
    requests = [np.full((1, 3), i, "float32") for i in range(5)]
    results = run(submit_all(batcher, requests))
    assert recorder.calls == [5]
    for request, result in zip(requests, results):
        np.testing.assert_array_equal(result[0], request * 2)


def test_batches_stop_at_max_rows_and_big_requests_go_alone():
    from kerasexport.serving.batching import Batcher

    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher(recorder, max_rows=4, max_delay=0)
    requests = [np.full((n, 2), i, "float32") for i, n in enumerate([1, 2, 2, 1, 3, 1])]

    async def scenario():
        pending = asyncio.ensure_future(submit_all(batcher, requests))
        await asyncio.sleep(0.05)
        gate.set()
        return await pending

    results = run(scenario())
    assert sum(recorder.calls) == 10 and max(recorder.calls) <= 4
    for request, result in zip(requests, results):
        np.testing.assert_array_equal(result[0], request * 2)


def test_requests_with_different_non_batch_shapes_are_not_merged():
    from kerasexport.serving.batching import Batcher

    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher(recorder, max_rows=16, max_delay=0.2)
    requests = [np.ones((1, 3), "float32"), np.ones((1, 5), "float32"), np.ones((1, 3), "float32"),
                np.ones((1, 5), "float64")]

    async def scenario():
        pending = asyncio.ensure_future(submit_all(batcher, requests))
        await asyncio.sleep(0.05)
        gate.set()
        return await pending

    results = run(scenario())
    assert sorted(recorder.calls) == [1, 1, 2]  # the two (1, 3) float32 rows together
    for request, result in zip(requests, results):
        assert result[0].shape == request.shape and result[0].dtype == request.dtype


def test_an_idle_endpoint_waits_max_delay_for_company():
    from kerasexport.serving.batching import Batcher

    recorder = Recorder()
    batcher = Batcher(recorder, max_rows=16, max_delay=0.2)

    async def scenario():
        first = asyncio.ensure_future(batcher.submit([np.ones((1, 2), "float32")]))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(batcher.submit([np.ones((1, 2), "float32")]))
        return await first, await second

    run(scenario())
    assert recorder.calls == [2]


def test_a_failing_request_fails_alone():
    from kerasexport.serving.batching import Batcher

    gate = threading.Event()
    recorder = Recorder(gate, fail_on=13)
    batcher = Batcher(recorder, max_rows=8, max_delay=0)
    requests = [np.full((1, 2), v, "float32") for v in (1, 13, 3, 4)]

    async def scenario():
        pending = asyncio.ensure_future(submit_all(batcher, requests))
        await asyncio.sleep(0.05)
        gate.set()
        return await pending

    results = run(scenario())
    assert isinstance(results[1], RuntimeError)
    for i in (0, 2, 3):
        np.testing.assert_array_equal(results[i][0], requests[i] * 2)


def test_fixed_batch_dimensions_are_not_batchable(serving_artifacts):
    import kerasexport
    from kerasexport.serving.batching import batchable

    root = serving_artifacts.root
    assert batchable(kerasexport.load(f"{root}/mlp/1/model.onnx").endpoint())
    assert not batchable(kerasexport.load(f"{root}/fixed/1/model.onnx").endpoint())


def test_concurrent_clients_are_batched_and_get_their_own_answers(serving_artifacts):
    import kerasexport

    model = serving_artifacts.models["mlp1"]
    rows = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    expected = serving_kit.keras_outputs(model, rows)
    fixed = rows[:2]
    fixed_expected = expected[:2]
    errors = []

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True,
                            max_batch_size=16) as server:
        def client(offset):
            c = serving_kit.Client(server.url)
            for i in range(offset, 64, 8):
                status, body = c.json("POST", "/v1/models/mlp/versions/1:predict", {"instances": [rows[i].tolist()]})
                if status != 200 or not np.allclose(body["predictions"][0], expected[i], atol=1e-5):
                    errors.append((i, status, body))
                status, body = c.json("POST", "/v1/models/fixed:predict", {"instances": fixed.tolist()})
                if status != 200 or not np.allclose(body["predictions"], fixed_expected, atol=1e-5):
                    errors.append(("fixed", status, body))
            c.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        metrics = serving_kit.Client(server.url).request("GET", "/metrics")[2].decode()
    assert not errors, errors[:3]
    counts = {line.split("}")[0] + "}": float(line.split()[-1]) for line in metrics.splitlines()
              if line.startswith("kerasexport_batch_size_count")}
    sums = {line.split("}")[0] + "}": float(line.split()[-1]) for line in metrics.splitlines()
            if line.startswith("kerasexport_batch_size_sum")}
    key = '{model="mlp",version="1"}'
    # 64 rows in fewer runtime calls than requests: some were merged.
    assert sums["kerasexport_batch_size_sum" + key] == 64
    assert counts["kerasexport_batch_size_count" + key] < 64
    # The fixed-batch model ran every request alone: 2 rows per call.
    assert sums['kerasexport_batch_size_sum{model="fixed",version="1"}'] == 2 * counts[
        'kerasexport_batch_size_count{model="fixed",version="1"}']


class _Timed:
    """An artifact whose runtime takes `seconds` a call and records the thread each call ran on."""

    def __init__(self, format, seconds):
        self.format = format
        self.seconds = seconds
        self.threads = []

    def _run(self, endpoint, arrays, signature):
        if self.seconds:
            time.sleep(self.seconds)
        self.threads.append(threading.current_thread())
        return arrays[0] * 2  # one output, as a runtime returns it


def _threads_of_calls(format, seconds, max_batch_size, calls=6):
    from kerasexport.artifact import Endpoint, TensorInfo
    from kerasexport.serving.batching import Runner

    artifact = _Timed(format, seconds)
    endpoint = Endpoint("serve", "graph", (TensorInfo("x", "float32", (None, 3)),),
                        (TensorInfo("y", "float32", (None, 3)),))
    runner = Runner(artifact, max_batch_size, 0)

    async def scenario():
        for i in range(calls):
            x = np.full((1, 3), i, "float32")
            (y,) = await runner.run(endpoint, [x])
            np.testing.assert_array_equal(y, x * 2)
        return threading.current_thread()

    loop_thread = run(scenario())
    return [t is loop_thread for t in artifact.threads]


@pytest.mark.parametrize("max_batch_size", [8, 1])
def test_a_fast_thread_safe_runtime_runs_on_the_event_loop_once_timed(max_batch_size):
    # The first call has no estimate yet and goes to a thread; then each call, measured
    # well under INLINE_NS, costs less on the loop than the hand-over to a thread would.
    assert _threads_of_calls("onnx", 0, max_batch_size) == [False] + [True] * 5


def test_a_slow_runtime_runs_in_worker_threads():
    from kerasexport.serving.batching import INLINE_NS

    assert not any(_threads_of_calls("onnx", 2 * INLINE_NS / 1e9, 8, calls=4))


def test_a_runtime_called_by_one_thread_at_a_time_never_runs_on_the_event_loop():
    # Its lock may be held by a batch running in a thread: the loop must never wait on it.
    assert not any(_threads_of_calls("openvino", 0, 8))
