"""Running requests on a loaded version, merging concurrent ones into batches.

Each served version gets a `Runner`. Requests to one endpoint whose inputs
have the same non-batch dimensions and dtypes are merged, up to
`max_batch_size` rows, run once in a worker thread, and split back. The
delay is adaptive: a request that finds the endpoint idle waits at most
`max_delay_ms` for company (0: only until the event loop's turn ends, so the
requests it read together merge and a lone client pays microseconds),
and requests arriving while a batch runs queue up and go together as soon
as it ends, so batches grow with the load. Endpoints whose batch dimension
is fixed, and requests already as large as a batch, run alone;
`max_batch_size=1` turns batching off.

Runtimes known to be safe to call from several threads at once
(onnxruntime sessions, TensorFlow concrete functions) are; any other format
is called by one thread at a time. A call of such a runtime that its recent
calls say will take under `INLINE_NS` runs on the event loop itself:
handing a small model's batch to a thread and back costs more than running
it (two context switches and the GIL's hand-over, on a busy core).
"""

import asyncio
import collections
import re
import threading
import time

import numpy as np

from kerasexport.serving.errors import RuntimeFailure
from kerasexport.serving.stats import Statistics

THREAD_SAFE_FORMATS = frozenset({"onnx", "tf_saved_model"})
# Batches of one endpoint running at once: one keeps the cores busy with the
# runtime's own threads; a second lets a full batch start while one finishes.
_MAX_RUNNING = 2
# Expected runtime per call under which it runs on the event loop, in nanoseconds
# (the loop spends about this much on each request's own Python anyway).
INLINE_NS = 200_000
# Weight of the newest call in the running estimate of time per row.
_NEWEST = 0.2
_NOISE = ("Graph execution error", "Detected at node", "<stack traces", 'File "', "[[")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.+~-]+){2,}")


class Runner:
    """Runs checked inputs on one loaded version.

    Args:
        artifact: the loaded `kerasexport.Artifact`.
        max_batch_size: `int`, rows per merged batch; 1 turns batching off.
        max_delay_ms: `float`, how long an idle endpoint waits for company.
        observe_batch: `callable(rows)` told the rows of every runtime call.

    Attributes:
        stats: the version's `Statistics`, recorded here for both transports.
    """

    def __init__(self, artifact, max_batch_size, max_delay_ms, observe_batch=None):
        self.artifact = artifact
        self._max_rows = max(int(max_batch_size), 1)
        self._max_delay = max(float(max_delay_ms), 0.0) / 1000
        self._observe = observe_batch or (lambda rows: None)
        self._lock = None if artifact.format in THREAD_SAFE_FORMATS else threading.Lock()
        self._batchers = {}  # endpoint name -> Batcher, or None for one that cannot batch
        self._row_ns = {}  # endpoint name -> recent runtime per row (moving average), ns
        self.stats = Statistics()

    async def run(self, endpoint, arrays):
        """Outputs (a list, in the endpoint's output order) for checked inputs.

        A request with as many rows as a batch, or more, runs alone, whatever
        the batch size: it is never split nor refused.

        Raises:
            RuntimeFailure: the runtime failed.
        """
        start = time.perf_counter_ns()
        rows = _rows(arrays)
        try:
            batcher = self._batchers.get(endpoint.name, False) if 0 < rows < self._max_rows else None
            if batcher is False:  # first request to this endpoint: None if it cannot batch
                batcher = self._batchers[endpoint.name] = Batcher(
                    lambda a: self.call(endpoint, a), self._max_rows, self._max_delay,
                    inline=lambda rows: self.inline(endpoint, rows),
                ) if batchable(endpoint) else None
            if batcher is not None:
                outputs, compute = await batcher.submit(arrays, timed=True)
            elif self.inline(endpoint, rows):
                outputs, compute = self.timed_call(endpoint, arrays)
            else:
                outputs, compute = await in_thread(self.timed_call, endpoint, arrays)
        except BaseException:
            self.stats.request(False, time.perf_counter_ns() - start)
            raise
        total = time.perf_counter_ns() - start
        self.stats.request(True, total, max(total - compute, 0), compute, rows)
        return outputs

    @property
    def max_batch_size(self):
        """Rows per merged batch (1: batching off)."""
        return self._max_rows

    @property
    def max_delay_ms(self):
        """How long an idle endpoint waits for company, in milliseconds."""
        return self._max_delay * 1000

    def inline(self, endpoint, rows):
        """Whether a call of `rows` rows should run on the event loop (see the module's doc)."""
        per_row = self._row_ns.get(endpoint.name)
        return self._lock is None and per_row is not None and per_row * max(rows, 1) < INLINE_NS

    def timed_call(self, endpoint, arrays):
        """`(outputs, nanoseconds in the runtime)` of `call()`."""
        start = time.perf_counter_ns()
        outputs = self.call(endpoint, arrays)
        return outputs, time.perf_counter_ns() - start

    def call(self, endpoint, arrays):
        """Run the endpoint now, in this thread; outputs as a list."""
        start = time.perf_counter_ns()
        try:
            if self._lock is None:
                outputs = self.artifact._run(endpoint, arrays, None)
            else:
                with self._lock:
                    outputs = self.artifact._run(endpoint, arrays, None)
        except Exception as exc:
            raise RuntimeFailure(
                f"The model's runtime failed on this request: {type(exc).__name__}: "
                f"{_first_line(exc)}"
            ) from exc
        elapsed, rows = time.perf_counter_ns() - start, _rows(arrays)
        per_row = elapsed / max(rows, 1)
        before = self._row_ns.get(endpoint.name)
        self._row_ns[endpoint.name] = per_row if before is None else before + _NEWEST * (per_row - before)
        self._observe(rows)
        self.stats.execution(rows, elapsed)
        if isinstance(outputs, dict):
            return [outputs[t.name] for t in endpoint.outputs]
        return [outputs]

    def close(self):
        """Forget the batchers (their pending requests have all been answered)."""
        self._batchers.clear()


def batchable(endpoint):
    """Whether requests to `endpoint` can be merged: a dynamic batch dimension everywhere."""
    return bool(endpoint.inputs) and all(
        t.shape is not None and len(t.shape) > 0 and t.shape[0] is None for t in endpoint.inputs
    ) and all(t.shape is None or (len(t.shape) > 0 and t.shape[0] is None) for t in endpoint.outputs)


class _Pending:
    __slots__ = ("arrays", "rows", "future", "since")

    def __init__(self, arrays, rows, future, since):
        self.arrays, self.rows, self.future, self.since = arrays, rows, future, since


class _Group:
    """Requests waiting with the same non-batch shapes and dtypes, oldest first, and their rows."""

    __slots__ = ("items", "rows")

    def __init__(self):
        self.items, self.rows = collections.deque(), 0


class Batcher:
    """Merges concurrent requests to one endpoint (see the module's doc).

    Args:
        call: `callable(list of arrays) -> list of arrays`, run in a thread.
        max_rows: `int`, rows per batch.
        max_delay: `float`, seconds an idle endpoint waits for company.
        inline: `callable(rows) -> bool`: run a batch of `rows` rows on the
            event loop rather than in a thread. Defaults to never.
    """

    def __init__(self, call, max_rows, max_delay, inline=None):
        self._call = call
        self._inline = inline or (lambda rows: False)
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._groups = {}  # (non-batch shape, dtype) per input -> _Group
        self._running = 0
        self._timer = None
        self._tasks = set()

    async def submit(self, arrays, timed=False):
        """Queue one request; its outputs once its batch has run.

        With `timed`, `(outputs, nanoseconds its batch took in the runtime)`.
        """
        loop = asyncio.get_running_loop()
        key = tuple((a.shape[1:], a.dtype.str) for a in arrays)
        pending = _Pending(arrays, _rows(arrays), loop.create_future(), loop.time())
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        group.items.append(pending)
        group.rows += pending.rows
        self._schedule(loop)
        outputs, ns = await pending.future
        return (outputs, ns) if timed else outputs

    def _schedule(self, loop, turned=False):
        now = loop.time()
        for key in list(self._groups):
            group = self._groups.get(key)
            while group is not None:
                full = group.rows >= self._max_rows
                # No delay still waits out this turn of the loop: requests it reads together merge.
                due = now - group.items[0].since >= self._max_delay and (turned or self._max_delay > 0)
                if not ((full and self._running < _MAX_RUNNING) or (due and self._running == 0)):
                    break
                self._dispatch(loop, key)
                group = self._groups.get(key)
        if self._groups and self._running == 0 and self._timer is None:
            oldest = min(g.items[0].since for g in self._groups.values())
            self._timer = loop.call_later(max(oldest + self._max_delay - now, 0), self._on_timer, loop)

    def _on_timer(self, loop):
        self._timer = None
        self._schedule(loop, turned=True)

    def _dispatch(self, loop, key):
        group = self._groups[key]
        items = group.items
        batch, rows = [], 0
        while items and (not batch or rows + items[0].rows <= self._max_rows):
            item = items.popleft()
            batch.append(item)
            rows += item.rows
        group.rows -= rows
        if not items:
            del self._groups[key]
        self._running += 1
        task = loop.create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch):
        try:
            if self._inline(sum(p.rows for p in batch)):
                results = self._run_batch(batch)
            else:
                results = await in_thread(self._run_batch, batch)
            for item, result in zip(batch, results):
                if not item.future.done():
                    if isinstance(result, BaseException):
                        item.future.set_exception(result)
                    else:
                        item.future.set_result(result)
        except BaseException as exc:  # cancelled at shutdown: nobody is left to answer
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            raise
        finally:
            self._running -= 1
            self._schedule(asyncio.get_running_loop())

    def _run_batch(self, batch):
        """`(outputs, ns)` (or the exception) per request, in a worker thread."""
        if len(batch) > 1:
            merged = [np.concatenate(parts) for parts in zip(*(p.arrays for p in batch))]
            total = sum(p.rows for p in batch)
            try:
                outputs, ns = self._timed(merged)
            except Exception:
                outputs = None  # Run them one by one: only the culprit should fail.
            if outputs is not None and all(getattr(o, "shape", ())[:1] == (total,) for o in outputs):
                results, start = [], 0
                for p in batch:
                    results.append(([o[start:start + p.rows] for o in outputs], ns))
                    start += p.rows
                return results
        results = []
        for p in batch:
            try:
                results.append(self._timed(p.arrays))
            except Exception as exc:
                results.append(exc)
        return results

    def _timed(self, arrays):
        start = time.perf_counter_ns()
        outputs = self._call(arrays)
        return outputs, time.perf_counter_ns() - start


def in_thread(function, *args):
    """Await `function(*args)` run in the event loop's worker threads.

    asyncio's own executor: lighter per call than anyio's thread pool, and its
    few threads (cores + 4) keep concurrent runs from oversubscribing the CPU.
    """
    return asyncio.get_running_loop().run_in_executor(None, function, *args)


def _rows(arrays):
    return arrays[0].shape[0] if arrays and arrays[0].ndim else 0


def _first_line(exc):
    """The line of a runtime's message that says what went wrong, without paths.

    TensorFlow starts with "Graph execution error:" and where the node was
    defined (a stack of file names); the cause comes after.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(_NOISE)]
    text = (useful or lines or [""])[0]
    return _PATH.sub("<path>", text)[:400]
