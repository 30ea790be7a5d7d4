"""Open-vocabulary emo_o scoring: the wheel file, the extractor and set precision/recall/F1 by hand."""

from __future__ import annotations

import json

import pytest

from emollm_plugin.emobench.open_vocab import (
    WHEEL_FILE,
    label_set_name,
    load_wheel,
    named_emotions,
    score_answer,
    set_scores,
)
from emollm_plugin.emobench.scoring import parse_answer
from emollm_plugin.emobench.tasks import LABEL_SETS

EKMAN6, EKMAN7, MIKELS8 = LABEL_SETS["ekman6"], LABEL_SETS["ekman7"], LABEL_SETS["mikels8"]


def test_wheel_file_cites_its_sources_and_maps_only_onto_real_labels() -> None:
    data = json.loads(WHEEL_FILE.read_text(encoding="utf-8"))
    assert {"Parrott 2001", "Plutchik 2001", "Mikels 2005", "Ekman 1992"} <= set(data["sources"])
    families = load_wheel()
    assert len(families) == len(data["families"])
    for family in families.values():
        assert family.labels.keys() == {"ekman6", "ekman7", "mikels8"}
        for name, label in family.labels.items():
            assert label is None or label in LABEL_SETS[name], (family.name, name, label)
        assert family.words, family.name


def test_a_word_in_two_families_is_an_error(tmp_path) -> None:
    wheel = {"families": {
        "a": {"primary": "joy", "labels": {}, "words": ["glad"]},
        "b": {"primary": "joy", "labels": {}, "words": ["Glad"]},
    }}
    path = tmp_path / "wheel.json"
    path.write_text(json.dumps(wheel))
    with pytest.raises(ValueError, match="'glad' is listed under both 'a' and 'b'"):
        load_wheel(path)


def test_label_sets_are_recognised_in_any_order() -> None:
    assert label_set_name(list(reversed(EKMAN7))) == "ekman7"
    assert label_set_name(MIKELS8) == "mikels8"
    assert label_set_name(["joy", "boredom"]) is None


def test_two_emotions_get_partial_credit() -> None:
    # named {joy, surprise}, label joy: precision 1/2, recall 1, F1 = 2 * (1/2 * 1) / (1/2 + 1) = 2/3
    result = score_answer("She looks happy and a little surprised.", "joy", EKMAN7)
    assert result["named"] == ["joy", "surprise"]
    assert result["set_precision"] == pytest.approx(0.5)
    assert result["set_recall"] == pytest.approx(1.0)
    assert result["set_f1"] == pytest.approx(2 / 3)
    # the one-label reading cannot tell: it gives no credit at all
    assert parse_answer("emo_o", "She looks happy and a little surprised.", EKMAN7) is None


@pytest.mark.parametrize(
    ("text", "target", "options", "named", "scores"),
    [
        # one emotion, the label word itself
        ("Joy", "joy", EKMAN7, ["joy"], (1.0, 1.0, 1.0)),
        # three named, one right: P 1/3, R 1, F1 2*(1/3)/(4/3) = 1/2
        ("anger, fear or sadness", "fear", EKMAN6, ["anger", "fear", "sadness"], (1 / 3, 1.0, 0.5)),
        # two named, both wrong
        ("angry and disgusted", "joy", EKMAN7, ["anger", "disgust"], (0.0, 0.0, 0.0)),
        # a negated mention is not named
        ("She looks happy, not angry.", "joy", EKMAN6, ["joy"], (1.0, 1.0, 1.0)),
        # synonyms of one label count once: {joy}
        ("happy, cheerful, delighted", "joy", EKMAN6, ["joy"], (1.0, 1.0, 1.0)),
        # the wheel: Parrott's cheerfulness maps onto Mikels' amusement, his zest onto excitement
        ("gleeful and thrilled", "amusement", MIKELS8, ["amusement", "excitement"], (0.5, 1.0, 2 / 3)),
        # love has no Ekman label: still an emotion named, so it costs precision
        ("love and joy", "joy", EKMAN6, ["other:affection", "joy"], (0.5, 1.0, 2 / 3)),
        # the lexicon outranks the wheel: "shocked" is surprise where surprise is a label ...
        ("shocked", "surprise", EKMAN7, ["surprise"], (1.0, 1.0, 1.0)),
        # ... and Parrott's horror (fear) where it is not
        ("shocked", "fear", MIKELS8, ["fear"], (1.0, 1.0, 1.0)),
        # Plutchik: amazement (surprise) is Mikels' awe
        ("amazed", "awe", MIKELS8, ["awe"], (1.0, 1.0, 1.0)),
        # an answer line is read on its own: the rationale's "sad" is not named
        ("The grey sky feels sad at first.\nAnswer: contentment and awe", "awe", MIKELS8,
         ["contentment", "awe"], (0.5, 1.0, 2 / 3)),
        # nothing named (a refusal, an empty answer): 0 on all three, not skipped
        ("I cannot tell.", "joy", EKMAN7, [], (0.0, 0.0, 0.0)),
        ("", "joy", EKMAN7, [], (0.0, 0.0, 0.0)),
        # neutral only exists in Ekman-7
        ("expressionless", "neutral", EKMAN7, ["neutral"], (1.0, 1.0, 1.0)),
    ],
)
def test_scores_by_hand(text, target, options, named, scores) -> None:
    result = score_answer(text, target, options)
    assert result["named"] == named
    assert (result["set_precision"], result["set_recall"], result["set_f1"]) == pytest.approx(scores)


def test_extractor_is_deterministic_and_ordered_by_first_mention() -> None:
    text = "Fear first, then joy; fear again."
    assert [named_emotions(text, EKMAN7) for _ in range(3)] == [["fear", "joy"]] * 3


def test_unknown_label_set_maps_by_family_then_primary() -> None:
    options = ["joy", "rage", "boredom"]
    # "furious" is in Parrott's rage family: the family name is an option
    assert named_emotions("furious", options) == ["rage"]
    # "hopeful" (optimism) has no option of its own: its primary, joy, is one
    assert named_emotions("hopeful", options) == ["joy"]


def test_set_scores_rule() -> None:
    assert set_scores([], "joy") == {"set_precision": 0.0, "set_recall": 0.0, "set_f1": 0.0}
    assert set_scores(["joy", "fear"], "joy")["set_f1"] == pytest.approx(2 / 3)
