"""Calibration data: what users pass as `calibration_data=`, made one shape.

Accepted forms, for a model whose flattened inputs are named ``n1..nk``
(`formats.common.input_names`):

- one array (a single-input model), rows along the first axis;
- a dict of input name to array;
- a list or tuple of k arrays (a multi-input model's inputs in order);
- a list, or any iterable such as a generator, of batches, each one of
  the forms above.

Whatever the form, the result is a `Calibration`: one array per input, all
rows concatenated, checked against the signature's dtypes and shapes, so
every quantizer reads the same rows in the same order.
"""

import dataclasses

import numpy as np

from kerasexport import dtypes
from kerasexport import errors

MAX_BATCHES = 10_000  # a generator that never ends is read this far, no further


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Calibration rows, one array per flattened input.

    Attributes:
        names: the inputs' names, in positional order.
        arrays: one `numpy.ndarray` per input, rows along axis 0.
    """

    names: tuple
    arrays: tuple

    @property
    def rows(self):
        return int(self.arrays[0].shape[0])

    def batches(self, size):
        """Lists of arrays (positional order) of at most `size` rows each."""
        for start in range(0, self.rows, size):
            yield [a[start:start + size] for a in self.arrays]

    def arrays_for(self, names):
        """The arrays in the order of `names` (a file's own inputs) when they are these
        inputs' names, else in positional order (a file exported under other names)."""
        if sorted(names) != sorted(self.names):
            return list(self.arrays)
        by_name = dict(zip(self.names, self.arrays))
        return [by_name[n] for n in names]


def normalize(data, signature):
    """`calibration_data` as a `Calibration`, or `None` when none was given.

    Args:
        data: any form in the module doc, or `None`.
        signature: the normalized signature (list of `keras.InputSpec`).

    Raises:
        CalibrationError: data that does not match the inputs, saying what
            was received and what the model takes.
    """
    import keras

    if data is None:
        return None
    from kerasexport.formats import common

    specs = keras.tree.flatten(signature)
    names = tuple(common.input_names(signature))
    batches = [_one_batch(b, names) for b in _batches(data, names)]
    if not batches:
        raise errors.CalibrationError(
            "`calibration_data` holds no batches. Pass arrays of inputs, e.g. "
            f"{_example(names)}."
        )
    arrays = tuple(
        _checked(np.concatenate([b[i] for b in batches], axis=0), spec, name)
        for i, (spec, name) in enumerate(zip(specs, names))
    )
    rows = {a.shape[0] for a in arrays}
    if len(rows) != 1 or 0 in rows:
        raise errors.CalibrationError(
            f"`calibration_data` must give every input the same number of rows (at least one); "
            f"received {', '.join(f'{n}: {a.shape[0]}' for n, a in zip(names, arrays))}."
        )
    return Calibration(names=names, arrays=arrays)


def _is_array(x):
    return isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, dict))


def _is_one_batch(data, names):
    if _is_array(data) or isinstance(data, dict):
        return True
    if isinstance(data, (list, tuple)) and len(names) > 1 and len(data) == len(names):
        return all(_is_array(x) for x in data)
    return False


def _batches(data, names):
    if _is_one_batch(data, names):
        return [data]
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise errors.CalibrationError(
            f"`calibration_data` must be arrays of the model's inputs, a dict of them by name, "
            f"or a list or generator of such batches; received {type(data).__name__}. "
            f"For example {_example(names)}."
        )
    out = []
    for i, batch in enumerate(data):
        if i >= MAX_BATCHES:
            break
        if not _is_one_batch(batch, names):
            raise errors.CalibrationError(
                f"Batch {i + 1} of `calibration_data` is {type(batch).__name__}; each batch must be "
                f"arrays of the model's inputs or a dict of them by name, e.g. {_example(names)}."
            )
        out.append(batch)
    return out


def _one_batch(batch, names):
    """A batch as a list of arrays in positional order."""
    if isinstance(batch, dict):
        given = [str(k) for k in batch]
        if sorted(given) != sorted(names):
            raise errors.CalibrationError(
                f"`calibration_data` names inputs {sorted(given)}; the model's inputs are "
                f"{list(names)}. Name each input as the model does."
            )
        batch = [batch[k] for k in names]
    elif _is_array(batch):
        if len(names) != 1:
            raise errors.CalibrationError(
                f"`calibration_data` is one array, but the model takes {len(names)} inputs "
                f"({', '.join(names)}): pass a dict of arrays by name, e.g. {_example(names)}."
            )
        batch = [batch]
    return [np.asarray(x) for x in batch]


def _checked(array, spec, name):
    want = tuple(spec.shape)
    if array.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], array.shape[1:])):
        shown = "(" + ", ".join("None" if d is None else str(d) for d in want) + ")"
        raise errors.CalibrationError(
            f"Calibration input {name!r} has shape {array.shape}; the model takes {shown} "
            "(rows first). Pass rows shaped like the model's inputs."
        )
    dtype = spec.dtype or "float32"
    if dtype in dtypes.INTEGER:
        if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
            raise errors.CalibrationError(
                f"Calibration input {name!r} holds fractional values; the model takes {dtype}."
            )
        return array.astype(dtype)
    if array.dtype.kind not in "fiub":
        raise errors.CalibrationError(
            f"Calibration input {name!r} has dtype {array.dtype}; the model takes {dtype}."
        )
    return array.astype("float32" if dtype == "bfloat16" else dtype)


def _example(names):
    if len(names) == 1:
        return "calibration_data=x_train[:256]"
    return "calibration_data={" + ", ".join(f"{n!r}: ..." for n in names) + "}"
