"""Warm worker processes for the cross-backend route, one per target backend.

A worker (``python -m kerasexport.cross.worker --serve``, `KERAS_BACKEND` set to
its backend) pays Python's and the backend's start-up once, then exports
model after model. It is started on first use and lives until

- it has been idle for `idle_seconds()` (``KERASEXPORT_WORKER_IDLE_SECONDS``,
  default 300), or
- this process ends, however it ends: the worker reads its requests from a
  pipe whose only writer is this process, and exits on end of file; it also
  exits when it is re-parented (this process died while an export ran).

A worker that dies during a request, or gives no answer within
`timeout_seconds()` (``KERASEXPORT_WORKER_TIMEOUT_SECONDS``, default 900), is
ended and replaced, and the request is tried once more; a second failure is
reported as `WorkerFailed`. A worker that has imported a module whose file
has changed since is replaced before the next request, so edited custom code
is never exported from its stale copy.

Requests from several threads take turns on a backend's worker. A child
made by ``os.fork()`` does not share its parent's workers.
"""

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time

from kerasexport import errors
from kerasexport.cross import environment

# The worker process, started as ``python -m``.
WORKER_MODULE = "kerasexport.cross.worker"
DEFAULT_IDLE_SECONDS = 300.0
DEFAULT_TIMEOUT_SECONDS = 900.0
START_TIMEOUT_SECONDS = 300.0
_IDLE_VARIABLE = "KERASEXPORT_WORKER_IDLE_SECONDS"
_TIMEOUT_VARIABLE = "KERASEXPORT_WORKER_TIMEOUT_SECONDS"


class WorkerFailed(errors.RouteError):
    """The worker died or hung twice on one request."""


def idle_seconds():
    """How long an idle worker waits for its next request before it exits."""
    return _seconds(_IDLE_VARIABLE, DEFAULT_IDLE_SECONDS)


def timeout_seconds():
    """How long a request may take before its worker counts as hung."""
    return _seconds(_TIMEOUT_VARIABLE, DEFAULT_TIMEOUT_SECONDS)


def _seconds(variable, default):
    try:
        value = float(os.environ.get(variable, default))
    except ValueError:
        return default
    return value if value > 0 else default


class _Lost(Exception):
    """The worker died or hung during a request (`reason` says which)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Worker:
    """One worker process and the two pipes to it.

    Attributes:
        backend: `str`, the worker's Keras backend.
        pid: `int`, its process id.
        stamps: `dict` from module name to the file stamp it was imported at.
    """

    def __init__(self, backend, command, env):
        self.backend = backend
        self.stamps = {}
        # Start-up output (and anything printed between requests) lands
        # here, to explain a worker that fails to start.
        self._log = tempfile.TemporaryFile()
        reply_read, reply_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                command + ["--serve", str(reply_write), str(idle_seconds())],
                env=env, stdin=subprocess.PIPE, stdout=self._log, stderr=self._log,
                pass_fds=(reply_write,), close_fds=True,
            )
        finally:
            os.close(reply_write)
        self._replies = os.fdopen(reply_read, "rb", buffering=0)
        self._buffer = b""
        self.pid = self._process.pid
        self._ready = False

    def alive(self):
        return self._process.poll() is None

    def wait_ready(self, timeout=START_TIMEOUT_SECONDS):
        """Block until the worker has imported its backend.

        Raises:
            _Lost: when it exits or takes longer than `timeout`.
        """
        if self._ready:
            return
        reply = self._read_reply(timeout, "starting")
        if not reply.get("ready"):
            raise _Lost(f"it answered {reply!r} instead of being ready")
        self._ready = True

    def request(self, request_file, log_file, timeout):
        """Send one request and wait for its result (a dict).

        Raises:
            _Lost: when the worker dies or does not answer within `timeout`.
        """
        self.wait_ready()
        line = json.dumps({"request": request_file, "log": log_file}) + "\n"
        try:
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _Lost(f"it could not take the request ({exc.__class__.__name__})") from exc
        return self._read_reply(timeout, "exporting")

    def _read_reply(self, timeout, doing):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop(kill=True)
                raise _Lost(f"it gave no answer within {timeout:g}s while {doing} (hung; ended)")
            ready, _, _ = select.select([self._replies], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = self._replies.read(65536)
            if not chunk:
                code = self._process.wait()
                raise _Lost(f"it exited with status {code} while {doing}{self._startup_tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _startup_tail(self):
        if self._ready:
            return ""
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines() if line.strip()]
        return f" ({lines[-1]})" if lines else ""

    def stop(self, kill=False):
        """End the worker: close its request pipe (it exits), or kill it."""
        if self._process.poll() is None:
            if kill:
                self._process.kill()
            else:
                try:
                    self._process.stdin.close()
                except OSError:
                    pass
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._replies, self._log):
            try:
                stream.close()
            except OSError:
                pass


class Pool:
    """The warm workers of this process, one per backend."""

    def __init__(self):
        self._workers = {}
        self._locks = {}
        self._guard = threading.Lock()
        self._owner = os.getpid()

    def _lock(self, backend):
        with self._guard:
            return self._locks.setdefault(backend, threading.Lock())

    def worker(self, backend):
        """The live worker of `backend`, or `None`."""
        worker = self._workers.get(backend)
        return worker if worker is not None and worker.alive() else None

    def start(self, backend, stamps=None):
        """Start `backend`'s worker now, unless a usable one is running.

        Returns at once: the worker imports its backend while the caller
        does other work (saving the model), and `run` waits for it.
        """
        with self._lock(backend):
            self._usable(backend, stamps or {})

    def _usable(self, backend, stamps):
        worker = self._workers.get(backend)
        if worker is not None and (not worker.alive() or _stale(worker, stamps)):
            worker.stop()
            worker = None
        if worker is None:
            worker = Worker(
                backend, [environment.python_executable(), "-m", WORKER_MODULE],
                environment.worker_env(backend),
            )
            self._workers[backend] = worker
        return worker

    def run(self, backend, request_file, log_file, stamps=None, before_retry=None):
        """Run one request on `backend`'s worker; retry once on a fresh one.

        Args:
            backend: `str`, the worker's Keras backend.
            request_file: `str`, the request (see `kerasexport.cross.worker`).
            log_file: `str`, where the worker writes its output for it.
            stamps: `dict` of module name to file stamp, for the modules the
                request imports (a worker with older copies is replaced).
            before_retry: callable run before the second attempt (to clear
                what the first one left).

        Returns:
            The worker's result `dict`.

        Raises:
            WorkerFailed: when the worker died or hung on both attempts.
        """
        stamps = stamps or {}
        reasons = []
        with self._lock(backend):
            for attempt in range(2):
                worker = self._usable(backend, stamps)
                try:
                    result = worker.request(request_file, log_file, timeout_seconds())
                except _Lost as lost:
                    worker.stop(kill=True)
                    self._workers.pop(backend, None)
                    reasons.append(lost.reason)
                    if attempt == 0 and before_retry is not None:
                        before_retry()
                    continue
                worker.stamps.update(stamps)
                return result
        raise WorkerFailed(
            f"The {backend} worker process failed twice: first {reasons[0]}; then, "
            f"replaced by a fresh one, {reasons[1]}."
        )

    def stop(self):
        """End every worker (at exit)."""
        if os.getpid() != self._owner:
            return  # a forked child: the workers are its parent's
        for worker in list(self._workers.values()):
            worker.stop()
        self._workers.clear()


def _stale(worker, stamps):
    return any(worker.stamps.get(m, s) != s for m, s in stamps.items())


_POOL = None
_POOL_GUARD = threading.Lock()


def pool():
    """This process's pool (a forked child gets its own)."""
    global _POOL
    with _POOL_GUARD:
        if _POOL is None or _POOL._owner != os.getpid():
            _POOL = Pool()
        return _POOL


def _stop_at_exit():
    if _POOL is not None:
        _POOL.stop()


atexit.register(_stop_at_exit)
