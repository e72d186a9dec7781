"""Read a saved ``.keras`` file: check it, import custom code, load it.

A ``.keras`` file (Keras 3's ``model.save()``) is a zip archive holding
``config.json`` and the weights. It is checked before Keras is imported, so
a wrong path costs no start-up time.
"""

import importlib
import importlib.util
import os
import sys

from kerasexport import errors
from kerasexport import routes
from kerasexport import saved_keras
from kerasexport.formats import saved_model
from kerasexport.commands.failure import fail

SUFFIX = saved_keras.SUFFIX
_SAVE_HINT = "Python: model.save(\"model.keras\"); R: save_model(model, \"model.keras\")"


def check(path):
    """Refuse, before any work, a path that is not a ``.keras`` file (exit 1)."""
    if not os.path.lexists(path):
        fail(f"No such file: {path!r}; MODEL is a {SUFFIX} file ({_SAVE_HINT}).")
    if os.path.isdir(path):
        exported = saved_model.recognizes(path)
        fail(
            f"{path!r} is {'an exported SavedModel' if exported else 'a directory'}, not a "
            f"{SUFFIX} file ({_SAVE_HINT}); `kerasexport inspect` looks into exported artifacts."
        )
    if not path.endswith(SUFFIX) or not saved_keras.recognizes(path):
        fail(f"{path!r} is not a {SUFFIX} file, the zip archive Keras 3 saves ({_SAVE_HINT}).")


def find_custom(modules):
    """The module names to import for ``--custom-module`` (dotted names or ``.py`` files).

    A file's directory is put on ``sys.path``, so the file is imported by its
    name, as the cross-backend route's worker (which sees this process's
    ``sys.path``) will import it too. Refuses (exit 1) a module that is not
    there; call it before output is captured.

    Returns:
        A list of module names, in the order given.
    """
    names = []
    for given in modules:
        if given.endswith(".py") or os.sep in given:
            if not os.path.isfile(given):
                fail(f"--custom-module {given!r}: no such file.")
            directory, file = os.path.split(os.path.abspath(given))
            if directory not in sys.path:
                sys.path.insert(0, directory)
            names.append(os.path.splitext(file)[0])
        elif importlib.util.find_spec(given.split(".")[0]) is None:
            fail(
                f"--custom-module {given!r}: no module of that name can be imported here; "
                "give the path of its .py file, or add its directory to PYTHONPATH."
            )
        else:
            names.append(given)
    return names


def import_custom(names):
    """Import the modules `find_custom()` named, writing no bytecode cache beside them.

    Raises:
        ArgumentError: when a module fails to import.
    """
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                raise errors.ArgumentError(
                    f"--custom-module {name!r} failed to import: {routes.describe(exc)}"
                ) from exc
    finally:
        sys.dont_write_bytecode = previous


def load(path, safe_mode=True):
    """Load the model, uncompiled (an export needs no optimizer or loss).

    Raises:
        ModelError: when Keras cannot rebuild the model, saying why.
    """
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as exc:
        raise errors.ModelError(f"Keras could not load {path!r}: {_why(exc)}") from exc


def _why(exc):
    text = routes.describe(exc)
    if "safe_mode" in str(exc):
        return (
            "it holds a Lambda layer with Python code, which Keras does not "
            "run by default. If you trust the file, pass --unsafe-deserialization."
        )
    if "Could not locate" in str(exc) or "register_keras_serializable" in str(exc):
        return (
            f"{text} If the model uses custom classes or functions, name the "
            "module that defines and registers them with --custom-module."
        )
    return text
