"""lmms-eval glue for the log-likelihood variants of the EmoBench sub-tasks (``emobench_<task>_ll``).

Each question is asked as in the generative task (same records, same prompt, same visuals,
``utils.py``), but instead of generating an answer the model scores every option as the
continuation of the prompt (lmms-eval's ``multiple_choice`` output type: one ``loglikelihood``
request per option). The options are the record's own (close-set and intent), the record's hidden
label set (open-set ``emo_o``) or yes/no (the application tasks), exactly the labels the
generative task reads answers against (``tasks.answer_options``).

lmms-eval's own ``multiple_choice`` scoring takes the ``argmin`` of the returned values (its
``llava`` wrappers return a loss), which would pick the least likely option of a model that
returns log-likelihoods as the API asks (``emollm``). So the scores are read through
:func:`calibration.loglikelihood_scores`, which accepts either convention, then turned into
probabilities over the options; the metrics are in ``emollm_plugin/emobench/calibration.py``.

lmms-eval 0.7.3 also turns each ``(log-likelihood, is_greedy)`` pair into its ``str()`` on the way
from the model to the task (``api.instance.unwrap_generation_output`` only keeps strings), so
:func:`option_value` reads ``"(-1.25, False)"`` back as well as a real pair.

Per sample the info dict carries ``options`` and ``probs`` (with ``id``, ``modality``, ``source``,
``target`` and ``parsed`` = the most likely option, as in the generative tasks), so reports can
draw reliability diagrams and coverage curves from lmms-eval's samples file.
"""

from __future__ import annotations

import math
import re

from loguru import logger

from emollm_plugin.emobench.calibration import (
    COVERAGES,
    accuracy_at_coverage,
    auroc,
    brier_score,
    coverage_key,
    expected_calibration_error,
    loglikelihood_scores,
    option_probabilities,
    prediction,
)
from emollm_plugin.emobench.tasks import answer_options

#: Per-sample keys that carry the info dict (each metric aggregates its own copy).
INFO_METRICS = ("macro_f1", "uar", "ece", "brier", "auroc", *(coverage_key(c) for c in COVERAGES))
_PAIR_TEXT = re.compile(r"^\(\s*([^,()]+?)\s*,\s*(?:True|False|[01])\s*\)$")


def option_value(result: object) -> float:
    """The log-likelihood of one option from what lmms-eval hands the task: a pair, its ``str()``, or a number."""
    if isinstance(result, list | tuple) and result:
        return float(result[0])
    if isinstance(result, int | float) and not isinstance(result, bool):
        return float(result)
    if isinstance(result, str):
        match = _PAIR_TEXT.match(result.strip())
        if match:
            return float(match.group(1))  # float() reads "-inf" and "nan", which literal_eval does not
    raise ValueError(f"not a (log-likelihood, is_greedy) result: {result!r}")


def emobench_doc_to_choice(doc: dict) -> list[str]:
    """The options a question is scored over: yes/no, or the record's options (emo_o: its label set)."""
    return list(answer_options(doc["task"], doc["options"]))


def emobench_ll_process_results(doc: dict, results: list) -> dict:
    """``accuracy`` of the most likely option, and the info dict (with option probabilities) for the rest."""
    options = emobench_doc_to_choice(doc)
    values = [option_value(result) for result in results]
    if len(values) != len(options):
        raise ValueError(
            f"EmoBench {doc['task']}: record {doc['id']!r}: {len(values)} log-likelihoods for {len(options)} options"
        )
    probs = option_probabilities(loglikelihood_scores(values))
    index, _ = prediction(probs)
    target = doc["answer"]
    if target not in options:
        logger.error(
            f"EmoBench {doc['task']}: record {doc['id']!r}: answer {target!r} is not among its options {options}; "
            "counted wrong (run `emollm data validate`)"
        )
    info = {
        "id": doc["id"],
        "modality": doc["modality"],
        "source": doc["source"],
        "target": target,
        "parsed": options[index],
        "options": options,
        "probs": probs,
    }
    return {"accuracy": float(options[index] == target), **{name: info for name in INFO_METRICS}}


def _confidence_correct(items: list[dict]) -> tuple[list[float], list[bool]]:
    predicted = [prediction(item["probs"]) for item in items]
    confidence = [conf for _, conf in predicted]
    correct = [item["options"][index] == item["target"] for item, (index, _) in zip(items, predicted, strict=True)]
    return confidence, correct


def _target_index(item: dict) -> int | None:
    return item["options"].index(item["target"]) if item["target"] in item["options"] else None


def aggregate_ece(items: list[dict]) -> float:
    """Expected calibration error, 10 fixed equal-width bins of the max option probability."""
    return expected_calibration_error(*_confidence_correct(items))


def aggregate_brier(items: list[dict]) -> float:
    """Multi-class Brier score over the options."""
    return brier_score([item["probs"] for item in items], [_target_index(item) for item in items])


def aggregate_auroc(items: list[dict]) -> float:
    """AUROC of confidence against correctness; NaN (written as NaN, read back as None) when undefined."""
    value = auroc(*_confidence_correct(items))
    return math.nan if value is None else value


def aggregate_acc_cov50(items: list[dict]) -> float:
    """Accuracy over the most confident 50% of the questions."""
    return accuracy_at_coverage(*_confidence_correct(items), 0.5)


def aggregate_acc_cov80(items: list[dict]) -> float:
    """Accuracy over the most confident 80% of the questions."""
    return accuracy_at_coverage(*_confidence_correct(items), 0.8)


def aggregate_acc_cov100(items: list[dict]) -> float:
    """Accuracy over all questions (equals ``accuracy``; listed so the three coverages sit together)."""
    return accuracy_at_coverage(*_confidence_correct(items), 1.0)
