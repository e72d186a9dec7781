"""Parity check: the artifact, opened as users open it, against the model.

`verify_artifact()` opens an artifact with its format's `open` (what
`kerasexport.load()` calls), lets the format refuse what runs but is not
what was asked (`check`), and compares `Artifact.predict()` with the model
(`check` here). Inputs are made from the signature: the right dtypes, two
batch sizes, and every other unknown dimension set to a size nobody would
default to, so a shape baked in at export time shows up as a failure.
"""

import os
import re
import warnings

import numpy as np

from kerasexport import atomic
from kerasexport import dtypes
from kerasexport import errors
from kerasexport import reference

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
        if dtype in dtypes.INTEGER:
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
    """Run the model in inference mode on positional `args`; NumPy leaves (see `reference`)."""
    return reference.outputs(model, args)


def _flatten_named(outputs, sort_dict):
    """(name, array) pairs in flattening order.

    Model outputs are flattened as Keras does (dict keys sorted), which is
    also the order the exporters give their outputs. Artifact outputs keep
    the artifact's own order (`sort_dict=False`): ONNX output names need not
    sort like the model's keys (torch.onnx names them ``"23"``, ``"31"``).
    """
    import keras

    if isinstance(outputs, dict):
        items = sorted(outputs.items()) if sort_dict else list(outputs.items())
        return [(str(k), np.asarray(v)) for k, v in items]
    return [(str(i), np.asarray(v)) for i, v in enumerate(keras.tree.flatten(outputs))]


def _base_name(name):
    """``"StatefulPartitionedCall/probs:0"`` -> ``"probs"``."""
    return re.split(r"[/]", name.split(":")[0])[-1]


def match_outputs(want, got):
    """Pair the model's outputs with the artifact's.

    In order of preference: by exact name; by name without a graph prefix or
    ``:0`` suffix; by position, when every position agrees in shape; by
    shape, when each model output's shape is found exactly once among the
    artifact's outputs.

    Args:
        want: list of (name, array) from the model.
        got: list of (name, array) from the artifact, in the artifact's order.

    Returns:
        A list of (name, model array, artifact array).

    Raises:
        VerificationError: when the counts differ, or no rule pairs them.
    """
    if len(got) != len(want):
        raise errors.VerificationError(
            f"The artifact returns {len(got)} output(s) "
            f"({', '.join(n for n, _ in got)}), the model {len(want)} "
            f"({', '.join(n for n, _ in want)})."
        )
    for key in (lambda n: n, _base_name):
        by_name = {}
        for name, arr in got:
            by_name.setdefault(key(name), []).append(arr)
        if all(len(by_name.get(key(name), ())) == 1 for name, _ in want):
            return [(name, ref, by_name[key(name)][0]) for name, ref in want]
    if all(g.shape == r.shape for (_, r), (_, g) in zip(want, got)):
        return [(name, ref, arr) for (name, ref), (_, arr) in zip(want, got)]
    shapes = [g.shape for _, g in got]
    if all(shapes.count(r.shape) == 1 for _, r in want) and len(set(shapes)) == len(shapes):
        return [(name, ref, got[shapes.index(ref.shape)][1]) for name, ref in want]
    for (name, reference), (got_name, result) in zip(want, got):
        if result.shape != reference.shape:
            raise errors.VerificationError(
                f"Output {name!r} has shape {reference.shape} in the model, "
                f"but the artifact's output {got_name!r} in the same position "
                f"has shape {result.shape}, and no output name matches."
            )
    raise AssertionError("unreachable")


def paired(expected, actual):
    """(name, model array, artifact array) for each output, paired as `check` pairs them."""
    return match_outputs(_flatten_named(expected, True), _flatten_named(actual, False))


def relative_error(expected, actual):
    """Worst error over all outputs, relative to each output's scale."""
    pairs = paired(expected, actual)
    worst = 0.0
    for name, reference, result in pairs:
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


def run_checked(run_artifact, args, failure):
    """`run_artifact(args)`, a runtime's own exception raised as a `VerificationError` after `failure`."""
    try:
        return run_artifact(args)
    except errors.KerasexportError:
        raise
    except Exception as exc:
        raise errors.VerificationError(f"{failure}: {type(exc).__name__}: {exc}") from exc


def _trials(model, run_artifact, signature):
    """Run the model and the artifact on two input sets; yield what each gave.

    Yields:
        (batch size, relative error, a function telling whether the model
        agrees with itself on those inputs within a tolerance).
    """
    int_high = embedding_vocabulary(model)
    for batch_size, dynamic_size in zip(BATCH_SIZES, DYNAMIC_SIZES):
        args = make_inputs(signature, batch_size, dynamic_size, int_high)
        expected = model_outputs(model, args)
        actual = run_checked(run_artifact, args,
                             f"The exported artifact failed to run on inputs of batch size {batch_size}")
        error = relative_error(expected, actual)
        atomic.checkpoint("during_verify")

        def consistent(rtol, args=args, expected=expected):
            return relative_error(expected, model_outputs(model, args)) <= rtol

        yield batch_size, error, consistent


def check(model, run_artifact, signature, rtol=DEFAULT_RTOL):
    """Compare `run_artifact(args)` with the model on two input sets.

    Args:
        model: the Keras model (the reference).
        run_artifact: callable taking positional args (a list) and returning
            the artifact's outputs.
        signature: the normalized signature the artifact was exported with.
        rtol: `float`. Largest accepted relative error.

    A model whose own outputs differ between two runs on the same inputs
    (random layers active at inference, like Keras's RNG example) cannot be
    compared by value: for it, outputs are compared by count and shape, a
    warning says so, and the result is NaN.

    Returns:
        The worst relative error seen (a float), NaN for a random model.

    Raises:
        VerificationError: if any output differs by more than `rtol`.
    """
    worst = 0.0
    random = False
    for batch_size, error, consistent in _trials(model, run_artifact, signature):
        if not error <= rtol and not consistent(rtol):
            random = True  # the model disagrees with itself; shapes matched above
            continue
        worst = max(worst, error)
        if not error <= rtol:
            raise errors.VerificationError(
                f"The exported artifact does not reproduce the model: relative "
                f"error {error:.3g} at batch size {batch_size}, above the "
                f"tolerance {rtol:g}. Nothing was written. "
                f"{_half_precision_hint(model, error) or _RAISE_RTOL}"
            )
    if random:
        warnings.warn(
            "The model's outputs differ between two runs on the same inputs "
            "(random layers active at inference), so the artifact's outputs "
            "were compared by count and shape only, not by value.",
            UserWarning, stacklevel=2,
        )
        return float("nan")
    return worst


def measure(model, run_artifact, signature, rtol=DEFAULT_RTOL):
    """The worst relative error of `run_artifact` on `check`'s inputs, held to nothing.

    For a configuration users may run that verification does not accept or
    refuse (OpenVINO compiled with its CPU plugin's defaults).

    Returns:
        A float; NaN for a model that disagrees with itself by more than
        `rtol` (random layers at inference).
    """
    worst = 0.0
    for _, error, consistent in _trials(model, run_artifact, signature):
        if not error <= rtol and not consistent(rtol):
            return float("nan")
        worst = max(worst, error)
    return worst


def verify_artifact(model, fmt, path, signature, options, rtol=DEFAULT_RTOL):
    """Open the artifact at `path` as `kerasexport.load()` does and compare it with `model`.

    Args:
        model: the Keras model (the reference).
        fmt: the format's module (a `formats.Format`).
        path: `str`, where the artifact was written (its staging path).
        signature: the normalized signature it was exported with.
        options: the exporter's options (some formats check against them).
        rtol: `float`, the tolerance.

    Returns:
        The worst relative error (NaN for a random model).

    Raises:
        VerificationError: the artifact cannot be opened, is refused by its
            format, or does not reproduce the model.
    """
    try:
        artifact = fmt.open(path)
    except errors.ArtifactError as exc:
        # Named as the user named it, not by its staging path.
        text = str(exc).replace(repr(path), repr(os.path.basename(path)))
        raise errors.VerificationError(f"The exported artifact could not be loaded: {text}") from exc
    fmt.check(artifact, signature, options)
    return check(model, artifact_runner(artifact, signature), signature, rtol)


def measure_runtime_defaults(model, fmt, path, signature, rtol=DEFAULT_RTOL):
    """How the artifact computes under its runtime's bare defaults, where they differ from `open`'s.

    OpenVINO's CPU plugin defaults to bfloat16 on processors that have it,
    whatever the file says, while `open` compiles in float32. The
    default's error is measured on the verification inputs and warned
    about; it does not fail the export.

    Returns:
        `None`, or the format's description of its defaults with
        ``"max_relative_error"`` added.
    """
    found = fmt.runtime_defaults(path)
    if found is None:
        return None
    artifact, described = found
    error = measure(model, artifact_runner(artifact, signature), signature, rtol)
    described = dict(described, max_relative_error=error)
    warnings.warn(fmt.defaults_warning(described), UserWarning, stacklevel=2)
    return described


def artifact_runner(artifact, signature, endpoint=None):
    """`run_artifact` for `check`: an endpoint of the artifact, called as users call it.

    The model's positional arguments are flattened as Keras flattens them
    and given to `Artifact.predict` by name when the artifact's inputs carry
    the signature's names, else in order; so verification goes through what
    users get: input matching, exact casts, a fixed-batch file run a row at
    a time.

    Args:
        artifact: a `kerasexport.Artifact`.
        signature: the normalized signature the artifact was exported with.
        endpoint: `str`, the endpoint to call. Defaults to `None` (the
            artifact's default endpoint, as `predict()`'s).

    Returns:
        A function of the model's positional arguments returning
        ``{output name: array}``.
    """
    import keras

    from kerasexport.formats import common

    endpoint = artifact.endpoint(endpoint)
    names = common.input_names(signature)
    by_name = sorted(names) == sorted(t.name for t in endpoint.inputs)

    def run(args):
        flat = keras.tree.flatten(args)
        outputs = artifact.predict(dict(zip(names, flat)) if by_name else flat, endpoint=endpoint.name)
        if not isinstance(outputs, dict):
            outputs = {endpoint.outputs[0].name: outputs}
        return outputs

    return run


_RAISE_RTOL = "Raise `rtol` if this difference is acceptable, or report the model."
# Relative rounding of one operation, and a tolerance that allows for a chain.
_HALF_PRECISION = {"float16": (1e-3, "1e-2"), "bfloat16": (8e-3, "5e-2")}


def _half_precision_hint(model, error):
    """What to say when the model computes in 16-bit floats and `error` fits that.

    Two runtimes rounding each float16 operation differently disagree by
    about 1e-3; the default tolerance is for float32.
    """
    for layer in model._flatten_layers(include_self=False):
        dtype = getattr(layer, "compute_dtype", None)
        if dtype not in _HALF_PRECISION:
            continue
        unit, tolerance = _HALF_PRECISION[dtype]
        if error > 10 * float(tolerance):
            return None  # Too far off to be rounding.
        policy = getattr(getattr(layer, "dtype_policy", None), "name", dtype)
        return (
            f"The model computes in {dtype} (layer {layer.name!r}, dtype policy "
            f"{policy}), whose rounding alone is about {unit:g} relative, so "
            f"runtimes differ by more than the default tolerance: pass "
            f"rtol={tolerance} to accept that."
        )
    return None
