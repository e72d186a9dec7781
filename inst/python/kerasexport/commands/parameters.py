"""Values a shell passes as text: exporter options and input signatures.

Both are parsed when the command line is read, so a typo is a usage error
(exit 2) before any model is loaded.
"""

import json

import click

_SPEC_KEYS = frozenset({"shape", "dtype", "name"})


def parse_options(ctx, param, values):
    """``KEY=VALUE`` pairs as a dict; a value is JSON when it parses as JSON.

    ``opset_version=17`` gives the int 17, ``is_static=true`` the bool True,
    ``jax2tf_kwargs={"native_serialization": false}`` a dict; anything else
    stays a string.
    """
    options = {}
    for item in values:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(
                f"expected KEY=VALUE with KEY a Python name, received {item!r}.",
                ctx=ctx, param=param,
            )
        if key in options:
            raise click.BadParameter(f"{key!r} is given twice.", ctx=ctx, param=param)
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def parse_signature(ctx, param, text):
    """The JSON text of ``--input-signature``, parsed (shapes and specs left as data).

    Accepted: a list of shapes (``[[null, 28, 28, 1]]``, one per input), a
    dict by input name (``{"a": [null, 4]}``), and in either place a spec
    object ``{"shape": [null, 4], "dtype": "int32"}``. `to_specs()` turns
    the parsed value into what `kerasexport.export` accepts.
    """
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc}): {text!r}.", ctx=ctx, param=param) from None
    if not isinstance(value, (list, dict)) or not value:
        raise click.BadParameter(
            "expected a JSON list (one shape per input, e.g. [[null, 28, 28, 1]]) "
            f"or object (by input name), received {text!r}.",
            ctx=ctx, param=param,
        )
    return value


def is_spec(value):
    """Whether a parsed JSON object is one input's spec rather than inputs by name."""
    return isinstance(value, dict) and "shape" in value and set(value) <= _SPEC_KEYS \
        and isinstance(value["shape"], list)


def to_specs(value):
    """Turn spec objects into `keras.InputSpec`s; shapes, lists and dicts stay.

    Imports Keras: call it once the backend is chosen.

    Raises:
        SignatureError: a malformed shape or an unknown dtype.
    """
    from kerasexport import signature

    if is_spec(value) and set(value) == {"shape"}:
        return value["shape"]  # a bare shape takes the model's input dtype
    if is_spec(value):
        return signature.spec(value["shape"], value.get("dtype", "float32"), value.get("name"))
    if isinstance(value, dict):
        return {key: to_specs(item) for key, item in value.items()}
    if isinstance(value, list) and any(isinstance(item, (list, dict)) for item in value):
        return [to_specs(item) for item in value]
    return value
