"""Quiet by default: third-party logs stay off the user's console.

TensorFlow, tf2onnx, absl, JAX and torch print a page of logs, recovered
tracebacks and tracer warnings during an export. Unless `verbose` is true,
their output is captured (Python streams, loggers and the process's file
descriptors 1 and 2), and only genuine warnings from Keras or kerasexport are
kept, once each, for the caller to pass on.
"""

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings

_NOISY_LOGGERS = ("tensorflow", "absl", "tf2onnx", "jax", "jax2onnx", "torch", "onnxscript", "onnx_ir", "h5py")
_GENUINE_SOURCES = (os.sep + "keras" + os.sep, os.sep + "kerasexport" + os.sep)
_NOISE_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


@contextlib.contextmanager
def quiet(verbose):
    """Capture third-party output while the block runs.

    Args:
        verbose: `bool` or `None`. When true, nothing is captured.

    Yields:
        A list, filled when the block ends with the messages of genuine
        warnings (deduplicated, in order).
    """
    kept = []
    if verbose:
        yield kept
        return
    streams = (sys.stdout, sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _loggers_at(logging.ERROR), _descriptors_captured(streams) as captured, \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                yield kept
            except BaseException as exc:
                tail = captured()
                if tail and hasattr(exc, "add_note"):
                    exc.add_note("Output of the exporters (last lines):\n" + tail)
                raise
    for message in _genuine(caught):
        if message not in kept:
            kept.append(message)


def imported(name):
    """Import module `name` with its load-time output captured (TensorFlow's C++ notices).

    TensorFlow prints absl's "All log messages before absl::InitializeLog()"
    and oneDNN's notice while it loads, whatever ``TF_CPP_MIN_LOG_LEVEL``
    says; the R package imports Keras through here, so a user's first lines
    are kerasexport's own.
    """
    import importlib

    with quiet(verbose=None):
        return importlib.import_module(name)


def _genuine(caught):
    for record in caught:
        if issubclass(record.category, _NOISE_CATEGORIES):
            continue
        if not issubclass(record.category, UserWarning):
            continue
        if any(source in str(record.filename) for source in _GENUINE_SOURCES):
            yield str(record.message)


@contextlib.contextmanager
def _loggers_at(level):
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.level))
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous):
            logger.setLevel(old)


# The captures in progress, innermost last: (saved fds 1 and 2, the Python
# streams before the capture, the sink's fd). `released()` needs them.
_captures = []


@contextlib.contextmanager
def released():
    """Let output reach the console for a moment inside `quiet()`.

    For our own progress lines (`progress.stage`): a logging handler, a
    terminal or R's console writes to the real streams and descriptors, then
    the capture resumes. Outside `quiet()`, a no-op.
    """
    if not _captures:
        yield
        return
    saved, streams, sink_fd = _captures[-1]
    _flush_all()
    capturing = (sys.stdout, sys.stderr)
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    sys.stdout, sys.stderr = streams
    try:
        yield
    finally:
        _flush_all()
        sys.stdout, sys.stderr = capturing
        os.dup2(sink_fd, 1)
        os.dup2(sink_fd, 2)


def _flush_all():
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    _flush_c_streams()


@contextlib.contextmanager
def _descriptors_captured(streams, tail_lines=20):
    """Send fds 1 and 2 to an unnamed temporary file; yield a tail reader."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    sink = tempfile.TemporaryFile()
    saved = [os.dup(1), os.dup(2)]
    _captures.append((saved, streams, sink.fileno()))
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)

        def tail():
            sink.flush()
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-tail_lines:])

        yield tail
    finally:
        _captures.pop()
        _flush_c_streams()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        sink.close()


def _flush_c_streams():
    """Flush C stdio, so what C and C++ code printed lands in the capture.

    torch's exporter prints through C stdio, which buffers fully when the
    process's stdout is not a terminal (R's console when piped, a log file);
    left in the buffer, it would be written after the descriptors are back.
    """
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
