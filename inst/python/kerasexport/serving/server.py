"""Starting and stopping a server: `serve()` (blocking) and `Server` (background).

uvicorn runs the ASGI application from `app.py` on a socket bound here (so
port 0 gives a free port whose number is known before the first request).
The first scan of the repository happens before the socket is opened, so a
server that answers is a server that has loaded what it could. SIGINT and
SIGTERM stop a blocking server gracefully: it stops accepting connections,
lets the requests in flight finish, and returns normally (exit code 0 from
the command line).
"""

import contextlib
import gc
import ipaddress
import logging
import logging.handlers
import os
import queue
import signal
import socket
import sys
import threading

from kerasexport import errors

logger = logging.getLogger("kerasexport.serve")

TOKEN_VARIABLE = "KERASEXPORT_SERVE_TOKEN"
DEFAULT_PORT = 8501
DEFAULT_POLL_SECONDS = 5.0
# Chosen from bench/serve.py (see bench/RESULTS.md, "Serving").
DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_MAX_DELAY_MS = 0.0
DEFAULT_MAX_BODY_MB = 64.0
_GRACE_SECONDS = 30
_START_TIMEOUT = 60


class Server:
    """A model server running in a background thread of this process.

    Usable as a context manager: the server starts on entry (after loading
    every model) and stops on exit.

    Args:
        path: an artifact, or a model repository (``ROOT/<model>/<version>/``).
        host: `str`, the address to bind. Defaults to `"127.0.0.1"`.
        port: `int`, the port; 0 picks a free one. Defaults to 8501.
        poll_seconds: `float`, how often the repository is scanned for new
            and removed versions; 0 never. Defaults to 5.
        max_batch_size: `int`, rows per merged batch; 1 turns batching off.
            Defaults to 32.
        max_delay_ms: `float`, how long a request to an idle model waits for
            others to batch with. Defaults to 0.
        max_body_mb: `float`, larger request bodies get 413. Defaults to 64.
        token: `str` or `None`: require ``Authorization: Bearer <token>``
            (except on the health routes). Defaults to `None`, which reads
            the ``KERASEXPORT_SERVE_TOKEN`` environment variable.
        quiet: `bool`, no access log. Defaults to `False`.
        grpc_port: `int` or `None`: also serve KServe v2 / Triton's and
            TF-Serving's gRPC APIs on this port (``kerasexport serve`` uses
            8500, TF-Serving's); `None` or 0: no gRPC. Defaults to `None`.
        model_config_file: `str` or `None`, a TF-Serving model config file
            (``models.config``): its models, version policies and
            ``version_labels`` are served (`serving.model_config`). Defaults
            to `None` (every model under `path`).

    A Triton ``<model>/config.pbtxt`` sets that model's batching and
    warm-up (`serving.triton_config`) in place of `max_batch_size` and
    `max_delay_ms`.

    Attributes:
        url: the base URL, e.g. ``"http://127.0.0.1:8501"`` (after start).
        grpc_address: ``"127.0.0.1:8500"`` when serving gRPC (after start), else `None`.
        repository: the `Repository` being served.

    Example:

    ```python
    with kerasexport.Server("models/", port=0) as server:
        requests.post(f"{server.url}/v1/models/cnn:predict", json={"instances": x.tolist()})
    ```
    """

    def __init__(self, path, host="127.0.0.1", port=DEFAULT_PORT, *,
                 poll_seconds=DEFAULT_POLL_SECONDS, max_batch_size=DEFAULT_MAX_BATCH_SIZE,
                 max_delay_ms=DEFAULT_MAX_DELAY_MS, max_body_mb=DEFAULT_MAX_BODY_MB,
                 token=None, quiet=False, grpc_port=None, model_config_file=None):
        self.path = os.fspath(path)
        self.model_config_file = None if model_config_file is None else os.fspath(model_config_file)
        self.host = _check_text(host, "host")
        self.port = _check_number(port, "port", integer=True, minimum=0, maximum=65535)
        self.poll_seconds = _check_number(poll_seconds, "poll_seconds", minimum=0)
        self.max_batch_size = _check_number(max_batch_size, "max_batch_size", integer=True, minimum=1)
        self.max_delay_ms = _check_number(max_delay_ms, "max_delay_ms", minimum=0)
        self.max_body_mb = _check_number(max_body_mb, "max_body_mb", minimum=0, strict=True)
        if token is None:
            token = os.environ.get(TOKEN_VARIABLE) or None
        self.token = None if token is None else _check_text(token, "token")
        self.quiet = bool(quiet)
        self.grpc_port = None if grpc_port is None else _check_number(
            grpc_port, "grpc_port", integer=True, minimum=0, maximum=65535) or None
        self.url = None
        self.grpc_address = None
        self.repository = None
        self._uvicorn = None
        self._socket = None
        self._thread = None

    def load(self):
        """Scan the path and load every version (done by `start()` and `run()`).

        Raises:
            ArtifactError: when `path` is one artifact and it cannot be served.
        """
        from kerasexport.serving.metrics import Metrics
        from kerasexport.serving.repository import AVAILABLE, Repository
        from kerasexport.serving.batching import Runner
        from kerasexport.serving.errors import NotFound

        if self.grpc_port:
            from kerasexport.serving.grpc import Workers

            self._grpc_workers = Workers()  # grpcio's threads, grown for every runner's batches

        def make_runner(artifact, model, version, config=None):
            rows, delay = ((config.rows_per_batch, config.max_delay_ms) if config is not None
                           else (self.max_batch_size, self.max_delay_ms))  # a Triton config.pbtxt's, else ours
            if self.grpc_port:
                self._grpc_workers.fit(rows, delay)
            return Runner(artifact, rows, delay, self.metrics.batch_observer(model, version))

        from kerasexport.serving.warmup import batch_sizes

        try:
            self.repository = Repository(self.path, make_runner,
                                         warmup_rows=batch_sizes(self.max_batch_size),
                                         model_config=self.model_config_file)
        except (NotFound, ValueError) as exc:  # ValueError: model_config.ConfigError
            raise errors.ArtifactError(str(exc)) from None
        self.metrics = Metrics(self.repository)
        self.repository.scan()
        if self.repository.single:
            versions = next(iter(self.repository.models().values()), [])
            if not any(v.state == AVAILABLE for v in versions):
                why = versions[0].error if versions else "nothing to load"
                raise errors.ArtifactError(f"Cannot serve {os.path.basename(self.path)!r}: {why}")
        return self.repository

    def _prepare(self):
        import uvicorn

        from kerasexport.version import __version__
        from kerasexport.serving.app import body_limit, create_app
        from kerasexport.serving.http_protocol import protocol_class

        self.load()
        app = create_app(self.repository, self.metrics, version=__version__, token=self.token,
                         max_body_bytes=body_limit(self.max_body_mb), access_log=not self.quiet)
        try:
            self._socket = _bind(self.host, self.port)
        except BaseException:
            self.repository.stop()  # a server that never listened holds no runtime
            raise
        port = self._socket.getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"
        # httptools (C) parses HTTP (the "serve" extra installs it): h11, uvicorn's
        # fallback, costs more per request than the rest of the path (cProfile of
        # the event loop). Its protocol answers the inference routes without ASGI.
        try:
            http = protocol_class(app)
        except ImportError:
            http = "auto"
        config = uvicorn.Config(app, http=http, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=_GRACE_SECONDS, server_header=False,
                                proxy_headers=False)
        self._uvicorn = _Uvicorn(config)
        if self.grpc_port:
            from kerasexport.serving.grpc import GrpcServer

            self._uvicorn.grpc = GrpcServer(
                self.repository, self.metrics, version=__version__, host=self.host,
                port=self.grpc_port, token=self.token, max_body_bytes=body_limit(self.max_body_mb),
                access_log=not self.quiet, workers=self._grpc_workers)

    def start(self):
        """Load, bind, and serve in a background thread; returns once it answers.

        Returns:
            The server itself.
        """
        self._prepare()
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self._socket]},
                                        name="kerasexport-serve", daemon=True)
        self._thread.start()
        for _ in range(_START_TIMEOUT * 20):
            if self._uvicorn.started or not self._thread.is_alive():
                break
            self._thread.join(0.05)
        if not self._uvicorn.started:
            failure = self._uvicorn.failure
            self.stop()
            if failure is not None:
                raise failure
            raise errors.KerasexportError(f"The server did not start within {_START_TIMEOUT} s.")
        self._note_grpc()
        self.repository.start_polling(self.poll_seconds)
        _warn_if_open(self.host, self.token)
        return self

    def run(self, announce=True):
        """Serve in this thread until SIGINT or SIGTERM, then stop gracefully."""
        self._prepare()

        frozen = []

        def started():
            self._note_grpc()
            if announce:
                print(self.describe(), flush=True)
            _warn_if_open(self.host, self.token)
            # What start-up left (modules, TensorFlow's objects, the runtimes) stays for
            # the server's life: out of the collector, a full collection no longer walks
            # it while requests allocate (nested JSON rows: 1.5x requests/s on the CNN).
            gc.freeze()
            frozen.append(True)
            self.repository.start_polling(self.poll_seconds)

        self._uvicorn.on_started = started
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            if frozen:
                gc.unfreeze()
            self._close()
        if self._uvicorn.failure is not None:
            raise self._uvicorn.failure

    def _note_grpc(self):
        grpc = getattr(self._uvicorn, "grpc", None)
        if grpc is not None and grpc.port:
            shown = f"[{self.host}]" if ":" in self.host else self.host
            self.grpc_address = f"{shown}:{grpc.port}"

    def stop(self):
        """Stop serving: in-flight requests finish (up to 30 s), then the versions are released."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(_GRACE_SECONDS + 5)
            self._thread = None
        self._close()

    def _close(self):
        if self.repository is not None:
            self.repository.stop()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def describe(self):
        """The URL and each model with its versions, as printed on start."""
        from kerasexport.serving.repository import AVAILABLE, FAILED

        lines = [f"Serving on {self.url}", f"Page: {self.url}/ (API: {self.url}/docs)"]
        models = self.repository.models() if self.repository else {}
        if not models:
            lines.append("  no models yet: add ROOT/<model>/<version>/ directories")
        for name, versions in models.items():
            live = [str(v.number) for v in versions if v.state == AVAILABLE]
            plural = "s" if len(live) > 1 else ""
            lines.append(f"  {name}: version{plural} {', '.join(live)}" if live
                         else f"  {name}: no version available")
            lines.extend(f"    version {v.number} failed to load: {v.error}"
                         for v in versions if v.state == FAILED)
        if self.grpc_address:
            lines.append(f"gRPC on {self.grpc_address} (KServe v2 and TF-Serving)")
        return "\n".join(lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<kerasexport.Server {self.url or 'not started'}>"


def serve(path, host="127.0.0.1", port=DEFAULT_PORT, **options):
    """Serve an artifact or a model repository until interrupted.

    Speaks TF-Serving's REST API (``/v1/models/...``) and KServe v2 / the
    Open Inference Protocol (``/v2/...``, with Triton's binary tensors), plus
    ``/metrics``. Prints the URL and the models, logs one line per request
    to standard error (unless `quiet`), and returns after SIGINT or SIGTERM
    once the requests in flight are answered.

    Args:
        path: an artifact, or a model repository (``ROOT/<model>/<version>/``).
        host: `str`. Defaults to `"127.0.0.1"`.
        port: `int`. Defaults to 8501.
        **options: as `Server` (`poll_seconds`, `max_batch_size`,
            `max_delay_ms`, `max_body_mb`, `token`, `quiet`, `grpc_port`,
            `model_config_file`).

    Raises:
        ArtifactError: `path` holds nothing that can be served.
        ArgumentError: a bad option.
        OSError: the address cannot be bound.

    Example:

    ```python
    kerasexport.serve("models/", port=8501, token="s3cret")
    ```
    """
    server = Server(path, host, port, **options)
    with access_log(server.quiet):
        server.run()


@contextlib.contextmanager
def access_log(quiet):
    """Send the ``kerasexport.serve`` log to standard error while serving.

    Lines are written by a daemon thread of their own: a slow or full
    standard error (a pipe nobody reads) never stalls a request nor the
    exit; past 10,000 lines waiting, new ones are dropped.
    """
    formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handler = _DroppingQueueHandler(queue.Queue(maxsize=10_000))
    writer = threading.Thread(target=_write_log, args=(handler.queue, formatter, sys.stderr),
                              name="kerasexport-serve-log", daemon=True)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    writer.start()
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.enqueue(None)
        writer.join(timeout=2)  # lines still waiting on a full pipe are given up


def _write_log(lines, formatter, stream):
    # Straight to the file descriptor: a write blocked on a full pipe then
    # holds no lock that the interpreter's exit would wait for.
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    while True:
        record = lines.get()
        if record is None:
            return
        text = formatter.format(record) + "\n"
        try:
            if fd is None:
                stream.write(text)
                stream.flush()
            else:
                os.write(fd, text.encode("utf-8", "replace"))
        except (OSError, ValueError):
            return


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    def enqueue(self, record):
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            pass


def _bind(host, port):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise errors.ArgumentError(f"Cannot use host {host!r}: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise errors.KerasexportError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another --port "
            "(0 picks a free one)."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _warn_if_open(host, token):
    if token is not None:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        print(f"warning: serving on {host} without a token: anyone who can reach this port can "
              "call the models. Pass --token (or set KERASEXPORT_SERVE_TOKEN).",
              file=sys.stderr, flush=True)


def _check_text(value, name):
    if not isinstance(value, str) or not value:
        raise errors.ArgumentError(f"`{name}` must be a non-empty string, received {value!r}.")
    return value


def _check_number(value, name, *, integer=False, minimum=None, maximum=None, strict=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        kind = "whole number" if integer else "number"
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum}"
        raise errors.ArgumentError(f"`{name}` must be a {kind}{bound}, received {value!r}.")
    return int(value) if integer else float(value)


def _uvicorn_class():
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server, minus re-raising the signal after a graceful stop, plus gRPC.

        uvicorn re-sends SIGTERM to itself once shut down, so the process
        would die by the signal; a server stopped on request exits 0. The
        gRPC server (`grpc`, when set) starts on uvicorn's event loop before
        HTTP listens, and stops with it, letting calls in flight finish.
        `on_started` is called once both listen.
        """

        grpc = None
        on_started = None
        failure = None

        async def startup(self, sockets=None):
            if self.grpc is not None:
                try:
                    await self.grpc.start()
                except errors.KerasexportError as exc:
                    self.failure = exc
                    self.should_exit = True
                    return
            await super().startup(sockets=sockets)
            if self.started and self.on_started is not None:
                self.on_started()

        async def shutdown(self, sockets=None):
            import asyncio

            stopping = [super().shutdown(sockets=sockets)]
            if self.grpc is not None:
                stopping.append(self.grpc.stop(_GRACE_SECONDS))
            await asyncio.gather(*stopping)

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return _Server


def _Uvicorn(config):
    return _uvicorn_class()(config)
