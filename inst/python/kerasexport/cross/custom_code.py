"""The model's custom code, packed for the cross-backend worker.

A `.keras` file names the model's custom classes and functions; the worker
that reloads it must find each one under that name. Two ways there:

- **By name**: a class or function registered with
  ``keras.saving.register_keras_serializable`` in a module the worker can
  import. The worker imports the module; the decorator registers it.
- **By value**: everything else Keras can save — classes and functions
  defined in ``__main__`` (a script, a notebook), inside a function, in a
  module off the worker's path, or never registered. They are pickled with
  cloudpickle (by value where the worker could not import them) and handed
  to `keras.saving.load_model` as custom objects under their Keras names.
  Python lambdas of `Lambda` layers travel the same way: Keras saves them as
  bytecode without their globals, so the worker puts the originals back.

Code written in R (a keras3 ``Layer()`` with R methods, an R function in a
`Lambda` layer) runs only inside R and cannot travel: `pack` refuses it up
front, naming it.
"""

import dataclasses
import importlib
import importlib.machinery
import io
import os
import sys
import types

from kerasexport import errors
from kerasexport import routes
from kerasexport.cross import environment

_FIX = (
    "Write it in Python with keras.ops and keras.layers, or register it "
    "with `@keras.saving.register_keras_serializable(package=\"...\")` in an "
    "importable module and import that module before exporting."
)


@dataclasses.dataclass
class Package:
    """What the worker needs besides the `.keras` file.

    Attributes:
        imports: sorted module names to import (registered, importable code).
        payload: cloudpickle bytes of ``{"objects": {name: obj}, "lambdas":
            [{index: (layer name, {attribute: function})}, ...]}`` (one
            dict per model), or `None`.
        by_value: dotted names of what the payload carries by value.
        stamps: module name -> file stamp, for each module the worker will
            import (to replace a worker holding an older copy).
    """

    imports: list
    payload: object
    by_value: list
    stamps: dict


def pack(models, backend, source_backend, worker_path):
    """Find the custom code of `models` and pack it for the worker.

    Args:
        models: a `keras.Model` or layer, or a list of them (an archive's).
        backend: `str`, the worker's backend (for messages).
        source_backend: `str`, the models' backend (for messages).
        worker_path: list of directories on the worker's ``sys.path``.

    Returns:
        A `Package`; its payload's ``"lambdas"`` has one dict per model.

    Raises:
        RouteError: for code written in R, a saved name that names nothing
            this process can find, or an object cloudpickle cannot pickle.
    """
    import keras

    models = models if isinstance(models, (list, tuple)) else [models]
    imports, shipped, stamps = set(), {}, {}
    for model in models:
        try:
            config = keras.saving.serialize_keras_object(model)
        except Exception:
            config = {}  # the caller reports the failure to save.
        live = _live_objects(model)
        for key, kind, layer_name, saved_as in _saved_custom_names(config):
            obj = live.get(key) or keras.saving.get_registered_object(key)
            if _found_by_keras(saved_as, obj):
                continue
            if obj is None:
                raise errors.RouteError(
                    f"The model's layer {layer_name!r} uses the {kind} {key!r}, which "
                    "this process cannot find by that name (it is saved under it), "
                    "so the worker process that reloads the model could not either; "
                    f"the model can't take the cross-backend route. {_FIX}"
                )
            _refuse_r_code(obj, kind, layer_name, source_backend)
            if _importable(obj, worker_path):
                stamps[obj.__module__] = _stamp(obj.__module__)
                if keras.saving.get_registered_object(key) is obj:
                    imports.add(obj.__module__)
                    continue
            shipped[key] = obj
    lambdas = [_python_lambdas(model, source_backend) for model in models]
    by_value = sorted(
        _dotted(obj) for obj in shipped.values() if not _importable(obj, worker_path)
    )
    payload = None
    if shipped or any(lambdas):
        payload = _pickle({"objects": shipped, "lambdas": lambdas}, shipped, worker_path, backend)
    return Package(sorted(imports), payload, by_value, stamps)


def _found_by_keras(saved_as, obj):
    """Whether Keras's loader finds the class saved as `saved_as` by itself.

    Keras saves some of its own classes (the operations of a Functional
    model's ``x + 3.0``, `Functional`) with a registered name, and reloads
    them from their module. Shipping them would be wrong as well as useless:
    custom objects are looked up by name, so an operation ``Add`` sent along
    would also stand in for the layer ``Add``.

    Args:
        saved_as: `(module, class name)` from the config, or `None`.
        obj: the live object found for the saved name, or `None`.
    """
    if saved_as is None:
        return False
    module, name = saved_as
    if module.split(".")[0] not in _KERAS_PACKAGES or not isinstance(name, str):
        return False
    try:
        found = vars(importlib.import_module(module)).get(name)
    except Exception:  # noqa: BLE001 - then Keras cannot either
        return False
    if not isinstance(found, type):
        return False
    # A name-alike Keras class stands for it too; a class defined inside a
    # function of a Keras module (a Keras test's) is not the one found.
    return obj is None or obj is found or (_in_keras(obj) and "<locals>" not in obj.__qualname__)


# Packages whose classes Keras's loader imports from their saved module.
_KERAS_PACKAGES = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp"})


def _saved_custom_names(config, layer_name=None):
    """(name, kind, layer name, (module, class name)) per custom object a config names.

    The kind is "class" or "function"; the last item is `None` for functions.

    A class is looked up by its registered name, a function by the name its
    config holds. Keras finds its own objects; the compile and build configs
    are skipped (the worker loads with ``compile=False``).
    """
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            return  # a lambda's bytecode; `_python_lambdas` sends the original
        inner = config.get("config")
        module = str(config.get("module"))
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            layer_name = inner["name"]
        if config.get("class_name") == "function" and isinstance(inner, str):
            if module.split(".")[0] != "keras":
                yield inner, "function", layer_name, None
            return
        registered = config.get("registered_name")
        if isinstance(registered, str) and "class_name" in config:
            # Keras saves its own classes without a registered name; any
            # other class has one, whatever its module (a class defined in a
            # test of Keras's own package included).
            yield registered, "class", layer_name, (module, config["class_name"])
        for key, value in config.items():
            if key not in ("compile_config", "build_config"):
                yield from _saved_custom_names(value, layer_name)
    elif isinstance(config, (list, tuple)):
        for value in config:
            yield from _saved_custom_names(value, layer_name)


def _live_objects(model):
    """Custom classes and functions reachable from the model, by Keras name."""
    import keras

    found = {}

    def add(obj):
        if getattr(obj, "__module__", None) is None:
            return
        key = keras.saving.get_registered_name(obj)
        if key not in found or _in_keras(found[key]):  # a user's class named like Keras's wins
            found[key] = obj

    for layer in model._flatten_layers(include_self=True):
        add(type(layer))
        for value in vars(layer).values():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, type):
                    continue
                if isinstance(item, types.FunctionType):
                    add(item)
                elif hasattr(item, "get_config") and not isinstance(item, keras.layers.Layer):
                    add(type(item))  # initializers, regularizers, constraints...
    return found


def _in_keras(obj):
    return str(getattr(obj, "__module__", "")).split(".")[0] == "keras"


def _dotted(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def _importable(obj, worker_path):
    """Whether the worker can import `obj` by its module and qualified name."""
    name = getattr(obj, "__module__", None)
    if not name or name in ("__main__", "__mp_main__") or "<locals>" in obj.__qualname__:
        return False
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None)
    if origin is None or _attribute(module, obj.__qualname__) is not obj:
        return False
    spec = importlib.machinery.PathFinder.find_spec(name.split(".")[0], worker_path)
    if spec is None:
        return False
    root = (spec.submodule_search_locations or [spec.origin])[0]
    return bool(root) and os.path.realpath(origin).startswith(os.path.realpath(root))


def _attribute(module, qualname):
    value = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
    return value


def _stamp(module_name):
    return environment.module_stamp(module_name)


# Code written in R -------------------------------------------------------------


def _is_r_function(value):
    return str(getattr(value, "__module__", "")).startswith("rpytools")


def is_r_function(value):
    """An R function reticulate passed to Python, or a Python wrapper calling one."""
    cells = getattr(value, "__closure__", None) or ()
    return _is_r_function(value) or any(_is_r_function(_cell(c)) for c in cells)


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _refuse_r_code(obj, kind, layer_name, source_backend):
    if isinstance(obj, type):
        # keras3's Layer(): a class made in an R environment, its methods wrapping R functions.
        made_in_r = str(getattr(obj, "__module__", "")).startswith("<r-")
        if not made_in_r and not any(is_r_function(v) for v in vars(obj).values()):
            return
        what = f"the class {obj.__qualname__}, written in R (its methods are R functions)"
    elif _is_r_function(obj):
        what = "an R function (passed through reticulate)"
    else:
        return
    raise errors.RouteError(
        f"The model's layer {layer_name!r} uses {what}. R code runs only in "
        "this R session and cannot travel to the worker process of another "
        f"backend, so the model can't take the cross-backend route.{_native_hint(source_backend)} "
        "Or write the layer in Python with keras.ops and keras.layers."
    )


def _native_hint(source_backend):
    native = routes.NATIVE.get(source_backend, ())
    if "onnx" not in native:
        return ""
    return (
        f" Export to ONNX instead: the {source_backend} backend writes it "
        "natively, in this session, where R code runs."
    )


# Lambdas -------------------------------------------------------------------------


def _python_lambdas(model, source_backend):
    """{position: (layer name, {attribute: lambda})} for every Lambda layer's Python lambdas."""
    import keras

    lambdas = {}
    for index, layer in enumerate(model._flatten_layers(include_self=True)):
        if not isinstance(layer, keras.layers.Lambda):
            continue
        functions = {}
        for attribute in ("function", "_output_shape", "mask"):
            value = getattr(layer, attribute, None)
            if _is_r_function(value):
                _refuse_r_code(value, "function", layer.name, source_backend)
            if getattr(value, "__name__", None) == "<lambda>":
                functions[attribute] = value
        if functions:
            lambdas[str(index)] = (layer.name, functions)
    return lambdas


# Pickling ------------------------------------------------------------------------


def _pickle(data, shipped, worker_path, backend):
    """cloudpickle `data`; modules off the worker's path go by value."""
    import cloudpickle

    off_path = sorted({
        obj.__module__ for obj in shipped.values()
        if obj.__module__ in sys.modules and obj.__module__ not in ("__main__", "__mp_main__")
        and "<locals>" not in obj.__qualname__ and not _importable(obj, worker_path)
    })
    registered = []
    try:
        for name in off_path:
            try:
                cloudpickle.register_pickle_by_value(sys.modules[name])
                registered.append(name)
            except ValueError:
                pass  # already registered by the user
        buffer = io.BytesIO()
        try:
            cloudpickle.dump(data, buffer)
        except Exception as exc:
            culprit = _unpicklable(data, shipped)
            raise errors.RouteError(
                f"The model's custom code{culprit} could not be sent to the {backend} "
                f"worker process by value: {routes.describe(exc)}. Objects its "
                "methods use from their module's globals travel with it; keep "
                "those to plain data, Keras objects and modules, so the model "
                "can take the cross-backend route."
            ) from exc
        return buffer.getvalue()
    finally:
        for name in registered:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])


def _unpicklable(data, shipped):
    """`` (name)`` of the first shipped object cloudpickle refuses, for messages."""
    import cloudpickle

    for key, obj in shipped.items():
        try:
            cloudpickle.dumps(obj)
        except Exception:
            return f" ({_dotted(obj)}, saved as {key!r})"
    for layer_name, functions in (v for lambdas in data["lambdas"] for v in lambdas.values()):
        try:
            cloudpickle.dumps(functions)
        except Exception:
            return f" (the lambda of Lambda layer {layer_name!r})"
    return ""
