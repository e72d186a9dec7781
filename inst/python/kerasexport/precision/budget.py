"""How far a reduced-precision artifact may stray from the float model, and how far it did.

Errors are relative to each output's scale (its largest magnitude in the
model's outputs), as float32 verification measures them. For outputs that
look like class scores (rows of non-negative numbers summing to one, as a
softmax gives) the share of rows whose top class is the model's own is
measured too: for int8 it is what the budget holds, since quantization
moves scores but should not move decisions.
"""

import dataclasses

import numpy as np

from kerasexport import errors

# Defaults per precision: (worst relative error, top-1 agreement) or None.
DEFAULT_RTOL = {"float16": 1e-2, "bfloat16": 1e-2, "int8": 5e-2}
DEFAULT_AGREEMENT = 0.99
_SUM_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class Budget:
    """What a reduced artifact must meet.

    Attributes:
        precision: `"float16"`, `"bfloat16"` or `"int8"`.
        rtol: the worst relative error accepted, or `None` when only
            agreement is held (int8 classifiers, by default).
        agreement: the least top-1 agreement accepted on class-score
            outputs, or `None`.
    """

    precision: str
    rtol: object
    agreement: object


def budget(precision, rtol=None, agreement=None):
    """The budget for `precision`: the defaults, unless `rtol` or `agreement` is given.

    float16 and bfloat16 are held to a worst relative error of 1e-2; int8 to
    a top-1 agreement of 0.99 where outputs look like class scores, else to
    a worst relative error of 5e-2 (`measured_against` chooses).

    Raises:
        ArgumentError: `rtol` not a non-negative number, `agreement` not in
            [0, 1].
    """
    if rtol is not None and (isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not rtol >= 0):
        raise errors.ArgumentError(f"`rtol` must be a non-negative number, received {rtol!r}.")
    if agreement is not None and (
        isinstance(agreement, bool) or not isinstance(agreement, (int, float)) or not 0 <= agreement <= 1
    ):
        raise errors.ArgumentError(
            f"`agreement` must be a share of rows between 0 and 1 (such as 0.99), received {agreement!r}."
        )
    return Budget(precision=precision, rtol=rtol, agreement=agreement)


@dataclasses.dataclass(frozen=True)
class Measured:
    """How a reduced artifact compared with the model.

    Attributes:
        max_relative_error: worst absolute difference over each output's scale.
        mean_relative_error: mean absolute difference over each output's scale
            (the worst output's).
        top1_agreement: share of rows with the model's top class, over every
            class-score output; `None` when no output looks like class scores.
        rows: how many input rows were compared.
        classifier: whether every output looks like class scores.
    """

    max_relative_error: float
    mean_relative_error: float
    top1_agreement: object
    rows: int
    classifier: bool

    def describe(self):
        text = (f"worst relative error {self.max_relative_error:.3g}, mean "
                f"{self.mean_relative_error:.3g}")
        if self.top1_agreement is not None:
            text += f", top-1 agreement {self.top1_agreement:.4g}"
        return f"{text} over {self.rows} row(s)"


def looks_like_class_scores(reference):
    """Rows of at least two non-negative scores summing to one (a softmax's output)."""
    if reference.ndim != 2 or reference.shape[1] < 2 or reference.dtype.kind != "f":
        return False
    return bool(np.all(reference >= 0) and np.allclose(reference.sum(axis=1), 1.0, atol=_SUM_TOLERANCE))


def compare(pairs):
    """`Measured` for (name, model array, artifact array) triples."""
    worst = mean = 0.0
    agree = total = 0
    classifier = bool(pairs)
    rows = 0
    for _, reference, result in pairs:
        reference = np.asarray(reference)
        result = np.asarray(result)
        if result.shape != reference.shape:
            raise errors.VerificationError(
                f"The reduced artifact returns shape {result.shape} where the model returns {reference.shape}."
            )
        rows = max(rows, reference.shape[0] if reference.ndim else 1)
        ref64 = reference.astype(np.float64)
        scale = max(float(np.max(np.abs(ref64))) if ref64.size else 0.0, 1e-12)
        diff = np.abs(result.astype(np.float64) - ref64)
        if diff.size:
            worst = max(worst, float(diff.max()) / scale)
            mean = max(mean, float(diff.mean()) / scale)
        if looks_like_class_scores(reference):
            agree += int(np.sum(result.argmax(axis=1) == reference.argmax(axis=1)))
            total += reference.shape[0]
        else:
            classifier = False
    return Measured(
        max_relative_error=worst, mean_relative_error=mean,
        top1_agreement=(agree / total) if total else None, rows=rows, classifier=classifier,
    )


def judge(held, measured):
    """Refuse `measured` when it is over `held` (a `Budget`); returns the limits applied.

    Raises:
        VerificationError: with the measured figures and the budget.
    """
    rtol, agreement = held.rtol, held.agreement
    if held.precision == "int8" and measured.classifier:
        agreement = DEFAULT_AGREEMENT if agreement is None else agreement
    elif rtol is None:
        rtol = DEFAULT_RTOL[held.precision]
    over = []
    if rtol is not None and not measured.max_relative_error <= rtol:
        over.append(f"worst relative error {measured.max_relative_error:.3g} > rtol {rtol:g}")
    if agreement is not None and measured.top1_agreement is not None and measured.top1_agreement < agreement:
        over.append(f"top-1 agreement {measured.top1_agreement:.4g} < agreement {agreement:g}")
    if over:
        raise errors.VerificationError(
            f"The {held.precision} artifact is over its budget: {'; '.join(over)} "
            f"({measured.describe()}, against the float model). Nothing was written. "
            "Pass calibration data closer to real inputs, a larger `rtol` or a smaller "
            "`agreement` if this is acceptable, or keep float32."
        )
    return {"rtol": rtol, "agreement": agreement}
