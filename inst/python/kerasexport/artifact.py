"""An artifact opened with its runtime: `Artifact`, its `Endpoint`s and their `TensorInfo`.

A leaf: the format modules build these when they open a file (see
`kerasexport.formats`), and `Artifact.predict()` checks and casts inputs
against the endpoint's cached description before running it. Nothing here
imports a runtime.
"""

import dataclasses
import functools
import os

import numpy as np

from kerasexport import errors

# Keras's name for an exported model's endpoint (`model.export()`,
# `ExportArchive.add_endpoint()`); the one graph of an ONNX, OpenVINO,
# LiteRT or .pt2 file gets it too.
SERVE = "serve"
# The SavedModel signature TF-Serving calls when none is named.
SERVING_DEFAULT = "serving_default"
# Which endpoint `predict()` calls when none is named, first found.
DEFAULT_ORDER = (SERVING_DEFAULT, SERVE)


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One input or output of an endpoint.

    Attributes:
        name: the tensor's name (the key to use for named inputs).
        dtype: NumPy-style dtype name, e.g. `"float32"`, or `"string"`.
        shape: tuple of int or `None` (dynamic), or `None` if the rank is
            unknown.
    """

    name: str
    dtype: str
    shape: object

    def describe(self):
        """A plain-dict form, for printing and for the R package."""
        return {"name": self.name, "dtype": self.dtype,
                "shape": None if self.shape is None else list(self.shape)}

    def __str__(self):
        shape = "unknown rank" if self.shape is None else str(tuple(self.shape))
        return f"{self.name}: {self.dtype} {shape}"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A callable entry point of an artifact.

    Attributes:
        name: the endpoint's name.
        kind: `"signature"` (a SavedModel signature), `"function"` (a
            SavedModel tf.function with an input signature) or `"graph"` (the
            one graph of an ONNX, OpenVINO, LiteRT or .pt2 file).
        inputs: tuple of `TensorInfo`, in positional order.
        outputs: tuple of `TensorInfo`, in output order.
        serving_default: `True` for the SavedModel's `serving_default`
            signature.
        same_as: for `serving_default`, the other signature that runs the
            same function (the archive's first endpoint, a model's `serve`),
            or `None` when there is none or it cannot be told.
    """

    name: str
    kind: str
    inputs: tuple
    outputs: tuple
    serving_default: bool = False
    same_as: str | None = None

    def describe(self):
        """A plain-dict form, for printing and for the R package."""
        return {
            "name": self.name, "kind": self.kind,
            "serving_default": self.serving_default,
            "same_as": self.same_as,
            "inputs": [t.describe() for t in self.inputs],
            "outputs": [t.describe() for t in self.outputs],
        }


class Artifact:
    """An artifact loaded with its runtime, ready to predict.

    Build one with `kerasexport.load()`.

    Attributes:
        path: absolute path of the artifact.
        format: `"tf_saved_model"`, `"onnx"`, `"openvino"`, `"litert"` or
            `"torch"`.
        size: size on disk in bytes (a SavedModel's whole directory, an
            OpenVINO IR's `.xml` and `.bin`).
        endpoints: dict of endpoint name to `Endpoint`.
        default_endpoint: the endpoint `predict()` uses when none is named.
        runtime: the runtime object (`tf.saved_model.load()`'s result, an
            `onnxruntime.InferenceSession`, an OpenVINO `CompiledModel`, a
            LiteRT signature runner or a torch `ExportedProgram`).
        precision: the precision the artifact was exported at:
            `"float32"`, or `"float16"`, `"bfloat16"`, `"int8"` for one
            written with `export(..., precision=)`.
    """

    def __init__(self, path, format, size, endpoints, default_endpoint, runtime, callers,
                 precision="float32"):
        self.path = path
        self.format = format
        self.size = size
        self.endpoints = endpoints
        self.default_endpoint = default_endpoint
        self.runtime = runtime
        self._callers = callers
        self.precision = precision

    def __repr__(self):
        return (f"<kerasexport.Artifact {self.format} {self.path!r} "
                f"endpoints={list(self.endpoints)}>")

    def __str__(self):
        return self.summary()

    def summary(self):
        """A multi-line description: format, path, size, endpoints."""
        lines = [f"kerasexport artifact ({self.format})",
                 f"path: {self.path}", f"size: {format_size(self.size)}",
                 f"precision: {self.precision}", "endpoints:"]
        for name, endpoint in self.endpoints.items():
            marks = []
            if endpoint.same_as:
                marks.append(f"same as {endpoint.same_as}")
            if endpoint.serving_default:
                marks.append("serving default")
            if name == self.default_endpoint:
                marks.append("used by predict()")
            mark = f" ({', '.join(marks)})" if marks else ""
            lines.append(f"  {name}{mark}")
            lines.extend(f"    input  {t}" for t in endpoint.inputs)
            lines.extend(f"    output {t}" for t in endpoint.outputs)
        return "\n".join(lines)

    def describe(self):
        """Everything `summary()` shows, as plain dicts and lists."""
        return {
            "path": self.path, "format": self.format, "size": self.size,
            "precision": self.precision, "default_endpoint": self.default_endpoint,
            "endpoints": [e.describe() for e in self.endpoints.values()],
        }

    def endpoint(self, name=None):
        """The `Endpoint` called `name` (the default one if `None`).

        Raises:
            ArtifactError: when there is no endpoint of that name.
        """
        if name is None:
            name = self.default_endpoint
        try:
            return self.endpoints[name]
        except (KeyError, TypeError):
            raise errors.ArtifactError(
                f"Unknown endpoint {name!r}. Available: {sorted(self.endpoints)}."
            ) from None

    def predict(self, x, endpoint=None, batch_size=None):
        """Run an endpoint on NumPy inputs.

        Args:
            x: one array (single input), a list or tuple of arrays (inputs in
                positional order) or a dict of arrays (inputs by name).
                Values are cast to the input's dtype when the cast is exact.
            endpoint: `str` or `None`. The endpoint to call. Defaults to
                `None` (`default_endpoint`).
            batch_size: `int` or `None`. Run at most this many rows at a
                time and concatenate. Defaults to `None` (all at once).

        Returns:
            A NumPy array for a single output, else a dict of output name to
            array.

        Raises:
            ArtifactError: unknown endpoint.
            InputError: missing or extra inputs, wrong rank or fixed
                dimension, a cast that would lose information, or a bad
                `batch_size`.

        Example:

        ```python
        artifact = kerasexport.load("model.onnx")
        y = artifact.predict(np.zeros((8, 4), "float32"), batch_size=4)
        ```
        """
        spec = self.endpoint(endpoint)
        arrays = check_inputs(spec, x)
        return self._run(spec, arrays, batch_size)

    def _predict_checked(self, arrays, endpoint, batch_size=None):
        """`predict()` for inputs the R package has already checked.

        The R package checks names, ranks, fixed dimensions and integer
        casts before calling Python, then passes R arrays (column-major,
        shared with R, not copied) in the endpoint's positional order. Left
        here: one pass that casts to the input's dtype and reorders to the
        row-major layout the runtimes take (`row_major`), with float
        overflow caught by the cast itself rather than by a second pass.

        Args:
            arrays: list of arrays, in the endpoint's input order.
            endpoint: `str`, the endpoint's name.
            batch_size: `int` or `None`.

        Returns:
            As `predict()`.
        """
        spec = self.endpoint(endpoint)
        cast = []
        for t, a in zip(spec.inputs, arrays):
            if t.dtype == "string":
                cast.append(np.ascontiguousarray(a, dtype=object))
                continue
            try:
                with np.errstate(over="raise"):
                    cast.append(row_major(a, t.dtype))
            except FloatingPointError:
                _cast(t, np.asarray(a))  # raises, saying which values overflow
                raise
        return self._run(spec, cast, batch_size)

    def _run(self, spec, arrays, batch_size):
        call = self._callers[spec.name]
        rows = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        if batch_size is not None:
            if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise errors.InputError(
                    f"`batch_size` must be a positive whole number or None, "
                    f"received {batch_size!r}."
                )
        if batch_size is None or rows <= batch_size:
            outputs = call(arrays)
        else:
            parts = [call([a[start:start + batch_size] for a in arrays])
                     for start in range(0, rows, batch_size)]
            outputs = [np.concatenate([p[i] for p in parts], axis=0)
                       for i in range(len(spec.outputs))]
        if len(outputs) == 1:
            return outputs[0]
        return {t.name: out for t, out in zip(spec.outputs, outputs)}


# Elements per tile when reordering a column-major array (about 256 kB of
# float32): a tile's transposition stays in the processor's cache.
_TILE = 65536


def row_major(array, dtype):
    """`array` as a C-ordered array of `dtype`, in one pass over memory.

    Arrays from R are column-major. Casting one to a row-major array in one
    NumPy call walks it with the last axis innermost, which for an image
    batch (channels last) is three elements long: most of the time goes to
    loop overhead and cache misses. Here the batch is cut into tiles of
    rows; each tile is cast in memory order, then transposed in cache.

    Args:
        array: a NumPy array (any order).
        dtype: the target dtype.

    Returns:
        A C-contiguous array (`array` itself when it already is one).
    """
    array = np.asarray(array)
    row = array.size // array.shape[0] if array.ndim and array.shape[0] else 0
    if (array.flags.c_contiguous or not array.flags.f_contiguous or array.ndim < 3
            or array.size < _TILE or array.shape[0] < 2 or not 0 < row <= _TILE // 2):
        return np.ascontiguousarray(array, dtype=dtype)  # small, or rows too large to tile
    out = np.empty(array.shape, dtype=dtype)
    reversed_axes = array.T  # C-contiguous: the same memory, axes reversed
    rows = _TILE // row
    for start in range(0, array.shape[0], rows):
        tile = np.ascontiguousarray(reversed_axes[..., start:start + rows], dtype=dtype)
        out[start:start + rows] = tile.T
    return out


# Inputs ----


def check_inputs(endpoint, x):
    """Match `x` to the endpoint's inputs; check shapes; cast exactly.

    Args:
        endpoint: an `Endpoint`.
        x: an array, a list/tuple of arrays or a dict of arrays.

    Returns:
        A list of arrays in the endpoint's positional order, with its dtypes.

    Raises:
        InputError: on any mismatch (see `Artifact.predict`).
    """
    specs = endpoint.inputs
    if isinstance(x, dict):
        names = [t.name for t in specs]
        missing = [n for n in names if n not in x]
        extra = sorted(str(k) for k in x if k not in names)
        if missing or extra:
            raise errors.InputError(
                f"Inputs by name must match the endpoint {endpoint.name!r}: "
                + (f"missing {missing}; " if missing else "")
                + (f"unexpected {extra}; " if extra else "")
                + f"expected {names}."
            )
        values = [x[n] for n in names]
    elif isinstance(x, (list, tuple)):
        values = list(x)
        if len(values) != len(specs):
            raise errors.InputError(
                f"The endpoint {endpoint.name!r} takes {len(specs)} input(s) "
                f"({', '.join(str(t) for t in specs)}), received {len(values)}."
            )
    else:
        if len(specs) != 1:
            raise errors.InputError(
                f"The endpoint {endpoint.name!r} takes {len(specs)} inputs "
                f"({', '.join(str(t) for t in specs)}); pass a list (in that "
                "order) or a dict by name, not a single array."
            )
        values = [x]
    arrays = [_check_one(t, v) for t, v in zip(specs, values)]
    rows = {a.shape[0] for a in arrays if a.ndim}
    if len(rows) > 1:
        raise errors.InputError(
            f"Inputs have different batch sizes: "
            f"{ {t.name: a.shape[0] for t, a in zip(specs, arrays) if a.ndim} }."
        )
    return arrays


def _check_one(spec, value):
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if spec.shape is not None:
        want = spec.shape
        if array.ndim != len(want) or any(
            w is not None and g != w for g, w in zip(array.shape, want)
        ):
            what = "rank" if array.ndim != len(want) else "shape"
            raise errors.InputError(
                f"Input {spec.name!r} expects shape {_shape_text(want)} "
                f"(rank {len(want)}) and dtype {spec.dtype}; received an array "
                f"of shape {tuple(array.shape)} and dtype {array.dtype} (wrong "
                f"{what})."
            )
    return _cast(spec, array)


def _cast(spec, array):
    """`array` as `spec.dtype`, refusing casts that lose information."""
    dtype = spec.dtype
    source = array.dtype
    if dtype == "string":
        if source.kind in "USO":
            return array.astype(object) if source.kind != "O" else array
        _refuse(spec, array, "strings are expected")
    if _name(source) == dtype:
        return array
    if source.kind in "USO":
        _refuse(spec, array, "it holds strings or objects")
    target = np.dtype(dtype) if dtype != "bfloat16" else None
    if target is None:
        _refuse(spec, array, "bfloat16 inputs need a bfloat16 array")
    if target.kind == "b":
        if source.kind in "iuf" and not np.isin(array, (0, 1)).all():
            _refuse(spec, array, "values other than 0 and 1 are not booleans")
        return array.astype(target)
    if target.kind in "iu":
        if source.kind == "f":
            if not np.isfinite(array).all():
                _refuse(spec, array, "it holds NaN or infinite values")
            if (array != np.trunc(array)).any():
                _refuse(spec, array, "it holds fractional values")
        if array.size and source.kind in "iuf":
            info = np.iinfo(target)
            low, high = array.min(), array.max()
            if low < info.min or high > info.max:
                _refuse(spec, array, f"values range over [{low}, {high}], outside "
                        f"{dtype}'s [{info.min}, {info.max}]")
        return array.astype(target)
    # Floating-point target.
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(target)
    if source.kind == "f":
        # All finite, the common case, is one pass; otherwise find an overflow.
        if not np.isfinite(cast).all() and (np.isinf(cast) & np.isfinite(array)).any():
            _refuse(spec, array, f"values overflow {dtype}")
    elif source.kind in "iu" and array.size:
        if not np.array_equal(cast.astype(source), array):
            _refuse(spec, array, f"integers this large are not exact in {dtype}")
    return cast


@functools.lru_cache(maxsize=256)
def _name(dtype):
    """A NumPy dtype's name, remembered (as `dtypes.name_of`; this module is a leaf)."""
    return dtype.name


def _refuse(spec, array, why):
    raise errors.InputError(
        f"Input {spec.name!r} expects dtype {spec.dtype} (shape "
        f"{_shape_text(spec.shape)}); received an array of dtype {array.dtype}, "
        f"which cannot be cast exactly: {why}."
    )


def _shape_text(shape):
    if shape is None:
        return "of unknown rank"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def format_size(size):
    """Bytes as a short human-readable string (`"1.2 MB"`)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000


def directory_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
