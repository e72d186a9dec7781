"""TensorFlow Serving's REST predict API: request bodies into arrays, arrays into responses.

Follows TF-Serving's ``api_rest.md`` ("Request format", "Response
format"): the row format (``"instances"`` -> ``"predictions"``) and the
columnar format (``"inputs"`` -> ``"outputs"``), ``{"b64": ...}`` for
binary strings (outputs whose name ends in ``_bytes``, or that are not
UTF-8), ``NaN``/``Infinity`` tokens accepted in requests and written in
responses. Keys other than ``instances``, ``inputs`` and
``signature_name`` are ignored, as TF-Serving ignores them. Used by the
server's ``:predict`` and by ``kerasexport predict --input request.json``,
so both read and answer the same bodies and refuse the same ones
(`RequestError`, with the same words).
"""

import dataclasses

from kerasexport import errors
from kerasexport.artifact import SERVING_DEFAULT, check_inputs
from kerasexport.codec import tensors
from kerasexport.errors import RequestError


@dataclasses.dataclass
class PredictRequest:
    """A decoded ``:predict`` body: which signature, which format, the values."""

    signature_name: str | None
    rows: bool
    values: object


def decode_predict(body):
    """Parse a ``:predict`` body.

    Raises:
        RequestError: empty or malformed JSON, not an object, both or neither
            of ``instances`` and ``inputs``, a non-string ``signature_name``.
    """
    request = tensors.loads(body, "a JSON object with \"instances\" (row format) "
                                  "or \"inputs\" (columnar format)")
    if not isinstance(request, dict):
        raise RequestError(f"The request body is a JSON {tensors.json_type(request)}; expected "
                         "an object with \"instances\" or \"inputs\".")
    has_rows, has_columns = "instances" in request, "inputs" in request
    if has_rows and has_columns:
        raise RequestError("The request has both \"instances\" and \"inputs\"; a request "
                         "uses one format: \"instances\" (row) or \"inputs\" (columnar).")
    if not (has_rows or has_columns):
        raise RequestError(f"The request has neither \"instances\" nor \"inputs\" (keys: "
                         f"{sorted(request)}); expected one of them.")
    signature = request.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise RequestError(f"\"signature_name\" must be a string, received a JSON "
                         f"{tensors.json_type(signature)}.")
    return PredictRequest(signature or None, has_rows,
                          request["instances"] if has_rows else request["inputs"])


def endpoint(artifact, signature_name):
    """The endpoint a ``signature_name`` asks for.

    No name, or ``serving_default`` on an artifact without that signature
    (an ONNX file), means the artifact's default endpoint, as TF-Serving.

    Raises:
        RequestError: an unknown signature (the message lists the available).
    """
    if signature_name is None or (signature_name == SERVING_DEFAULT
                                  and signature_name not in artifact.endpoints):
        return artifact.endpoint()
    if signature_name not in artifact.endpoints:
        raise RequestError(f"Unknown signature_name {signature_name!r}. Available: "
                         f"{sorted(artifact.endpoints)}.")
    return artifact.endpoints[signature_name]


def inputs(endpoint, request):
    """The request's values as checked arrays, in the endpoint's input order.

    Raises:
        RequestError: ragged or non-numeric values, instances that are not
            objects keyed by input name when there are several inputs,
            unknown or missing inputs, wrong rank, dimension or dtype.
    """
    named = _rows(endpoint, request.values) if request.rows else _columns(endpoint, request.values)
    try:
        return check_inputs(endpoint, named)
    except errors.InputError as exc:
        raise RequestError(str(exc)) from None


def _rows(endpoint, instances):
    specs = {t.name: t for t in endpoint.inputs}
    if not isinstance(instances, list) or not instances:
        raise RequestError(f"\"instances\" must be a non-empty list (one item per row); received "
                         f"{_described(instances)}.")
    objects = [isinstance(i, dict) and not _is_b64(i) for i in instances]
    if all(objects):
        _check_names(endpoint, instances[0], "instance 0")
        for i, instance in enumerate(instances[1:], start=1):
            if set(instance) != set(instances[0]):
                raise RequestError(f"instance {i} has inputs {sorted(instance)}, instance 0 has "
                                 f"{sorted(instances[0])}; every instance needs the same inputs.")
        columns = tensors.by_position_if_single(
            endpoint, {k: [i[k] for i in instances] for k in instances[0]})
        return {name: tensors.to_array(columns[name], info, f"input {name!r}")
                for name, info in specs.items()}
    if any(objects):
        raise RequestError("\"instances\" mixes objects (inputs by name) and plain values; use "
                         "one form for every instance.")
    if len(specs) != 1:
        raise RequestError(f"The signature {endpoint.name!r} takes {len(specs)} inputs "
                         f"({', '.join(specs)}); in the row format each instance must be an "
                         "object keyed by input name.")
    (name, info), = specs.items()
    return {name: tensors.to_array(instances, info, "\"instances\"")}


def _columns(endpoint, values):
    specs = {t.name: t for t in endpoint.inputs}
    if isinstance(values, dict) and not _is_b64(values):
        _check_names(endpoint, values, "\"inputs\"")
        values = tensors.by_position_if_single(endpoint, values)
        return {name: tensors.to_array(values[name], info, f"input {name!r}")
                for name, info in specs.items()}
    if len(specs) != 1:
        raise RequestError(f"The signature {endpoint.name!r} takes {len(specs)} inputs "
                         f"({', '.join(specs)}); \"inputs\" must be an object keyed by input name.")
    (name, info), = specs.items()
    return {name: tensors.to_array(values, info, "\"inputs\"")}


def _check_names(endpoint, given, where):
    names = [t.name for t in endpoint.inputs]
    if len(names) == 1 and len(given) == 1:
        return  # one input: any name will do (see tensors.by_position_if_single)
    missing = [n for n in names if n not in given]
    extra = sorted(k for k in given if k not in names)
    if missing or extra:
        raise RequestError(
            f"{where} does not match the inputs of signature {endpoint.name!r}: "
            + (f"missing {missing}; " if missing else "")
            + (f"unexpected {extra}; " if extra else "")
            + f"expected {names}."
        )


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _described(value):
    if isinstance(value, list):
        return "an empty list"
    return f"a JSON {tensors.json_type(value)}"


def encode_predict(endpoint, outputs, rows):
    """The ``:predict`` response body for outputs in the endpoint's order.

    Raises:
        RequestError: a row-format request on a model whose outputs have
            different numbers of rows (use the columnar format).
    """
    names = [t.name for t in endpoint.outputs]
    values = [tensors.json_value(o, b64=n.endswith("_bytes")) for n, o in zip(names, outputs)]
    if not rows:
        body = {"outputs": values[0] if len(values) == 1 else dict(zip(names, values))}
    elif len(values) == 1:
        body = {"predictions": values[0]}
    else:
        counts = {len(v) for v in values}
        if len(counts) != 1:
            raise RequestError("The outputs have different numbers of rows, which the row "
                             "format cannot show; send \"inputs\" (columnar format) instead.")
        body = {"predictions": [dict(zip(names, row)) for row in zip(*values)]}
    return tensors.dumps(body, outputs)
