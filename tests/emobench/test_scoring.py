"""parse_answer on tricky free-form outputs, the synonym lexicon, and the metrics."""

from __future__ import annotations

import time

import pytest

from emollm_plugin.emobench.scoring import (
    LEXICON,
    UNPARSED,
    parse_answer,
    parse_answer_strict,
    percent,
    read_sample,
    score,
    score_samples,
    score_task,
    task_labels,
)
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, LABEL_SETS, TASKS

EKMAN7 = LABEL_SETS["ekman7"]
MIKELS8 = LABEL_SETS["mikels8"]
MINTREC = LABEL_SETS["mintrec20"]
YN = ("yes", "no")

# (task, model output, options, expected with lexicon, expected strict)
# fmt: off
CASES = [
    ("emo_c", "joy", EKMAN7, "joy", "joy"),
    ("emo_c", "Joy.", EKMAN7, "joy", "joy"),
    ("emo_c", "  SADNESS  ", EKMAN7, "sadness", "sadness"),
    ("emo_c", '"fear"', EKMAN7, "fear", "fear"),
    ("emo_c", "\u201cSurprise\u201d", EKMAN7, "surprise", "surprise"),
    ("emo_c", "The answer is: Anger", EKMAN7, "anger", "anger"),
    ("emo_c", "**Answer:** disgust", EKMAN7, "disgust", "disgust"),
    ("emo_c", "The emotion depicted in the image is neutral.", EKMAN7, "neutral", "neutral"),
    ("emo_c", "[joy]", EKMAN7, "joy", "joy"),
    # a rationale naming several labels, then the final answer line: the final line wins
    ("emo_c", "The smile suggests joy, but the tears point to sadness.\nAnswer: sadness", EKMAN7, "sadness", "sadness"),
    ("emo_c", "Answer: joy\nOn reflection the clenched fists show anger.\nAnswer: anger", EKMAN7, "anger", "anger"),
    ("emo_c", "Cues: a raised brow (surprise) and a frown (anger).\nanger", EKMAN7, "anger", "anger"),
    ("emo_c", "Answer:\nfear", EKMAN7, "fear", "fear"),
    # two labels, no final answer line: cannot tell
    ("emo_c", "It could be joy or sadness.", EKMAN7, None, None),
    ("emo_c", "", EKMAN7, None, None),
    ("emo_c", "   \n  ", EKMAN7, None, None),
    ("emo_c", "I'm sorry, I cannot determine the emotion of a real person.", EKMAN7, None, None),
    ("emo_c", "I can't say whether she feels fear.", EKMAN7, None, None),
    ("emo_c", "Answer: unclear", EKMAN7, None, None),
    # "joyful" is not the word "joy": whole words only, then the lexicon
    ("emo_c", "She looks joyful.", EKMAN7, "joy", None),
    ("emo_c", "The answer is not obvious at first. Looking closer, the face shows fear.", EKMAN7, "fear", "fear"),
    # negated labels do not count
    ("emo_c", "The person does not show anger.", EKMAN7, None, None),
    ("emo_c", "It's not sadness, it's joy.", EKMAN7, "joy", "joy"),
    ("emo_c", "There is no doubt this is fear.", EKMAN7, "fear", "fear"),
    ("emo_o", "She isn't happy; she is scared.", EKMAN7, "fear", None),
    # open set: synonyms through the lexicon, strict needs the label word
    ("emo_o", "Happy", EKMAN7, "joy", None),
    ("emo_o", "Happiness.", EKMAN7, "joy", None),
    ("emo_o", "The person seems scared.", EKMAN7, "fear", None),
    ("emo_o", "angry", EKMAN7, "anger", None),
    ("emo_o", "He is sad.", EKMAN7, "sadness", None),
    ("emo_o", "surprised!", EKMAN7, "surprise", None),
    ("emo_o", "disgusted", EKMAN7, "disgust", None),
    ("emo_o", "excited", MIKELS8, "excitement", None),
    ("emo_o", "amused", MIKELS8, "amusement", None),
    ("emo_o", "content", MIKELS8, "contentment", None),
    ("emo_o", "Happy", MIKELS8, None, None),  # joy is not among Mikels' eight: no mapping
    ("emo_o", "happy and scared", EKMAN7, None, None),
    ("emo_o", "Final answer: afraid", EKMAN7, "fear", None),
    # intents, multi-word options
    ("intent", "ask for help", MINTREC, "ask for help", "ask for help"),
    ("intent", "The speaker wants to Ask  for\nhelp.", MINTREC, "ask for help", "ask for help"),
    ("intent", "Asking for help", MINTREC, "ask for help", None),
    ("intent", "apologize", MINTREC, "apologise", None),
    ("intent", "The intent is to greet.", MINTREC, "greet", "greet"),
    ("intent", "thank or praise", MINTREC, None, None),
    # yes/no, including statements
    ("hate", "Yes", YN, "yes", "yes"),
    ("hate", "no.", YN, "no", "no"),
    ("sarcasm", "This is not sarcastic.", YN, "no", "no"),
    ("hate", "It is hateful", YN, "yes", "yes"),
    ("humor", "not humorous", YN, "no", "no"),
    ("humor", "The meme is funny.", YN, "yes", "yes"),
    ("hate", "The meme doesn't contain hate speech.", YN, "no", "no"),
    ("hate", "non-hateful", YN, "no", "no"),
    ("sarcasm", "There is no sarcasm here.", YN, "no", "no"),
    ("sarcasm", "Yes, definitely sarcastic.", YN, "yes", "yes"),
    ("sarcasm", "No, it is sincere.", YN, "no", "no"),
    ("sarcasm", "The speaker rolls their eyes, which is sarcastic.\nAnswer: yes", YN, "yes", "yes"),
    ("sarcasm", "It looks sarcastic, but the tone is warm.\nAnswer: No", YN, "no", "no"),
    ("sarcasm", "I can't tell whether it is sarcastic.", YN, None, None),
    ("humor", "It is funny, although not humorous.", YN, None, None),
    ("hate", "maybe", YN, None, None),
    ("hate", "No idea.", YN, None, None),
    ("sarcasm", "I'm not sure it is sarcastic.", YN, None, None),
    ("humor", "I would say yes", YN, "yes", "yes"),
    # one rule for every task: an answer naming more than one label is unreadable ...
    ("hate", "Answer: yes, no", YN, None, None),
    ("sarcasm", "Yes and no", YN, None, None),
    ("humor", "no, yes", YN, None, None),
    ("hate", "yes/no", YN, None, None),
    ("sarcasm", "Yes or no: hard to say.", YN, None, None),
    ("emo_c", "Answer: joy, anger", EKMAN7, None, None),
    ("emo_c", "joy and anger", EKMAN7, None, None),
    ("intent", "Answer: greet / thank", MINTREC, None, None),
    # ... unless a final answer line settles it
    ("sarcasm", "Yes and no.\nAnswer: no", YN, "no", "no"),
    ("humor", "no, yes\nyes", YN, "yes", "yes"),
    ("emo_c", "joy and anger\nAnswer: anger", EKMAN7, "anger", "anger"),
    # "no" as a determiner names no label; asserting idioms are not negations
    ("hate", "No doubt it is hateful", YN, "yes", "yes"),
    ("hate", "Without a doubt, this meme is hateful.", YN, "yes", "yes"),
    ("hate", "No doubt it is not hateful.", YN, "no", "no"),
    ("sarcasm", "Yes, there is no doubt.", YN, "yes", "yes"),
    ("sarcasm", "Yes, with no hesitation.", YN, "yes", "yes"),
    ("humor", "No, no.", YN, "no", "no"),
    ("hate", "I would say no, it is not hateful.", YN, "no", "no"),
    ("emo_c", "No doubt: fear.", EKMAN7, "fear", "fear"),
]
# fmt: on


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("task", "text", "options", "expected", "expected_strict"), CASES)
def test_parse_answer(
    task: str, text: str, options: tuple, expected: str | None, expected_strict: str | None
) -> None:
    assert parse_answer(task, text, options) == expected
    assert parse_answer_strict(task, text, options) == expected_strict


def test_yes_no_tasks_ignore_the_records_options() -> None:
    # yes/no records store no options; the answer is read against yes/no anyway
    assert parse_answer("hate", "yes", []) == "yes"
    assert parse_answer("humor", "It is not funny.", ["anything"]) == "no"


def test_none_output_is_unparsed() -> None:
    assert parse_answer("emo_c", None, EKMAN7) is None


def test_label_tasks_need_options() -> None:
    with pytest.raises(ValueError, match="options"):
        parse_answer("emo_c", "joy", [])


def test_answer_prefix_matches_the_rationale_format() -> None:
    rationale = f"The raised eyebrows and open mouth show surprise, not fear.\n{ANSWER_PREFIX} surprise"
    assert parse_answer("emo_c", rationale, EKMAN7) == "surprise"


def test_lexicon_targets_are_real_labels_and_keys_are_not() -> None:
    labels = {label for labels in LABEL_SETS.values() for label in labels}
    assert set(LEXICON.values()) <= labels
    assert not set(LEXICON) & labels
    for word in (
        "happy",
        "happiness",
        "joyful",
        "scared",
        "afraid",
        "angry",
        "sad",
        "apologize",
        "surprised",
        "disgusted",
        "excited",
        "amused",
        "content",
    ):
        assert word in LEXICON


@pytest.mark.parametrize("word", sorted(LEXICON))
def test_every_lexicon_entry_maps_when_alone(word: str) -> None:
    label = LEXICON[word]
    options = next(o for o in LABEL_SETS.values() if label in o)
    assert parse_answer("emo_o", word, options) == label
    assert parse_answer("emo_o", f"The answer is {word.title()}.", options) == label


def test_score_metrics_by_hand() -> None:
    labels = ["a", "b", "c"]
    refs = ["a", "a", "a", "b", "b", "c"]
    preds = ["a", "a", "b", "b", None, "x"]  # "x" is outside the labels: counted as unparsed
    result = score(preds, refs, labels)
    assert result["n"] == 6
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["per_class_recall"] == {"a": pytest.approx(2 / 3), "b": 0.5, "c": 0.0}
    assert result["uar"] == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    # F1: a = 2*2/(3+2) = 0.8; b = 2*1/(2+2) = 0.5; c = 0
    assert result["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert result["unparsed_rate"] == pytest.approx(2 / 6)
    assert result["confusion"]["columns"] == ["a", "b", "c", UNPARSED]
    assert result["confusion"]["matrix"] == [[2, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 1]]


def test_score_leaves_absent_classes_out_of_uar() -> None:
    result = score(["a", "a"], ["a", "a"], ["a", "b"])
    assert result["per_class_recall"]["b"] is None
    assert result["uar"] == 1.0
    assert result["macro_f1"] == 1.0


def test_score_rejects_mismatched_input() -> None:
    with pytest.raises(ValueError, match="predictions"):
        score(["a"], ["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="not among the labels"):
        score(["a"], ["z"], ["a", "b"])


def test_score_task_reports_strict_and_lexicon_accuracy() -> None:
    outputs = ["happy", "joy", "scared", "I have no idea"]
    refs = ["joy", "joy", "fear", "sadness"]
    result = score_task("emo_o", outputs, refs, EKMAN7)
    assert result["accuracy"] == pytest.approx(3 / 4)
    assert result["strict_accuracy"] == pytest.approx(1 / 4)
    assert result["unparsed_rate"] == pytest.approx(1 / 4)
    assert result["strict_unparsed_rate"] == pytest.approx(3 / 4)


def test_score_task_with_one_empty_option_list_for_yes_no() -> None:
    result = score_task("hate", ["Yes.", "It is not hateful.", "no idea"], ["yes", "no", "no"], [])
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["confusion"]["labels"] == ["yes", "no"]


def test_task_labels_unite_the_label_sets() -> None:
    assert task_labels("emo_c", [EKMAN7, MIKELS8, EKMAN7])[: len(EKMAN7)] == list(EKMAN7)
    assert set(task_labels("emo_c", [EKMAN7, MIKELS8])) == set(EKMAN7) | set(MIKELS8)
    assert task_labels("sarcasm", [[], []]) == ["yes", "no"]


def test_scoring_is_fast_enough_for_emobench() -> None:
    # 287k predictions must score in <= 10 s; a tenth of that here, with a 3x margin for shared CPUs
    outputs, refs, options = [], [], []
    for i in range(28_700):
        task = TASKS[i % len(TASKS)]
        opts = MINTREC if task == "intent" else EKMAN7
        label = ("yes", "no")[i % 2] if task in ("hate", "humor", "sarcasm") else opts[i % len(opts)]
        outputs.append(f"Looking at case {i}, the cues point one way.\nAnswer: {label}")
        refs.append(label)
        options.append((task, opts))
    score(["a"], ["a"])  # import scikit-learn first: its import is start-up, not scoring
    start = time.perf_counter()
    parsed = [parse_answer(task, out, opts) for out, (task, opts) in zip(outputs, options, strict=True)]
    score(parsed, refs, sorted(set(refs)))
    assert time.perf_counter() - start < 3.0
    assert parsed == refs


def test_per_class_values_and_how_unparsed_answers_count() -> None:
    # truth a a a b b c; answers a a b b (unreadable) (outside the labels)
    result = score(["a", "a", "b", "b", None, "x"], ["a", "a", "a", "b", "b", "c"], ["a", "b", "c", "d"])
    per = result["per_class"]
    assert per["a"] == {"support": 3, "predicted": 2, "recall": pytest.approx(2 / 3), "precision": 1.0,
                        "f1": pytest.approx(0.8)}
    # b: 1 right of 2, and 1 of its 2 answers right; the unreadable answer costs b's recall only
    assert per["b"] == {"support": 2, "predicted": 2, "recall": 0.5, "precision": 0.5, "f1": 0.5}
    # c: never answered: recall 0, precision undefined (None), F1 0; it counts in UAR and macro-F1
    assert per["c"] == {"support": 1, "predicted": 0, "recall": 0.0, "precision": None, "f1": 0.0}
    # d: neither in the truth nor answered: no values, and left out of UAR and macro-F1
    assert per["d"] == {"support": 0, "predicted": 0, "recall": None, "precision": None, "f1": None}
    assert result["uar"] == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    assert result["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert result["confusion"]["matrix"] == [[2, 1, 0, 0, 0], [0, 1, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    # a class that is only ever answered (never true) counts in macro-F1 (F1 0), not in UAR
    answered = score(["a", "b"], ["a", "a"], ["a", "b"])
    assert answered["uar"] == 0.5 and answered["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)


def test_empty_input_and_the_reserved_label() -> None:
    empty = score([], [], ["a", "b"])
    assert (empty["n"], empty["accuracy"], empty["macro_f1"], empty["uar"], empty["unparsed_rate"]) == (0, 0, 0, 0, 0)
    assert empty["confusion"]["matrix"] == [[0, 0, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="'unparsed' cannot be a label"):
        score(["a"], ["a"], ["a", UNPARSED])


def test_evaluation_and_score_task_take_one_path() -> None:
    """The lmms-eval task stores read_sample per sample and aggregates with score_samples; so does score_task."""
    outputs = ["joy", "The face shows fear.\nAnswer: fear", "happy", "no idea", "anger"]
    refs = ["joy", "joy", "joy", "sadness", "anger"]
    whole = score_task("emo_o", outputs, refs, EKMAN7)
    samples = [read_sample("emo_o", o, r, EKMAN7, strict=True) for o, r in zip(outputs, refs, strict=True)]
    per_sample = score_samples(samples)  # the labels the samples show, as the task's aggregation sees them
    for metric in ("accuracy", "macro_f1", "uar", "unparsed_rate"):
        assert per_sample[metric] == pytest.approx(whole[metric]), metric
    assert score_samples(samples, strict=True)["accuracy"] == pytest.approx(whole["strict_accuracy"])
    assert samples[2] == {"target": "joy", "parsed": "joy", "parsed_strict": None}
    assert read_sample("hate", "Yes.", "yes", []) == {"target": "yes", "parsed": "yes"}


def test_percent_is_the_tables_format() -> None:
    assert (percent(0.5), percent(1 / 3), percent(None)) == ("50.0", "33.3", "-")
