"""grpcio's worker threads, as many as the batches the served versions send need.

Each worker holds one call until the event loop answers it; more calls wait
in grpcio's queue. On the bench's MLP at 32 clients, 16 threads answer about
1.1x as many calls as 32 (fewer threads waiting for the GIL), so 16 it is,
unless a version batches with a delay: such a batch waits for its rows or its
delay, and with fewer calls in flight than it has rows it could never fill,
so every batch would wait out its delay. Versions load while the server
runs (a Triton ``config.pbtxt`` sets its own batch size and delay), so the
pool grows as their runners are made.
"""

from concurrent.futures import ThreadPoolExecutor

WORKER_THREADS = 16


def worker_threads(max_batch_size, max_delay_ms=0):
    """How many worker threads batches of `max_batch_size` rows, waiting `max_delay_ms`, need."""
    return max(WORKER_THREADS, int(max_batch_size)) if max_delay_ms > 0 else WORKER_THREADS


class Workers(ThreadPoolExecutor):
    """The thread pool grpcio's server runs its handlers on; `fit()` grows it."""

    def __init__(self):
        super().__init__(WORKER_THREADS, thread_name_prefix="kerasexport-grpc")

    @property
    def size(self):
        """The most threads the pool runs at once."""
        return self._max_workers

    def fit(self, max_batch_size, max_delay_ms):
        """Have enough threads for such batches (`worker_threads()`); never fewer than now."""
        wanted = worker_threads(max_batch_size, max_delay_ms)
        # ThreadPoolExecutor starts a thread per submitted call up to `_max_workers`,
        # read on every submit, so raising it takes effect from the next call.
        with self._shutdown_lock:
            self._max_workers = max(self._max_workers, wanted)
