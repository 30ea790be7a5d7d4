"""Calibration and selective answering over per-option log-likelihoods (the ``emobench_*_ll`` tasks).

Accuracy says how often the most likely option is right; it does not say whether the model knows
when it is wrong. Scoring every option of a question gives a probability per option, and from it:

- **confidence**: the largest of the softmax-over-options probabilities; the prediction is that
  option (on a tie, the earlier option in the record's list);
- **expected calibration error (ECE)**: :data:`ECE_BINS` = 10 fixed, equal-width confidence bins
  over [0, 1], right-closed like Guo et al. 2017 (``(0, 0.1], (0.1, 0.2], ..., (0.9, 1]``; a
  confidence of exactly 0 goes to the first bin); ECE = sum over bins of
  ``(samples in bin / all samples) * |accuracy in bin - mean confidence in bin|``;
- **Brier score** (multi-class): the mean over questions of ``sum_k (p_k - y_k)^2`` over the
  question's options, ``y`` one-hot on the true option: 0 is perfect, 2 the worst;
- **AUROC** of confidence against correctness (scikit-learn's ``roc_auc_score``): the chance that a
  right answer is more confident than a wrong one. ``None`` (undefined) when all answers are right
  or all are wrong;
- **accuracy at coverage** c: answer only the questions whose confidence is at least the threshold
  ``t``, where ``t`` is the confidence of the ``ceil(c * n)``-th most confident question; ties at
  ``t`` are all answered, so the achieved coverage can exceed ``c``. At c = 100% every question is
  answered: it equals the accuracy. :func:`coverage_curve` gives every threshold.

Everything here is pure numpy/scikit-learn on plain lists, so the numbers are checked by hand in
``tests/emobench/test_calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Fixed number of equal-width confidence bins for ECE and the reliability diagram.
ECE_BINS = 10
#: Coverages reported per task (accuracy when only the most confident share is answered).
COVERAGES: tuple[float, ...] = (0.5, 0.8, 1.0)


def loglikelihood_scores(values: Sequence[float]) -> np.ndarray:
    """Per-option scores where higher means more likely, from what a model's ``loglikelihood`` returned.

    lmms-eval's API asks for the log-likelihood of each continuation (``<= 0``; the ``emollm`` and
    ``dummy`` models return it), but its ``llava`` and ``llava_hf`` wrappers return the mean token
    loss (``>= 0``), which is minus a per-token log-likelihood. So values that are all ``<= 0`` are
    taken as they are, values that are all ``>= 0`` (and not all 0) are negated; a mix cannot be
    either and is an error, as is NaN.
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"expected one log-likelihood per option, got {values!r}")
    if np.isnan(array).any():
        raise ValueError(f"a log-likelihood is NaN: {list(array)}")
    if (array <= 0).all():
        return array
    if (array >= 0).all():
        return -array
    raise ValueError(
        f"log-likelihoods {list(array)} mix signs: they are neither log-probabilities (<= 0) nor losses (>= 0)"
    )


def option_probabilities(scores: Sequence[float]) -> list[float]:
    """Softmax over one question's option scores (numerically stable; ``-inf`` is probability 0)."""
    array = np.asarray(scores, dtype=float)
    top = array.max()
    if not np.isfinite(top):
        raise ValueError(f"no option has a finite log-likelihood: {list(array)}")
    weights = np.exp(array - top)
    return (weights / weights.sum()).tolist()


def prediction(probs: Sequence[float]) -> tuple[int, float]:
    """(index of the most likely option, its probability); ties go to the earlier option."""
    array = np.asarray(probs, dtype=float)
    index = int(np.argmax(array))
    return index, float(array[index])


def _checked(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape or conf.ndim != 1:
        raise ValueError(f"{conf.size} confidences but {right.size} correctness flags")
    if conf.size == 0:
        raise ValueError("no samples to score")
    if ((conf < 0) | (conf > 1) | np.isnan(conf)).any():
        raise ValueError("confidences must lie in [0, 1]")
    return conf, right


def bin_index(confidence: Sequence[float], bins: int = ECE_BINS) -> np.ndarray:
    """The right-closed bin of each confidence: ``(i/bins, (i+1)/bins]`` is bin ``i``; 0 is in bin 0."""
    edges = np.arange(1, bins) / bins  # the nearest doubles to 0.1, ..., 0.9
    return np.digitize(np.asarray(confidence, dtype=float), edges, right=True)


def reliability_bins(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> list[dict]:
    """One entry per bin: its range, sample count, mean confidence and accuracy (None when empty)."""
    conf, right = _checked(confidence, correct)
    index = bin_index(conf, bins)
    rows = []
    for i in range(bins):
        members = index == i
        count = int(members.sum())
        rows.append(
            {
                "low": i / bins,
                "high": (i + 1) / bins,
                "count": count,
                "confidence": float(conf[members].mean()) if count else None,
                "accuracy": float(right[members].mean()) if count else None,
            }
        )
    return rows


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` fixed equal-width bins (see the module docstring)."""
    conf, _ = _checked(confidence, correct)
    total = conf.size
    return float(
        sum(
            row["count"] / total * abs(row["accuracy"] - row["confidence"])
            for row in reliability_bins(confidence, correct, bins)
            if row["count"]
        )
    )


def brier_score(probs: Sequence[Sequence[float]], targets: Sequence[int | None]) -> float:
    """Multi-class Brier score: mean of ``sum_k (p_k - y_k)^2``; a target of None (not an option) is all-zero ``y``."""
    if len(probs) != len(targets):
        raise ValueError(f"{len(probs)} probability rows but {len(targets)} targets")
    if not probs:
        raise ValueError("no samples to score")
    total = 0.0
    for row, target in zip(probs, targets, strict=True):
        p = np.asarray(row, dtype=float)
        y = np.zeros_like(p)
        if target is not None:
            y[target] = 1.0
        total += float(((p - y) ** 2).sum())
    return total / len(probs)


def auroc(confidence: Sequence[float], correct: Sequence[bool]) -> float | None:
    """ROC AUC of confidence as a detector of right answers; None when all are right or all wrong."""
    from sklearn.metrics import roc_auc_score

    conf, right = _checked(confidence, correct)
    if right.all() or not right.any():
        return None
    return float(roc_auc_score(right, conf))


def accuracy_at_coverage(confidence: Sequence[float], correct: Sequence[bool], coverage: float) -> float:
    """Accuracy over the questions with confidence >= the ``ceil(coverage * n)``-th highest confidence."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    conf, right = _checked(confidence, correct)
    k = max(1, math.ceil(round(coverage * conf.size, 9)))
    threshold = np.sort(conf)[::-1][k - 1]
    return float(right[conf >= threshold].mean())


def coverage_curve(confidence: Sequence[float], correct: Sequence[bool]) -> list[dict]:
    """Every distinct threshold, most confident first: ``{"threshold", "coverage", "accuracy", "answered"}``."""
    conf, right = _checked(confidence, correct)
    points = []
    for threshold in np.unique(conf)[::-1]:
        answered = conf >= threshold
        points.append(
            {
                "threshold": float(threshold),
                "coverage": float(answered.mean()),
                "accuracy": float(right[answered].mean()),
                "answered": int(answered.sum()),
            }
        )
    return points


def coverage_key(coverage: float) -> str:
    """``0.8`` -> ``acc_cov80``: the metric name of accuracy at that coverage."""
    return f"acc_cov{round(100 * coverage)}"


def summarize(probs: Sequence[Sequence[float]], targets: Sequence[int | None]) -> dict:
    """All calibration numbers of one task from each question's option probabilities and true option index.

    Returns ``n``, ``accuracy``, ``ece``, ``brier``, ``auroc`` (None when undefined), one
    ``acc_cov<c>`` per :data:`COVERAGES`, ``reliability`` (the bins) and ``curve`` (the coverage curve).
    """
    predicted = [prediction(row) for row in probs]
    confidence = [conf for _, conf in predicted]
    correct = [index == target for (index, _), target in zip(predicted, targets, strict=True)]
    out: dict = {
        "n": len(probs),
        "accuracy": float(np.mean(correct)) if correct else 0.0,
        "ece": expected_calibration_error(confidence, correct),
        "brier": brier_score(probs, targets),
        "auroc": auroc(confidence, correct),
    }
    for coverage in COVERAGES:
        out[coverage_key(coverage)] = accuracy_at_coverage(confidence, correct, coverage)
    out["reliability"] = reliability_bins(confidence, correct)
    out["curve"] = coverage_curve(confidence, correct)
    return out
