"""What an archive endpoint is: the callable given, the model behind it, its signature.

`describe()` turns `add_endpoint()`'s arguments into an `Endpoint` record:
the Keras layer behind `fn` (if any), the reference model verification
compares it with, and Keras's positional form of its signature. The
builders (`native`, `cross`) and verification read these records.
"""

import dataclasses
import functools
import inspect

from kerasexport import errors
from kerasexport.formats import common
from kerasexport import signature as signature_lib

NOT_A_MODEL_CALL = (
    "fn is not a Keras model nor its call method; pass reference=model to "
    "compare it with a model in inference mode"
)
TRAINING_MODE = "a training-mode pass (training=True) need not reproduce the model in inference mode"


@dataclasses.dataclass
class Endpoint:
    """What `add_endpoint()` was given, and what verification needs.

    Attributes:
        name: the endpoint's name.
        fn: the callable given (what Keras's archive receives).
        specs: Keras's positional form of the signature, or `None` for a
            traced `tf.function`.
        options: Keras's options (`is_static`, `jax2tf_kwargs`).
        reference: the Keras model/layer it reproduces, or `None`.
        verify_specs: the signature verification generates inputs from.
        reason: why there is no reference (`""` when there is one).
        function: what `add_endpoint()` returned (Keras's `tf.function`).
        owner: the Keras layer `fn` belongs to, or `None`.
        method: `"__call__"` or `"call"` (which method of `owner`), or `None`.
        training: `True`/`False` when `fn` fixes `training=`, else `None`.
    """

    name: str
    fn: object
    specs: object
    options: dict
    reference: object
    verify_specs: object
    reason: str
    function: object = None
    owner: object = None
    method: object = None
    training: object = None


def describe(name, fn, input_signature, reference, options, check_owner):
    """The `Endpoint` record of an `add_endpoint()` call.

    Args:
        name: the endpoint's name (already checked).
        fn: the callable given.
        input_signature: what the user gave, or `None`.
        reference: the model the user says `fn` reproduces, or `None`.
        options: Keras's options for the endpoint.
        check_owner: called with (name, fn, the Keras layer behind `fn` or
            `None`) before the signature is read: the builder's chance to
            refuse what it cannot build.

    Raises:
        EndpointError, SignatureError, ModelError: see `add_endpoint`.
    """
    if not callable(fn):
        raise errors.EndpointError(
            f"`fn` of endpoint {name!r} must be callable (a model, its "
            f"call method, a function), received an object of type "
            f"{type(fn).__name__}."
        )
    owner, method, training, fn = model_behind(fn)
    check_owner(name, fn, owner)
    model = owner if training is not True else None
    if reference is not None:
        check_reference(reference)
        model = reference
    specs = endpoint_signature(name, fn, input_signature, owner if method == "object" else None, model)
    return Endpoint(
        name=name, fn=fn, specs=specs, options=dict(options),
        reference=model, verify_specs=specs if specs is not None else traced_specs(fn),
        reason="" if model is not None else (TRAINING_MODE if training else NOT_A_MODEL_CALL),
        owner=owner, method=method, training=training,
    )


def model_behind(fn):
    """(owner, method, training, fn): the Keras layer behind `fn`, and the callable to export.

    `method` is `"object"` when `fn` is the layer itself (exported through
    its `__call__`, as Keras's `track_and_add_endpoint()` does), `"call"` or
    `"__call__"` for its bound methods, and `training` the value a
    ``functools.partial(..., training=...)`` of one of them fixes. For any
    other callable: ``(None, None, None, fn)``.
    """
    import keras

    training = None
    inner = fn
    if isinstance(fn, functools.partial) and not fn.args and set(fn.keywords) == {"training"}:
        if isinstance(fn.keywords["training"], bool):
            inner, training = fn.func, fn.keywords["training"]
    if isinstance(inner, keras.layers.Layer):
        if training is None:
            return inner, "object", None, inner.__call__
        return inner, "__call__", training, fn
    owner = getattr(inner, "__self__", None)
    method = getattr(inner, "__name__", None)
    if isinstance(owner, keras.layers.Layer) and method in ("call", "__call__"):
        return owner, method, training, fn
    return None, None, None, fn


def describe_fn(fn):
    if is_tf_function(fn):
        return "a tf.function"
    from kerasexport.cross import custom_code

    if custom_code.is_r_function(fn):
        return "an R function"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"the function {name}"


def in_inference_mode(fn):
    """`fn`, whose layer calls are traced with ``training=False``.

    An endpoint with a reference model computes that model in inference
    mode. Traced without `training`, augmentation layers (`RandomFlip`, ...)
    fall back to their training default; and TensorFlow traces each endpoint
    again when it saves it, so the mode must come with the function.
    """

    def inference(*args, **kwargs):
        with common.inference_mode():
            return fn(*args, **kwargs)

    try:
        inference.__signature__ = inspect.signature(fn)  # the JAX exporter reads it
    except (TypeError, ValueError):
        pass
    return inference


def check_reference(reference):
    import keras

    if not isinstance(reference, keras.layers.Layer):
        raise errors.ModelError(
            "`reference` must be the Keras model the endpoint reproduces, "
            f"received an object of type {type(reference).__name__}."
        )
    if not reference.built:
        raise errors.ModelError(
            f"The reference model {reference.name!r} has not been built; call "
            "it on data once or build it first."
        )


def endpoint_signature(name, fn, input_signature, inferable, model):
    """Keras's positional form of `input_signature`, or None (tf.function).

    Args:
        name: the endpoint's name, for messages.
        fn: the callable to export.
        input_signature: what the user gave, or `None`.
        inferable: the Keras layer `fn` is (the signature may be inferred
            from it), or `None`.
        model: the layer whose inputs the signature must fit, or `None`.
    """
    if input_signature is None:
        if is_tf_function(fn):
            if not fn._list_all_concrete_functions():
                raise errors.SignatureError(
                    f"Endpoint {name!r}: the tf.function has never been "
                    "called, so its input shapes are unknown: you must either "
                    "provide a function that has been called at least once "
                    "(call it on example inputs), or pass `input_signature`."
                )
            return None
        if inferable is not None:
            return signature_lib.normalize(inferable, None)
        raise errors.SignatureError(
            f"Endpoint {name!r} needs an `input_signature`: its function is "
            "not a traced tf.function, so the shapes and dtypes of its inputs "
            "are unknown, and you must provide an `input_signature`, e.g. "
            "[keras.InputSpec(shape=(None, 3), dtype='float32')]. To infer it "
            "from a model, pass the model itself as `fn`."
        )
    if model is not None:
        return signature_lib.normalize(model, input_signature)
    # No model to check against: one spec per positional argument.
    specs = signature_lib.convert(input_signature, None)
    specs = specs if isinstance(specs, list) else [specs]
    _check_arity(name, fn, specs)
    return specs


def _check_arity(name, fn, specs):
    """Refuse a signature with more or fewer entries than `fn` takes."""
    if is_tf_function(fn):
        return
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return  # no introspectable signature: tracing will tell
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) <= len(specs) <= len(positional):
        return
    names = ", ".join(p.name for p in positional) or "none"
    hint = (
        " For a model taking a list of inputs, wrap their specs in one list: "
        "[[spec_1, spec_2]]."
        if len(specs) > len(positional) else
        " Give one spec per positional argument of `fn`."
    )
    raise errors.SignatureError(
        f"Endpoint {name!r}: `fn` takes {len(positional)} positional "
        f"argument(s) ({names}), but `input_signature` describes {len(specs)} "
        f"(one spec per argument).{hint}"
    )


def traced_specs(fn):
    """InputSpecs of the first trace of a tf.function (for verification)."""
    import keras
    import tensorflow as tf

    args, _ = fn._list_all_concrete_functions()[0].structured_input_signature
    return tf.nest.map_structure(
        lambda s: keras.InputSpec(shape=tuple(s.shape.as_list()), dtype=s.dtype.name),
        list(args),
    )


def is_tf_function(fn):
    if not type(fn).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(fn, tf.types.experimental.GenericFunction)


def is_tf_variable(value):
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.Variable)


def is_trackable(value):
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.__internal__.tracking.Trackable)
