"""Per-version inference statistics, counted where requests run, read by both transports.

Each version's `Runner` owns one `Statistics` and records into it: every
request (success or failure, its time end to end as the runner saw it,
its time queued for a batch, its time in the runtime) and every runtime
call (its rows, its time). `serving.triton` turns them into Triton's
statistics extension (``GET /v2/models/{m}/stats``, gRPC
``ModelStatistics``); warm-up runs before the runner exists, so it is not
counted, as Triton does not count its own warm-up.
"""

import threading
import time


class Statistics:
    """Counters of one version (times in nanoseconds). Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.success = [0, 0]
        self.fail = [0, 0]
        self.queue = [0, 0]
        self.compute_infer = [0, 0]
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0
        self.batches = {}  # rows -> [count, ns]

    def request(self, ok, total_ns, queue_ns=0, compute_ns=0, rows=0):
        """Count one request answered by the runner (or failed in it)."""
        with self._lock:
            if ok:
                _add(self.success, total_ns)
                _add(self.queue, queue_ns)
                _add(self.compute_infer, compute_ns)
                self.inference_count += rows
            else:
                _add(self.fail, total_ns)
            self.last_inference_ms = int(time.time() * 1000)

    def execution(self, rows, ns):
        """Count one runtime call of `rows` rows."""
        with self._lock:
            self.execution_count += 1
            _add(self.batches.setdefault(rows, [0, 0]), ns)

    def snapshot(self):
        """A consistent copy of every counter, as a dict."""
        with self._lock:
            return {
                "success": tuple(self.success), "fail": tuple(self.fail), "queue": tuple(self.queue),
                "compute_infer": tuple(self.compute_infer), "inference_count": self.inference_count,
                "execution_count": self.execution_count, "last_inference": self.last_inference_ms,
                "batches": {rows: tuple(v) for rows, v in sorted(self.batches.items())},
            }


def _add(pair, ns):
    pair[0] += 1
    pair[1] += int(ns)
