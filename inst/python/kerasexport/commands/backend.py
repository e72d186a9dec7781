"""Run a command under the Keras backend the user chose.

Keras reads ``KERAS_BACKEND`` once, when it is first imported. The command
line has not imported Keras when a command starts, so setting the variable
is enough; if something imported Keras already under another backend, the
command restarts itself (same arguments) with the variable set.
"""

import importlib.util
import os
import sys

from kerasexport import errors
from kerasexport import routes

# The backends, in the order a default is chosen from the installed ones.
BACKENDS = tuple(routes.NATIVE)
# The module each backend needs, and its package on the registry.
PACKAGES = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax", "jax"), "torch": ("torch", "torch")}
_RESTARTED = "KERASEXPORT_CLI_RESTARTED"


def installed(backend):
    """Whether `backend`'s package can be imported here (without importing it)."""
    return importlib.util.find_spec(PACKAGES[backend][0]) is not None


def default():
    """``KERAS_BACKEND`` if set, else the first installed backend."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    return next((b for b in BACKENDS if installed(b)), BACKENDS[0])


def use(backend):
    """Make `backend` the Keras backend of this process.

    Args:
        backend: `str`, one of `BACKENDS`, or `None` for `default()`.

    Returns:
        The backend in use.

    Raises:
        ArgumentError: an unknown backend (from ``KERAS_BACKEND``).
        DependencyError: the backend's package is not installed.
    """
    backend = backend or default()
    if backend not in BACKENDS:
        raise errors.ArgumentError(
            f"Unknown Keras backend {backend!r} (from KERAS_BACKEND). "
            f"Available: {', '.join(BACKENDS)}."
        )
    if not installed(backend):
        others = [b for b in BACKENDS if installed(b)]
        raise errors.DependencyError(
            f"The {backend} backend is not installed here: `pip install "
            f"{PACKAGES[backend][1]}`, or choose an installed backend with "
            f"--backend ({', '.join(others) or 'none is installed'})."
        )
    os.environ["KERAS_BACKEND"] = backend
    if "keras" in sys.modules and _current() != backend:
        _restart(backend)
    return backend


def _current():
    import keras

    return keras.backend.backend()


def _restart(backend):
    """Run this command again in a fresh process with `backend` set."""
    if os.environ.get(_RESTARTED):
        raise errors.ArgumentError(
            f"Keras was imported with the {_current()} backend before the "
            f"command could choose {backend}, even in a fresh process; unset "
            "whatever imports Keras at start-up (sitecustomize, PYTHONSTARTUP)."
        )
    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ, KERAS_BACKEND=backend, **{_RESTARTED: "1"})
    os.execve(sys.executable, [sys.executable, "-m", _entry_module(), *sys.argv[1:]], env)


def _entry_module():
    """The module of the running command line's entry point (``kerasexport.cli``).

    Read from click's context, so this module needs not import the command
    line that imports it.
    """
    import click

    return click.get_current_context().find_root().command.callback.__module__
