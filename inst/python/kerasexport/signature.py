"""Input signatures: from what users write to what Keras's exporters expect.

Users (and the R package) may give:

- ``None``: inferred from the model, with a dynamic batch dimension;
- a shape, a tuple/list of ints and ``None`` (e.g. ``(None, 28, 28, 1)``);
- a ``keras.InputSpec``, ``tf.TensorSpec``, ``KerasTensor`` or array;
- a list of the above, one per positional input (or per input of a
  Functional model taking a list);
- a dict of the above, for dict inputs, or for a Functional model taking
  a list of named inputs (matched by name, as `Artifact.predict` does).

Keras's exporters take a *list of positional arguments*: a Functional model
takes one argument holding its whole input structure (``[[a, b]]``,
``[{"x": a}]``); Sequential and subclassed models take one spec per argument.
"""

import numbers

import numpy as np

from kerasexport import dtypes
from kerasexport import errors

# The dtypes an input may have: those of the one table.
KNOWN_DTYPES = dtypes.NAMES


def spec(shape, dtype="float32", name=None):
    """Build a `keras.InputSpec` from a shape with ``None`` for unknown dims.

    Args:
        shape: tuple or list of int or `None`.
        dtype: `str`. One of `KNOWN_DTYPES`. Defaults to `"float32"`.
        name: `str` or `None`. The input's name. Defaults to `None`.

    Returns:
        A `keras.InputSpec`.

    Raises:
        SignatureError: on a malformed shape or an unknown dtype.
    """
    import keras

    return keras.InputSpec(shape=_check_shape(shape), dtype=_check_dtype(dtype), name=name)


def _check_dtype(dtype):
    dtype = getattr(dtype, "name", dtype)
    if not isinstance(dtype, str) or dtype not in KNOWN_DTYPES:
        raise errors.SignatureError(
            f"Unknown dtype {dtype!r} in `input_signature`. "
            f"Expected one of: {', '.join(KNOWN_DTYPES)}."
        )
    return dtype


def _check_shape(shape):
    if not isinstance(shape, (tuple, list)):
        raise errors.SignatureError(
            f"A shape must be a tuple of int or None, received {shape!r}."
        )
    dims = []
    for dim in shape:
        if dim is None:
            dims.append(None)
            continue
        if isinstance(dim, bool) or not isinstance(dim, numbers.Real):
            raise errors.SignatureError(
                f"Dimensions must be whole numbers or None (unknown), received "
                f"{dim!r} in shape {tuple(shape)!r}."
            )
        if dim != int(dim):
            raise errors.SignatureError(
                f"Dimensions must be whole numbers, received the fractional "
                f"dimension {dim!r} in shape {tuple(shape)!r}."
            )
        if dim < 0:
            raise errors.SignatureError(
                f"Dimensions must be positive or None (unknown), received "
                f"{int(dim)} in shape {tuple(shape)!r}. Use None for an "
                "unknown dimension."
            )
        dims.append(int(dim))
    if not dims:
        raise errors.SignatureError(
            "A shape needs at least the batch dimension, received an empty shape."
        )
    return tuple(dims)


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or (isinstance(d, numbers.Real) and not isinstance(d, bool))
        for d in value
    ) and len(value) > 0


def _leaf_to_spec(value, default_dtype, name=None):
    """Turn one leaf of a user signature into a `keras.InputSpec`."""
    import keras

    if isinstance(value, keras.InputSpec):
        if value.shape is None:
            raise errors.SignatureError(
                f"The InputSpec {value!r} has no shape; give one, e.g. "
                "`keras.InputSpec(shape=(None, 3))`."
            )
        dtype = value.dtype or default_dtype
        return keras.InputSpec(
            shape=_check_shape(value.shape), dtype=_check_dtype(dtype),
            name=value.name or name,
        )
    if isinstance(value, keras.KerasTensor):
        shape = (None,) + tuple(value.shape[1:])
        return keras.InputSpec(shape=shape, dtype=_check_dtype(value.dtype), name=name or value.name)
    if _is_tf_tensor_spec(value):
        shape = tuple(value.shape.as_list()) if value.shape.rank is not None else None
        if shape is None:
            raise errors.SignatureError(f"The TensorSpec {value!r} has an unknown rank.")
        return keras.InputSpec(
            shape=_check_shape(shape), dtype=_check_dtype(value.dtype.name),
            name=value.name or name,
        )
    if isinstance(value, np.ndarray) or _is_backend_tensor(value):
        array = np.asarray(value)
        if array.ndim == 0:
            raise errors.SignatureError(
                "An array in `input_signature` needs at least one dimension "
                "(the batch), received a scalar."
            )
        dtype = "string" if array.dtype.kind in "USO" else array.dtype.name
        return keras.InputSpec(shape=(None,) + array.shape[1:], dtype=_check_dtype(dtype), name=name)
    if _is_shape(value):
        return keras.InputSpec(shape=_check_shape(value), dtype=default_dtype, name=name)
    raise errors.SignatureError(
        f"Cannot read {value!r} (of type {type(value).__name__}) as an input "
        "specification. Expected a shape such as (None, 28, 28, 1), a "
        "keras.InputSpec, a tf.TensorSpec, a KerasTensor or an array."
    )


def _is_tf_tensor_spec(value):
    return type(value).__name__ == "TensorSpec" and hasattr(value, "shape") and hasattr(value, "dtype")


def _is_backend_tensor(value):
    from keras import ops

    try:
        return ops.is_tensor(value)
    except Exception:
        return False


def _is_leaf(value):
    return not isinstance(value, (list, tuple, dict)) or _is_shape(value)


def _model_inputs(model):
    """The model's input structure as KerasTensors, or None if unknown."""
    import keras

    if isinstance(model, keras.Sequential):
        # A built Sequential model takes one tensor (Keras exports `[spec]`).
        inputs = model.inputs if getattr(model, "_functional", None) is not None else None
        return inputs[0] if inputs else None
    return getattr(model, "_inputs_struct", None)


def _input_dtypes(model):
    """Default dtypes for shapes given without one: the model's input dtypes."""
    import keras

    structure = _model_inputs(model)
    if structure is None:
        return {}, getattr(model, "input_dtype", None) or "float32"
    flat = keras.tree.flatten(structure)
    by_name = {t.name: t.dtype for t in flat}
    by_position = {i: t.dtype for i, t in enumerate(flat)}
    fallback = flat[0].dtype if len(flat) == 1 else "float32"
    return {"name": by_name, "position": by_position}, fallback


def convert(structure, model):
    """Map the leaves of a user signature to `keras.InputSpec`s.

    Unlike `normalize`, keeps the user's structure as it is (for endpoints
    whose function is not a model).

    Args:
        structure: a signature in any form this module accepts.
        model: a `keras.Model` whose input dtypes serve as defaults, or `None`.

    Returns:
        The same structure with `keras.InputSpec` leaves.
    """
    dtypes, fallback = _input_dtypes(model)

    if _is_leaf(structure):
        return _leaf_to_spec(structure, fallback)
    if isinstance(structure, dict):
        if not structure:
            raise errors.SignatureError("`input_signature` is an empty dict.")
        return {
            key: _leaf_to_spec(value, dtypes.get("name", {}).get(key, "float32"), name=key)
            if _is_leaf(value) else _nested_error(value)
            for key, value in structure.items()
        }
    items = list(structure)
    if not items:
        raise errors.SignatureError("`input_signature` is an empty list.")
    converted = []
    for i, value in enumerate(items):
        if _is_leaf(value):
            converted.append(_leaf_to_spec(value, dtypes.get("position", {}).get(i, "float32")))
        elif isinstance(value, (list, tuple, dict)):
            converted.append(convert(value, model))
        else:
            _nested_error(value)
    return converted


def _nested_error(value):
    raise errors.SignatureError(
        f"Unexpected nesting in `input_signature`: {value!r}. Use one spec per "
        "input: a list for several inputs, a dict for named inputs."
    )


def _input_label(tensor, position):
    """How to name an input in messages: its name, unless Keras made it up."""
    name = getattr(tensor, "name", None)
    if not name or name.startswith("keras_tensor"):
        return f"#{position + 1}"
    return repr(name)


def _check_against_model(specs, model):
    """Check that the specs have the model's input structure, names and shapes."""
    import keras

    structure = _model_inputs(model)
    if structure is None:
        return
    if isinstance(structure, dict):
        if not isinstance(specs, dict):
            raise errors.SignatureError(
                f"The model takes a dict of inputs {sorted(structure)}, but "
                f"`input_signature` is a {type(specs).__name__}. Give a dict "
                "with those names."
            )
        if set(specs) != set(structure):
            raise errors.SignatureError(
                f"`input_signature` names {sorted(specs)} do not match the "
                f"model's inputs {sorted(structure)}."
            )
        pairs = [(specs[k], structure[k], repr(k)) for k in structure]
    elif isinstance(specs, dict):
        count = len(keras.tree.flatten(structure))
        raise errors.SignatureError(
            f"`input_signature` is a dict (names {sorted(specs)}), but the model "
            f"takes {count} positional input(s), not a dict. Give an unnamed list."
        )
    elif isinstance(structure, (list, tuple)):
        if not isinstance(specs, list):
            specs = [specs]
        if len(specs) != len(structure):
            raise errors.SignatureError(
                f"`input_signature` describes {len(specs)} input(s), but the "
                f"model takes {len(structure)}."
            )
        pairs = [(s, t, _input_label(t, i)) for i, (s, t) in enumerate(zip(specs, structure))]
    else:
        if isinstance(specs, list) and len(specs) > 1:
            raise errors.SignatureError(
                f"`input_signature` describes {len(specs)} input(s), but the model takes 1."
            )
        pairs = [(specs, structure, _input_label(structure, 0))]
    for spec_, tensor, label in pairs:
        if not isinstance(spec_, keras.InputSpec):
            raise errors.SignatureError(
                f"Unexpected nesting for input {label}: expected one shape or "
                f"spec, received {spec_!r}."
            )
        if len(spec_.shape) != len(tensor.shape):
            raise errors.SignatureError(
                f"Input {label} has rank {len(tensor.shape)} (shape "
                f"{tuple(tensor.shape)}), but `input_signature` gives shape "
                f"{tuple(spec_.shape)} (rank {len(spec_.shape)})."
            )
        for got, want in zip(spec_.shape[1:], tensor.shape[1:]):
            if got is not None and want is not None and got != want:
                raise errors.SignatureError(
                    f"Input {label} has shape {tuple(tensor.shape)}, but "
                    f"`input_signature` gives {tuple(spec_.shape)}."
                )


def normalize(model, input_signature):
    """Return the signature in the form Keras's exporters take.

    Args:
        model: a built `keras.Model`.
        input_signature: any form listed in this module's docstring, or
            `None`. Defaults to `None`.

    Returns:
        A list of positional-argument specs (`keras.InputSpec` leaves).

    Raises:
        SignatureError: when the signature is malformed or does not fit the
            model.
        ModelError: when `input_signature` is `None` and the model was never
            built.
    """
    if input_signature is None:
        return _infer(model)
    structure = _model_inputs(model)
    if structure is None:
        # Subclassed model: one spec per positional argument of `call()`.
        specs = convert(input_signature, model)
        return specs if isinstance(specs, list) else [specs]
    # Sequential and Functional models take one argument: the inputs.
    user = input_signature
    if _is_wrapped(user, structure):
        user = user[0]  # Already in Keras's own form, [[a, b]] or [{...}].
    specs = convert(user, model)
    if isinstance(structure, (list, tuple)) and isinstance(specs, dict):
        specs = _in_input_order(specs, structure)
    if isinstance(structure, (list, tuple)):
        specs = specs if isinstance(specs, list) else [specs]
    elif isinstance(specs, list) and len(specs) == 1:
        specs = specs[0]
    _check_against_model(specs, model)
    return [specs]


def _in_input_order(specs, structure):
    """A dict of specs for a model taking a list of named inputs, as a list in input order.

    Raises:
        SignatureError: when the names are not the inputs' names.
    """
    names = [getattr(t, "name", None) for t in structure]
    if set(specs) == set(names) and len(set(names)) == len(names):
        return [specs[name] for name in names]
    raise errors.SignatureError(
        f"`input_signature` names {sorted(specs)}, but the model takes a list of "
        f"{len(names)} input(s) named {names}. Name each spec after one input, "
        "or give an unnamed list in the model's input order."
    )


def _is_wrapped(user, structure):
    """True for Keras's ``[structure]`` form, e.g. ``[[a, b]]`` or ``[{...}]``."""
    if not isinstance(user, (list, tuple)) or _is_shape(user) or len(user) != 1:
        return False
    inner = user[0]
    if isinstance(inner, dict):
        return True
    one_input_list = isinstance(structure, (list, tuple)) and len(structure) == 1
    return isinstance(inner, (list, tuple)) and not _is_shape(inner) and not one_input_list


def _infer(model):
    from keras.src.export import export_utils

    if not getattr(model, "built", False):
        raise errors.ModelError(
            "The model has not been built, so its inputs are unknown. It must "
            "be built before export: call it on data once, build it "
            "(`model.build(shape)`), or pass `input_signature`."
        )
    try:
        specs = export_utils.get_input_signature(model)
    except ValueError as exc:
        raise errors.ModelError(
            f"Cannot infer the input signature: {exc} Call the model on data "
            "once, or pass `input_signature`."
        ) from exc
    _check_positional_inputs(model, specs)
    return specs


def _check_positional_inputs(model, specs):
    """Refuse an inferred signature that misses some of `call()`'s inputs.

    Keras builds a subclassed model from the shape of the first argument of
    `call()` only, so for `call(self, a, b)` it infers one spec, and every
    exporter then fails with "missing a required argument: 'b'".
    """
    import inspect

    import keras

    if _model_inputs(model) is not None:
        return  # Functional and Sequential models take one argument.
    try:
        parameters = inspect.signature(model.call).parameters.values()
    except (TypeError, ValueError):
        return
    required = [
        p.name for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty and p.name not in ("training", "mask")
    ]
    if len(required) <= len(specs):
        return
    first = specs[0]
    known = (
        f"{required[0]}, with shape {tuple(first.shape)}"
        if isinstance(first, keras.InputSpec) else required[0]
    )
    raise errors.SignatureError(
        f"The model's call() takes {len(required)} positional inputs "
        f"({', '.join(required)}), but Keras recorded the shape of only the "
        f"first, {known}, when the model was built, so the input signature "
        "cannot be inferred. Pass `input_signature` with one shape per input, "
        f"in call()'s order (a list of {len(required)})."
    )


def flat_specs(signature):
    """The leaves of a normalized signature, in Keras's flattening order."""
    import keras

    return keras.tree.flatten(signature)


def to_json(signature):
    """A normalized signature as JSON-ready data (for the worker process).

    Leaves become ``{"spec": {"shape", "dtype", "name"}}``, lists
    ``{"list": [...]}``, tuples ``{"tuple": [...]}`` and dicts
    ``{"dict": {...}}``, so nesting (and a tuple input) survives.
    """
    import keras

    if isinstance(signature, keras.InputSpec):
        return {"spec": {
            "shape": list(signature.shape), "dtype": signature.dtype, "name": signature.name,
        }}
    if isinstance(signature, dict):
        return {"dict": {str(k): to_json(v) for k, v in signature.items()}}
    if isinstance(signature, tuple):  # a model taking a tuple gets one
        return {"tuple": [to_json(v) for v in signature]}
    if isinstance(signature, list):
        return {"list": [to_json(v) for v in signature]}
    raise errors.SignatureError(
        f"Cannot pass {signature!r} to the worker process: expected a "
        "normalized signature (keras.InputSpec leaves in lists and dicts)."
    )


def from_json(data):
    """The inverse of `to_json`: keras.InputSpec leaves in lists and dicts."""
    if "spec" in data:
        leaf = data["spec"]
        return spec(leaf["shape"], leaf["dtype"], leaf["name"])
    if "dict" in data:
        return {k: from_json(v) for k, v in data["dict"].items()}
    if "tuple" in data:
        return tuple(from_json(v) for v in data["tuple"])
    return [from_json(v) for v in data["list"]]
