"""The worker's environment: its Python, its ``sys.path``, its variables, file stamps.

At the bottom of the cross-backend route: the pool starts workers with
these, the parent side builds requests with them, and custom code stamps
the modules it sends by name. Imports nothing of kerasexport's but errors.
"""

import os
import sys

from kerasexport import errors


def worker_path():
    """The worker's ``sys.path``: this process's, as absolute directories."""
    # This file is kerasexport/cross/environment.py; the core's parent goes first.
    core_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [core_parent] + [os.path.abspath(p) for p in sys.path if os.path.isdir(p or ".")]
    seen = []
    for p in paths:
        if p not in seen:
            seen.append(p)
    return seen


def python_executable():
    """This process's Python (also when embedded in R by reticulate)."""
    exe = sys.executable
    if exe and os.path.basename(exe).startswith("python") and os.path.exists(exe):
        return exe
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3", "python"):
        candidate = os.path.join(sys.prefix, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise errors.RouteError(
        "Cannot find the Python executable for the worker process: neither "
        "sys.executable nor the environment's bin directory holds a python."
    )


def worker_env(backend="tensorflow"):
    """The worker's environment: the exporting `backend`, this process's paths."""
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(worker_path())
    return env


def module_stamp(module_name):
    """A stamp of the file behind `module_name` (changes when it is edited)."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    try:
        stat = os.stat(path)
    except (TypeError, OSError):
        return None
    return f"{stat.st_mtime_ns}:{stat.st_size}"
