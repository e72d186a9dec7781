"""Find the call into the model's own backend that a worker could not run.

Custom code sent to a worker runs there under another backend. Code written
with `keras.ops` and `keras.layers` runs anywhere; code calling its backend's
library directly (``torch.relu`` in a PyTorch model's ``call()``) fails. When
an export fails in the worker, `diagnose` walks the failure's traceback for
the innermost frame of the user's own code and reads that function's
bytecode for a reference into the source backend's library.
"""

import builtins
import dis
import types

# The libraries each backend's tensors belong to.
LIBRARIES = {
    "torch": ("torch",),
    "jax": ("jax", "jaxlib"),
    "tensorflow": ("tensorflow", "tf_keras"),
}
# Frames of these packages are library code, not the user's.
_LIBRARY_ROOTS = frozenset({
    "keras", "kerasexport", "tensorflow", "torch", "jax", "jaxlib", "numpy",
    "optree", "tf2onnx", "onnx", "onnxruntime", "ml_dtypes", "absl", "h5py",
    "cloudpickle", "importlib", "contextlib", "functools", "threading",
})


def diagnose(exc, source_backend):
    """The user's function that calls `source_backend`'s library, and the call.

    Args:
        exc: the exception the worker caught.
        source_backend: `str` or `None`, the backend the model came from.

    Returns:
        `None`, or a `dict` with `function` (dotted name of the user's
        function, e.g. ``"__main__.Residual.call"``), `call` (e.g.
        ``"torch.relu"``) and `library` (e.g. ``"torch"``).
    """
    libraries = LIBRARIES.get(source_backend or "", ())
    if not libraries:
        return None
    for frame in reversed(list(_frames(exc))):
        module = frame.f_globals.get("__name__") or "__main__"
        if module.split(".")[0] in _LIBRARY_ROOTS:
            continue
        calls = foreign_references(frame.f_code, frame.f_globals, libraries, frame.f_locals)
        if calls:
            return {
                "function": f"{module}.{frame.f_code.co_qualname}",
                "call": calls[0],
                "library": calls[0].split(".")[0],
            }
    return None


def _frames(exc):
    """Frames of `exc`'s traceback and of the exceptions it was raised from."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__


def foreign_references(code, globals_, libraries, closure=None):
    """Dotted names in `code` (and code nested in it) that lead into `libraries`.

    ``torch.nn.functional.relu`` for ``LOAD_GLOBAL torch`` (or a closure
    variable, looked up in `closure`) followed by attribute loads;
    ``torch.relu`` for a name bound to that function.
    """
    found = []
    chain = None
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_DEREF"):
            names = globals_ if instruction.opname == "LOAD_GLOBAL" else (closure or {})
            chain = _resolve(instruction.argval, names, libraries)
            if chain:
                found.append(chain)
            continue
        if chain and instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            chain = f"{chain}.{instruction.argval}"
            found[-1] = chain
            continue
        chain = None
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += foreign_references(const, globals_, libraries, closure)
    return found


def _resolve(name, names, libraries):
    """The library name `name` stands for in `names`, or `None`."""
    value = names.get(name, getattr(builtins, name, None))
    if isinstance(value, types.ModuleType):
        qualified = value.__name__
    else:
        module = getattr(value, "__module__", None)
        if not isinstance(module, str):
            return None
        qualified = f"{module}.{getattr(value, '__name__', name)}"
    return qualified if qualified.split(".")[0] in libraries else None
