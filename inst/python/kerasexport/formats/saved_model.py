"""TensorFlow SavedModel: written by Keras's exporter, opened by TensorFlow.

A SavedModel is a directory holding ``saved_model.pb``. Opened, each
signature (``serving_default``, what TF-Serving calls, and one per Keras
endpoint) and each tf.function with an input signature is an endpoint; the
default is ``serving_default``, as TF-Serving's.
"""

import dataclasses
import os

from kerasexport import artifact as artifact_lib
from kerasexport import errors
from kerasexport.formats import common
from kerasexport import quiet
from kerasexport.artifact import SERVING_DEFAULT

FORMAT = "tf_saved_model"
IS_DIRECTORY = True
SUFFIXES = ()
SAVED_MODEL_FILE = "saved_model.pb"
# Options Keras's SavedModel exporter accepts, per backend (Keras refuses
# `is_static` and `jax2tf_kwargs` on any backend but JAX).
OPTIONS = {
    "tensorflow": (),
    "jax": ("is_static", "jax2tf_kwargs"),
    "torch": (),
}
OPEN_OPTIONS = ()


def companions(path):
    """None: a SavedModel is one directory."""
    return []


def recognizes(path):
    """Whether `path` is a directory holding ``saved_model.pb``."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))


def write(model, path, signature, verbose, **options):
    """Export `model` to a SavedModel directory at `path` with Keras, in inference mode."""
    from keras.src.export import saved_model

    with common.inference_mode():
        saved_model.export_saved_model(
            model, path, verbose=bool(verbose), input_signature=signature, **options
        )


def check(artifact, signature, options):
    """Nothing to refuse: Keras writes the signature it was given."""


def runtime_defaults(path):
    """None: `open` is TensorFlow's default load."""
    return None


def defaults_warning(defaults):
    raise NotImplementedError("a SavedModel has no other defaults")


def open(path):
    """The SavedModel at `path`, loaded by TensorFlow alone: every signature and
    every tf.function with an input signature is an endpoint.

    Raises:
        ArtifactError: a directory TensorFlow cannot load, or one with
            nothing to call.
        DependencyError: TensorFlow is not installed.
    """
    tf, loaded = _load(path)
    endpoints, callers = _endpoints(loaded, tf)
    if not endpoints:
        raise errors.ArtifactError(
            f"The SavedModel at {path!r} has no signature and no tf.function "
            "with an input signature, so nothing can be called."
        )
    default = next((n for n in artifact_lib.DEFAULT_ORDER if n in endpoints), next(iter(endpoints)))
    return artifact_lib.Artifact(
        path=path, format=FORMAT, size=artifact_lib.directory_size(path),
        endpoints=endpoints, default_endpoint=default, runtime=loaded,
        callers=callers, precision=_precision(loaded),
    )


def _precision(loaded):
    """``"int8"`` when the SavedModel holds int8 variables (Keras's int8 quantization), else float32."""
    variables = getattr(loaded, "variables", None) or []
    try:
        return "int8" if any(v.dtype.name == "int8" for v in variables) else "float32"
    except (AttributeError, TypeError):
        return "float32"


def _load(path):
    """TensorFlow, and `tf.saved_model.load(path)`."""
    # TensorFlow's first import prints C++ logs that no setting silences.
    with quiet.quiet(verbose=None):
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise errors.DependencyError(
                f"Loading a SavedModel needs TensorFlow: {exc}", fix="install",
            ) from exc
        try:
            return tf, tf.saved_model.load(path)
        except Exception as exc:
            raise errors.ArtifactError(
                f"{path!r} is not a SavedModel TensorFlow can load: "
                f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            ) from exc


def _endpoints(loaded, tf):
    """Endpoints and their callers: signatures first, then tf.functions with a signature."""
    endpoints = {}
    callers = {}
    for name, fn in loaded.signatures.items():
        endpoints[name], callers[name] = _signature_endpoint(name, fn, tf)
    twin = _serving_default_twin(loaded.signatures)
    if twin is not None:
        endpoints[SERVING_DEFAULT] = dataclasses.replace(endpoints[SERVING_DEFAULT], same_as=twin)
    for name in sorted(dir(loaded)):
        if name.startswith("_") or name in endpoints or name == "signatures":
            continue
        fn = getattr(loaded, name, None)
        if getattr(fn, "input_signature", None) is None or not callable(fn):
            continue
        endpoints[name], callers[name] = _function_endpoint(name, fn, tf)
    return endpoints, callers


def _called_functions(fn):
    """Names of the functions a signature's wrapper graph calls."""
    try:
        return frozenset(
            op.get_attr("f").name for op in fn.graph.get_operations()
            if op.type in ("StatefulPartitionedCall", "PartitionedCall")
        )
    except Exception:  # a graph we cannot read: say nothing rather than guess
        return frozenset()


def _serving_default_twin(signatures):
    """The signature that `serving_default` duplicates, if one does.

    Keras writes `serving_default` as a second signature over the first
    endpoint's function; both wrappers then call the same traced function.
    """
    if SERVING_DEFAULT not in signatures:
        return None
    target = _called_functions(signatures[SERVING_DEFAULT])
    if not target:
        return None
    for name, fn in signatures.items():
        if name != SERVING_DEFAULT and _called_functions(fn) == target:
            return name
    return None


def _spec_info(name, spec):
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return artifact_lib.TensorInfo(name, spec.dtype.name, shape)


def _signature_endpoint(name, fn, tf):
    kwargs = fn.structured_input_signature[1]
    try:
        order = list(fn.function_type.parameters)
    except AttributeError:
        order = sorted(kwargs)
    order = [n for n in order if n in kwargs] or sorted(kwargs)
    inputs = tuple(_spec_info(n, kwargs[n]) for n in order)
    structured = fn.structured_outputs
    if isinstance(structured, dict):
        output_names = sorted(structured)  # tf.nest's order
        outputs = tuple(_spec_info(n, structured[n]) for n in output_names)
    else:
        flat = tf.nest.flatten(structured)
        output_names = None
        outputs = tuple(_spec_info(f"output_{i}", s) for i, s in enumerate(flat))
    endpoint = artifact_lib.Endpoint(name, "signature", inputs, outputs,
                        serving_default=(name == SERVING_DEFAULT))

    def call(arrays):
        result = fn(**dict(zip(order, arrays)))
        if output_names is not None:
            return [result[n].numpy() for n in output_names]
        return [t.numpy() for t in tf.nest.flatten(result)]

    return endpoint, call


def _function_endpoint(name, fn, tf):
    signature = fn.input_signature
    flat = tf.nest.flatten(signature)
    inputs = tuple(
        _spec_info(s.name or f"input_{i}", s) for i, s in enumerate(flat)
    )
    concrete = fn.get_concrete_function(*signature)
    out_flat = tf.nest.flatten(concrete.structured_outputs)
    if isinstance(concrete.structured_outputs, dict):
        names = sorted(concrete.structured_outputs)  # tf.nest's order
    else:
        names = [f"output_{i}" for i in range(len(out_flat))]
    outputs = tuple(_spec_info(n, s) for n, s in zip(names, out_flat))
    endpoint = artifact_lib.Endpoint(name, "function", inputs, outputs)

    def call(arrays):
        args = tf.nest.pack_sequence_as(signature, list(arrays))
        return [t.numpy() for t in tf.nest.flatten(fn(*args))]

    return endpoint, call
