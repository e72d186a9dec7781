"""Arrays in and out of files for ``kerasexport predict``.

Inputs come from ``.npy`` (one array), ``.npz`` (arrays by input name, or
``arr_0``, ``arr_1``... in input order as `numpy.savez` names positional
arrays) or ``.json``: a body of TF-Serving's REST predict API, read by
`kerasexport.codec.tfserving` exactly as the server's ``:predict`` reads
it (row format ``{"instances": ...}``, columnar format ``{"inputs": ...}``,
``{"b64": ...}`` for bytes, ``"signature_name"`` naming the endpoint).

Outputs answer as ``:predict`` does, through the same codec: ``{"predictions":
...}`` for row requests, ``{"outputs": ...}`` otherwise; or go to ``.npy``
(one output), ``.npz`` (by output name) or ``.json`` files.
"""

import dataclasses
import os
import re
import tempfile

import numpy as np

from kerasexport import errors
from kerasexport.codec import tfserving

SUFFIXES = (".npy", ".npz", ".json")
_POSITIONAL = re.compile(r"arr_(\d+)")


@dataclasses.dataclass
class Request:
    """Inputs read from a file.

    Attributes:
        x: an array, a list of arrays (positional) or a dict of arrays (by
            name); `None` for a JSON body, which `predict` holds.
        predict: the decoded TF-Serving body (`codec.tfserving.PredictRequest`), or `None`.
    """

    x: object = None
    predict: object = None

    @property
    def rows(self):
        """Whether to answer in the row format (a row-format JSON request)."""
        return self.predict is not None and self.predict.rows

    @property
    def endpoint(self):
        return self.predict.signature_name if self.predict is not None else None


def read(path):
    """Read the inputs in `path`, by its suffix.

    Raises:
        InputError: a file that cannot be read as its suffix says, or JSON
            that is not a TF-Serving request (a `RequestError`, worded as the
            server words it).
    """
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npy":
            return Request(x=np.load(path, allow_pickle=False))
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return Request(x=_named_or_positional(dict(archive.items())))
        with open(path, "rb") as file:
            return Request(predict=tfserving.decode_predict(file.read()))
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


def endpoint(artifact, request, name):
    """The endpoint to call: `name` (``--endpoint``), else the request's, else the default.

    A JSON request's ``signature_name`` is resolved as the server resolves
    it (``serving_default`` on a file without that signature means the
    default endpoint).
    """
    if name is None and request.predict is not None:
        return tfserving.endpoint(artifact, request.predict.signature_name)
    return artifact.endpoint(name)


def inputs(spec, request):
    """The request's inputs for `spec`: checked arrays for JSON, else what `predict()` takes."""
    if request.predict is not None:
        return tfserving.inputs(spec, request.predict)
    x = request.x
    if isinstance(x, dict) and len(x) == 1 and len(spec.inputs) == 1:
        (x,) = x.values()  # the one array is the one input, whatever it is called
    return x


def outputs_in_order(result, spec):
    """`Artifact.predict`'s result as a list, in the endpoint's output order."""
    if isinstance(result, dict):
        return [result[t.name] for t in spec.outputs]
    return [result]


def response(spec, outputs, rows):
    """The JSON answer (bytes), as the server's ``:predict`` writes it."""
    return tfserving.encode_predict(spec, outputs, rows)


def write(path, spec, outputs, rows):
    """Write outputs (in `spec`'s order) to `path` (by suffix), whole or not at all."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        data = response(spec, outputs, rows)
    else:
        # NumPy files hold strings as fixed-width bytes, not Python objects.
        arrays = {t.name: a.astype(bytes) if a.dtype.kind == "O" else a for t, a in zip(spec.outputs, outputs)}
    directory = os.path.dirname(os.path.abspath(path))
    handle, staging = tempfile.mkstemp(prefix=".kerasexport-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            if suffix == ".npy":
                (array,) = arrays.values()
                np.save(file, array, allow_pickle=False)
            elif suffix == ".npz":
                np.savez(file, **arrays)
            else:
                file.write(data)
        os.replace(staging, path)
    except BaseException:
        os.remove(staging)
        raise
