"""Calibration metrics on small cases computed by hand (the numbers in the comments)."""

from __future__ import annotations

import math

import pytest

from emollm_plugin.emobench.calibration import (
    accuracy_at_coverage,
    auroc,
    bin_index,
    brier_score,
    coverage_curve,
    expected_calibration_error,
    loglikelihood_scores,
    option_probabilities,
    prediction,
    reliability_bins,
    summarize,
)

# Four questions: (option probabilities, true option).
#   q1 [0.9, 0.1]      true 0 -> predicts 0, confidence 0.9, right
#   q2 [0.8, 0.2]      true 1 -> predicts 0, confidence 0.8, wrong
#   q3 [0.2, 0.7, 0.1] true 1 -> predicts 1, confidence 0.7, right
#   q4 [0.5, 0.5]      true 1 -> tie, predicts 0 (the earlier option), confidence 0.5, wrong
PROBS = [[0.9, 0.1], [0.8, 0.2], [0.2, 0.7, 0.1], [0.5, 0.5]]
TARGETS = [0, 1, 1, 1]
CONF = [0.9, 0.8, 0.7, 0.5]
RIGHT = [True, False, True, False]


def test_prediction_takes_the_earlier_option_on_a_tie() -> None:
    assert [prediction(p) for p in PROBS] == [(0, 0.9), (0, 0.8), (1, 0.7), (0, 0.5)]


def test_bins_are_right_closed_tenths() -> None:
    # (0, .1] is bin 0 (0 too), (.1, .2] bin 1, ..., (.9, 1] bin 9
    assert bin_index([0.0, 0.1, 0.1000001, 0.5, 0.7, 0.95, 1.0]).tolist() == [0, 0, 1, 4, 6, 9, 9]


def test_ece_by_hand() -> None:
    # one sample in each of bins 8, 7, 6, 4: (|1-.9| + |0-.8| + |1-.7| + |0-.5|) / 4 = 1.7 / 4
    assert expected_calibration_error(CONF, RIGHT) == pytest.approx(0.425)
    # two samples sharing bin 8 (0.85, 0.9; one right): |0.5 - 0.875| * 2/3, and bin 1: |0 - 0.2| / 3
    assert expected_calibration_error([0.85, 0.9, 0.2], [True, False, False]) == pytest.approx(
        (2 / 3) * 0.375 + (1 / 3) * 0.2
    )
    # perfectly calibrated: in the 0.6 bin, 3 of 5 are right
    assert expected_calibration_error([0.6] * 5, [True, True, True, False, False]) == pytest.approx(0.0)


def test_reliability_bins_hold_counts_confidence_and_accuracy() -> None:
    rows = reliability_bins(CONF, RIGHT)
    assert len(rows) == 10
    assert [r["count"] for r in rows] == [0, 0, 0, 0, 1, 0, 1, 1, 1, 0]
    assert rows[7] == {"low": 0.7, "high": 0.8, "count": 1, "confidence": 0.8, "accuracy": 0.0}
    assert rows[0]["confidence"] is None and rows[0]["accuracy"] is None


def test_brier_by_hand() -> None:
    # q1 .01+.01 = .02; q2 .64+.64 = 1.28; q3 .04+.09+.01 = .14; q4 .25+.25 = .5 -> 1.94 / 4
    assert brier_score(PROBS, TARGETS) == pytest.approx(0.485)
    # a target that is not an option: y is all zero
    assert brier_score([[0.6, 0.4]], [None]) == pytest.approx(0.36 + 0.16)


def test_auroc_by_hand_and_undefined() -> None:
    # right {.9, .7} vs wrong {.8, .5}: pairs (.9>.8, .9>.5, .7<.8, .7>.5) -> 3/4
    assert auroc(CONF, RIGHT) == pytest.approx(0.75)
    assert auroc([0.9, 0.4], [True, True]) is None
    assert auroc([0.9, 0.4], [False, False]) is None


def test_accuracy_at_coverage_by_hand() -> None:
    # 50%: the 2 most confident (.9 right, .8 wrong) -> 1/2; 75%: top 3 -> 2/3; 80% needs ceil(3.2) = 4
    assert accuracy_at_coverage(CONF, RIGHT, 0.5) == pytest.approx(0.5)
    assert accuracy_at_coverage(CONF, RIGHT, 0.75) == pytest.approx(2 / 3)
    assert accuracy_at_coverage(CONF, RIGHT, 0.8) == pytest.approx(0.5)
    assert accuracy_at_coverage(CONF, RIGHT, 0.25) == pytest.approx(1.0)
    assert accuracy_at_coverage(CONF, RIGHT, 1.0) == pytest.approx(0.5)
    # ties at the threshold are all answered: 50% of 4 is 2, but .6 is shared -> 3 answered, 2 right
    assert accuracy_at_coverage([0.9, 0.6, 0.6, 0.3], [True, False, True, False], 0.5) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="coverage"):
        accuracy_at_coverage(CONF, RIGHT, 0.0)


def test_coverage_curve_lists_every_threshold() -> None:
    curve = coverage_curve(CONF, RIGHT)
    assert [(p["threshold"], p["coverage"], p["answered"]) for p in curve] == [
        (0.9, 0.25, 1), (0.8, 0.5, 2), (0.7, 0.75, 3), (0.5, 1.0, 4)
    ]
    assert [p["accuracy"] for p in curve] == pytest.approx([1.0, 0.5, 2 / 3, 0.5])


def test_summarize_gathers_everything() -> None:
    out = summarize(PROBS, TARGETS)
    assert out["n"] == 4 and out["accuracy"] == 0.5
    assert out["ece"] == pytest.approx(0.425) and out["brier"] == pytest.approx(0.485)
    assert out["auroc"] == pytest.approx(0.75)
    assert (out["acc_cov50"], out["acc_cov80"], out["acc_cov100"]) == pytest.approx((0.5, 0.5, 0.5))
    assert len(out["reliability"]) == 10 and len(out["curve"]) == 4


def test_loglikelihood_sign_conventions() -> None:
    assert loglikelihood_scores([-1.0, -2.5]).tolist() == [-1.0, -2.5]  # log-probabilities
    assert loglikelihood_scores([1.0, 2.5]).tolist() == [-1.0, -2.5]  # mean token losses (llava_hf)
    assert loglikelihood_scores([0.0, 0.0]).tolist() == [0.0, 0.0]  # dummy: a tie
    with pytest.raises(ValueError, match="mix signs"):
        loglikelihood_scores([-1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        loglikelihood_scores([float("nan"), -1.0])


def test_softmax_over_options() -> None:
    assert option_probabilities([math.log(0.2), math.log(0.8)]) == pytest.approx([0.2, 0.8])
    # the sum of log-probabilities need not be normalised: only differences matter
    assert option_probabilities([-1000.0, -1000.0 + math.log(3)]) == pytest.approx([0.25, 0.75])
    assert option_probabilities([0.0, float("-inf")]) == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        option_probabilities([float("-inf"), float("-inf")])
