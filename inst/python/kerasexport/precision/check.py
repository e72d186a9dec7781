"""A reduced artifact, opened as `load()` opens it, against the float model and its budget.

The inputs are the calibration rows when the user gave some (they are what
the model will see), else generated as float32 verification generates
them. Where the runtime's bare defaults compute differently from `open`
(OpenVINO's CPU plugin in bfloat16 on processors that have it), the budget
holds for both.
"""

import os

import numpy as np

from kerasexport import errors
from kerasexport import verify
from kerasexport.precision import budget as budget_lib

GENERATED_ROWS = 64
_BATCH = 64
MAX_ROWS = 1024


def check(model, fmt, path, signature, request):
    """Measure the artifact at `path` and refuse it when over `request.budget`.

    Returns:
        A `dict`: `precision`, `method`, the measured figures
        (`max_relative_error`, `mean_relative_error`, `top1_agreement`,
        `rows`), the limits applied (`rtol`, `agreement`), and
        `runtime_defaults` (the same figures under the runtime's bare
        defaults) or `None`.

    Raises:
        VerificationError: over budget, with the figures; or the artifact
            cannot be opened or run.
    """
    try:
        artifact = fmt.open(path)
    except errors.ArtifactError as exc:
        text = str(exc).replace(repr(path), repr(os.path.basename(path)))  # not the staging path
        raise errors.VerificationError(f"The reduced artifact could not be loaded: {text}") from exc
    batches = list(_inputs(model, signature, request.samples))
    measured = _measure(model, artifact, signature, batches)
    limits = budget_lib.judge(request.budget, measured)
    defaults = None
    found = fmt.runtime_defaults(path)
    if found is not None:
        default_artifact, described = found
        default_measured = _measure(model, default_artifact, signature, batches)
        budget_lib.judge(request.budget, default_measured)
        defaults = dict(described, **_figures(default_measured))
    return dict(
        precision=request.precision, method=request.method, **_figures(measured), **limits,
        runtime_defaults=defaults,
    )


def _figures(measured):
    return {
        "max_relative_error": measured.max_relative_error,
        "mean_relative_error": measured.mean_relative_error,
        "top1_agreement": measured.top1_agreement, "rows": measured.rows,
    }


def _inputs(model, signature, samples):
    """Positional argument lists, batch by batch."""
    import keras

    if samples is None:
        int_high = verify.embedding_vocabulary(model)
        yield verify.make_inputs(signature, 1, verify.DYNAMIC_SIZES[0], int_high)
        yield verify.make_inputs(signature, GENERATED_ROWS, verify.DYNAMIC_SIZES[0], int_high)
        return
    rows = 0
    for flat in samples.batches(_BATCH):
        if rows >= MAX_ROWS:
            break
        rows += flat[0].shape[0]
        yield keras.tree.pack_sequence_as(signature, flat)


def _measure(model, artifact, signature, batches):
    run = verify.artifact_runner(artifact, signature)
    collected = {}
    for args in batches:
        expected = verify.model_outputs(model, args)
        actual = verify.run_checked(run, args, "The reduced artifact failed to run")
        for name, reference, result in verify.paired(expected, actual):
            collected.setdefault(name, ([], []))
            collected[name][0].append(np.asarray(reference))
            collected[name][1].append(np.asarray(result))
    pairs = [(name, np.concatenate(refs), np.concatenate(results))
             for name, (refs, results) in collected.items()]
    return budget_lib.compare(pairs)
