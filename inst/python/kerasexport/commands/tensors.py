"""Arrays in and out of files for ``kerasexport predict``.

Inputs come from ``.npy`` (one array), ``.npz`` (arrays by input name, or
``arr_0``, ``arr_1``... in input order as `numpy.savez` names positional
arrays) or ``.json`` in the request formats of TF-Serving's REST API
("Request format" in its api_rest.md):

- row format, ``{"instances": [...]}``: one element per example, a value
  for a single input or an object by input name;
- columnar format, ``{"inputs": ...}``: a value for a single input, or an
  object of whole batches by input name.

``{"b64": "..."}`` stands for bytes in either. A request's
``"signature_name"`` names the endpoint.

Outputs answer as TF-Serving does: ``{"predictions": ...}`` for row
requests (one value per example, or one object per example when there are
several outputs), ``{"outputs": ...}`` otherwise (a value, or an object of
batches by output name); or go to ``.npy`` (one output), ``.npz`` (by output
name) or ``.json`` files.
"""

import base64
import json
import os
import re
import tempfile

import numpy as np

from kerasexport import errors

SUFFIXES = (".npy", ".npz", ".json")
ROWS = "predictions"
COLUMNS = "outputs"
_POSITIONAL = re.compile(r"arr_(\d+)")


class Request:
    """Inputs read from a file.

    Attributes:
        x: an array, a list of arrays (positional) or a dict of arrays (by name).
        answer: `ROWS` or `COLUMNS`: the shape of the JSON answer.
        endpoint: the endpoint the request names, or `None`.
    """

    def __init__(self, x, answer, endpoint=None):
        self.x = x
        self.answer = answer
        self.endpoint = endpoint


def read(path):
    """Read the inputs in `path`, by its suffix.

    Raises:
        InputError: a file that cannot be read as its suffix says, or JSON
            that is not a TF-Serving request.
    """
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npy":
            return Request(np.load(path, allow_pickle=False), COLUMNS)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return Request(_named_or_positional(dict(archive.items())), COLUMNS)
        with open(path, encoding="utf-8") as file:
            return _from_json(json.load(file))
    except errors.InputError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise errors.InputError(f"Cannot read {path!r} as a {suffix} file: {_first_line(exc)}") from exc


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _named_or_positional(arrays):
    """`numpy.savez(file, a, b)` names arrays ``arr_0``, ``arr_1``: those are positions."""
    positions = [_POSITIONAL.fullmatch(name) for name in arrays]
    if arrays and all(positions):
        order = sorted(int(match.group(1)) for match in positions)
        if order == list(range(len(order))):
            return [arrays[f"arr_{i}"] for i in order]
    return arrays


def _from_json(request):
    if not isinstance(request, dict) or ("instances" in request) == ("inputs" in request):
        raise errors.InputError(
            'A JSON request is an object with either "instances" (row format) or '
            '"inputs" (columnar format), as TF-Serving\'s REST API takes: e.g. '
            '{"instances": [[1.0, 2.0], [3.0, 4.0]]}.'
        )
    unknown = sorted(set(request) - {"instances", "inputs", "signature_name"})
    if unknown:
        raise errors.InputError(f"Unexpected key(s) in the JSON request: {', '.join(unknown)}.")
    endpoint = request.get("signature_name")
    if "inputs" in request:
        inputs = request["inputs"]
        if isinstance(inputs, dict) and not _is_bytes(inputs):
            return Request({k: _array(v, k) for k, v in inputs.items()}, COLUMNS, endpoint)
        return Request(_array(inputs, "inputs"), COLUMNS, endpoint)
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise errors.InputError('"instances" must be a non-empty list, one element per example.')
    named = [isinstance(i, dict) and not _is_bytes(i) for i in instances]
    if not any(named):
        return Request(_array(instances, "instances"), ROWS, endpoint)
    if not all(named) or len({tuple(sorted(i)) for i in instances}) > 1:
        raise errors.InputError(
            'In "instances", every example must be an object with the same input names '
            "(or none an object, for a single input)."
        )
    names = list(instances[0])
    return Request({n: _array([i[n] for i in instances], n) for n in names}, ROWS, endpoint)


def _is_bytes(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _decoded(value):
    if _is_bytes(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as exc:
            raise errors.InputError(f"Invalid base64 in {value!r}.") from exc
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _array(value, name):
    try:
        array = np.asarray(_decoded(value))
    except ValueError as exc:  # ragged nesting
        raise errors.InputError(
            f"Input {name!r} is not a rectangular array: {_first_line(exc)}"
        ) from exc
    if array.dtype.kind == "O" and not all(isinstance(v, (bytes, str)) for v in array.flat):
        raise errors.InputError(f"Input {name!r} mixes numbers, strings or objects: {value!r:.100}.")
    return array


def named(outputs, endpoint):
    """`Artifact.predict`'s result as a dict of output name to array, in output order."""
    if isinstance(outputs, dict):
        return outputs
    return {endpoint.outputs[0].name: outputs}


def answer(outputs, shape):
    """The TF-Serving JSON response (a dict) for outputs by name."""
    arrays = list(outputs.values())
    if shape == COLUMNS:
        body = arrays[0] if len(arrays) == 1 else outputs
        return {COLUMNS: _listed(body)}
    if len(arrays) == 1:
        return {ROWS: _listed(arrays[0])}
    rows = len(arrays[0])
    return {ROWS: [{name: _listed(a[i]) for name, a in outputs.items()} for i in range(rows)]}


def _listed(value):
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    return np.asarray(value).tolist()


def dumps(response):
    """JSON text; bytes as UTF-8 text, or ``{"b64": ...}`` when not text."""
    return json.dumps(response, default=_encode_bytes)


def _encode_bytes(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write(path, outputs, shape):
    """Write outputs by name to `path` (by suffix), whole or not at all."""
    # NumPy files hold strings as fixed-width bytes, not Python objects.
    outputs = {k: a.astype(bytes) if a.dtype.kind == "O" else a for k, a in outputs.items()}
    suffix = os.path.splitext(path)[1].lower()
    directory = os.path.dirname(os.path.abspath(path))
    handle, staging = tempfile.mkstemp(prefix=".kerasexport-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            if suffix == ".npy":
                (array,) = outputs.values()
                np.save(file, array, allow_pickle=False)
            elif suffix == ".npz":
                np.savez(file, **outputs)
            else:
                file.write(dumps(answer(outputs, shape)).encode("utf-8"))
        os.replace(staging, path)
    except BaseException:
        os.remove(staging)
        raise
