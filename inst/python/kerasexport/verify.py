"""Parity check: the artifact, reloaded by its runtime, against the model.

Inputs are made from the signature: the right dtypes, two batch sizes, and
every other unknown dimension set to a size nobody would default to, so a
shape baked in at export time shows up as a failure.
"""

import numpy as np

from kerasexport import atomic
from kerasexport import errors
from kerasexport import signature as signature_lib

DEFAULT_RTOL = 1e-4
BATCH_SIZES = (1, 5)
DYNAMIC_SIZES = (32, 40)
_SEED = 20261121


def make_inputs(signature, batch_size, dynamic_size, int_high=2, seed=_SEED):
    """Random inputs shaped like `signature` (a normalized signature).

    Args:
        signature: list of positional specs, as `signature.normalize` returns.
        batch_size: `int`. Size of the first (batch) dimension.
        dynamic_size: `int`. Size for every other unknown dimension.
        int_high: `int`. Integer inputs are drawn from ``[0, int_high)``.
        seed: `int`. Seed of the generator. Defaults to a fixed value.

    Returns:
        The same structure as `signature`, with NumPy arrays as leaves.
    """
    import keras

    rng = np.random.default_rng(seed)

    def one(spec):
        shape = tuple(
            (batch_size if i == 0 else dynamic_size) if d is None else d
            for i, d in enumerate(spec.shape)
        )
        dtype = spec.dtype or "float32"
        if dtype == "bool":
            return rng.random(shape) < 0.5
        if dtype == "string":
            return rng.choice(np.array(["a", "b", "c"], dtype=object), size=shape)
        if dtype in signature_lib.INTEGER_DTYPES:
            return rng.integers(0, int_high, size=shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype if dtype != "bfloat16" else "float32")

    return keras.tree.map_structure(one, signature)


def embedding_vocabulary(model):
    """Smallest vocabulary among the model's Embedding layers (for int inputs)."""
    import keras

    sizes = [
        layer.input_dim
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Embedding)
    ]
    return max(2, min(sizes)) if sizes else 2


def model_outputs(model, args):
    """Run the model in inference mode on positional `args`; NumPy leaves."""
    import keras

    outputs = model(*args, training=False)
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), outputs)


def _flatten_named(outputs):
    """(name, array) pairs; names for dicts, positions otherwise."""
    import keras

    if isinstance(outputs, dict):
        return [(str(k), np.asarray(v)) for k, v in sorted(outputs.items())]
    return [(str(i), np.asarray(v)) for i, v in enumerate(keras.tree.flatten(outputs))]


def relative_error(expected, actual):
    """Worst error over all outputs, relative to each output's scale."""
    want = _flatten_named(expected)
    got = _flatten_named(actual)
    got_by_name = dict(got)
    if len(got) != len(want):
        raise errors.VerificationError(
            f"The artifact returns {len(got)} output(s), the model {len(want)}."
        )
    if not all(name in got_by_name for name, _ in want):
        got_by_name = {name: arr for (name, _), (_, arr) in zip(want, got)}
    worst = 0.0
    for name, reference in want:
        result = got_by_name[name]
        if result.shape != reference.shape:
            raise errors.VerificationError(
                f"Output {name!r} has shape {result.shape} in the artifact, "
                f"{reference.shape} in the model."
            )
        reference = reference.astype(np.float64)
        scale = max(float(np.max(np.abs(reference))) if reference.size else 0.0, 1e-12)
        diff = float(np.max(np.abs(result.astype(np.float64) - reference))) if reference.size else 0.0
        worst = max(worst, diff / scale)
    return worst


def check(model, run_artifact, signature, rtol=DEFAULT_RTOL):
    """Compare `run_artifact(args)` with the model on two input sets.

    Args:
        model: the Keras model (the reference).
        run_artifact: callable taking positional args (a list) and returning
            the artifact's outputs.
        signature: the normalized signature the artifact was exported with.
        rtol: `float`. Largest accepted relative error.

    Returns:
        The worst relative error seen (a float).

    Raises:
        VerificationError: if any output differs by more than `rtol`.
    """
    int_high = embedding_vocabulary(model)
    worst = 0.0
    for batch_size, dynamic_size in zip(BATCH_SIZES, DYNAMIC_SIZES):
        args = make_inputs(signature, batch_size, dynamic_size, int_high)
        expected = model_outputs(model, args)
        try:
            actual = run_artifact(args)
        except errors.KerasexportError:
            raise
        except Exception as exc:
            raise errors.VerificationError(
                f"The exported artifact failed to run on inputs of batch size "
                f"{batch_size}: {type(exc).__name__}: {exc}"
            ) from exc
        error = relative_error(expected, actual)
        worst = max(worst, error)
        atomic.checkpoint("during_verify")
        if not error <= rtol:
            raise errors.VerificationError(
                f"The exported artifact does not reproduce the model: relative "
                f"error {error:.3g} at batch size {batch_size}, above the "
                f"tolerance {rtol:g}. Nothing was written. Raise `rtol` if this "
                "difference is acceptable, or report the model."
            )
    return worst
