"""Exemplar selection (deterministic, spread over labels), formatting and the exemplars.json round trip."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from emollm_plugin.cli import main as emollm
from emollm_plugin.emoprompt.exemplars import (
    EXEMPLAR_HEADER,
    Exemplar,
    format_with_exemplars,
    load_exemplars,
    select_all,
    select_exemplars,
    split_answer_line,
    write_exemplars,
)

LABELS = ["anger", "joy", "sadness", "fear"]


def entries(per_label: dict[str, int], task: str = "emo_c") -> list[dict]:
    """Accepted rationale entries as ``generate`` writes them (plus a few that must never be picked)."""
    out = []
    for label, count in per_label.items():
        for i in range(count):
            out.append({
                "id": f"{task}-{label}-{i}", "task": task, "question": f"Q {label} {i}?", "answer": label,
                "rationale": f"Cues for {label} #{i}.\nAnswer: {label}", "accepted": True, "status": "accepted",
            })
    out.append({"id": "rej", "task": task, "question": "Q?", "answer": "joy", "rationale": "Answer: anger",
                "accepted": False, "status": "rejected"})
    out.append({"id": "other", "task": "hate", "question": "Q?", "answer": "yes",
                "rationale": "Hateful slur.\nAnswer: yes", "accepted": True, "status": "accepted"})
    return out


def test_selection_is_deterministic_and_independent_of_input_order():
    pool = entries({"anger": 5, "joy": 20, "sadness": 3, "fear": 4})
    first = select_exemplars(pool, 6, seed=3, task="emo_c")
    shuffled = pool[:]
    random.Random(0).shuffle(shuffled)
    assert select_exemplars(shuffled, 6, seed=3, task="emo_c") == first
    others = [select_exemplars(pool, 6, seed=s, task="emo_c") for s in range(4, 10)]
    assert any(o != first for o in others)  # the seed matters


def test_selection_spreads_over_labels():
    pool = entries({"anger": 5, "joy": 20, "sadness": 3, "fear": 4})
    four = select_exemplars(pool, 4, seed=0, task="emo_c")
    assert sorted(e.answer for e in four) == sorted(LABELS)  # one per label, though joy dominates
    eight = select_exemplars(pool, 8, seed=0, task="emo_c")
    assert Counter(e.answer for e in eight) == {label: 2 for label in LABELS}
    assert [e.answer for e in eight[:4]] == [e.answer for e in eight[4:]]  # round-robin order
    # a label with fewer rationales runs out and the others fill in
    scarce = select_exemplars(entries({"anger": 1, "joy": 5}), 4, seed=0, task="emo_c")
    assert Counter(e.answer for e in scarce) == {"anger": 1, "joy": 3}
    assert all(e.task == "emo_c" and e.id not in ("rej", "other") for e in eight)
    assert len(select_exemplars(pool, 100, seed=0, task="emo_c")) == 32  # all accepted ones, no more


def test_k_zero_and_no_exemplars_leave_the_question_unchanged():
    pool = entries({"joy": 2})
    assert select_exemplars(pool, 0, seed=0, task="emo_c") == []
    assert format_with_exemplars("Which emotion?", []) == "Which emotion?"
    with pytest.raises(ValueError):
        select_exemplars(pool, -1, seed=0, task="emo_c")


def test_format_puts_reasoning_and_answer_before_the_question():
    exemplars = select_exemplars(entries({"joy": 1, "anger": 1}), 2, seed=0, task="emo_c")
    text = format_with_exemplars("Which emotion is shown?", exemplars)
    assert text.startswith(EXEMPLAR_HEADER)
    assert text.endswith("Now answer:\nWhich emotion is shown?")
    for n, e in enumerate(exemplars, start=1):
        block = f"Example {n}:\nQuestion: {e.question}\nReasoning: {e.reasoning}\nAnswer: {e.answer}"
        assert block in text
    assert text.count("Answer: ") == 2  # the reasoning carries no second answer line
    without_self = format_with_exemplars("Q", exemplars, exclude_id=exemplars[0].id)
    assert exemplars[0].question not in without_self and "Example 2" not in without_self


def test_split_answer_line():
    assert split_answer_line("A smile.\nAnswer: joy") == ("A smile.", "Answer: joy")
    assert split_answer_line("A smile.\n**Final answer:** joy\n") == ("A smile.", "**Final answer:** joy")
    assert split_answer_line("Answer: joy.\nThe smile shows it.") == ("Answer: joy.\nThe smile shows it.", None)


def test_write_and_load_round_trip_and_errors(tmp_path):
    selection = select_all(entries({"joy": 2, "anger": 2}), 3, seed=1)
    assert set(selection) == {"emo_c", "hate"} and len(selection["emo_c"]) == 3 and len(selection["hate"]) == 1
    path = write_exemplars(tmp_path / "exemplars.json", selection)
    assert load_exemplars(path) == selection
    raw = json.loads(path.read_text())
    assert set(raw["emo_c"][0]) == {"id", "task", "question", "reasoning", "answer"}

    (tmp_path / "bad.json").write_text(json.dumps({"emo_x": []}))
    with pytest.raises(ValueError, match="unknown task 'emo_x'"):
        load_exemplars(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(json.dumps({"emo_c": [{"id": "a", "task": "emo_c"}]}))
    with pytest.raises(ValueError, match=r"emo_c\[0\]: missing or empty field\(s\) question, reasoning, answer"):
        load_exemplars(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="emollm emoprompt exemplars"):
        load_exemplars(tmp_path / "missing.json")


def test_cli_writes_the_file_training_and_evaluation_share(tmp_path, capsys):
    out = tmp_path / "rat"
    out.mkdir()
    lines = entries({"joy": 3, "anger": 2, "fear": 1})
    lines.append(dict(lines[0], accepted=False, status="rejected"))  # a later rejection supersedes
    (out / "rationales.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    target = tmp_path / "exemplars.json"
    assert emollm(["emoprompt", "exemplars", "--rationales", str(out), "--k", "4", "--seed", "7",
                   "--out", str(target)]) == 0
    assert "emo_c: 4 exemplars over 3 labels" in capsys.readouterr().out
    loaded = load_exemplars(target)
    assert isinstance(loaded["emo_c"][0], Exemplar)
    assert lines[0]["id"] not in {e.id for e in loaded["emo_c"]}
    again = tmp_path / "again.json"
    emollm(["emoprompt", "exemplars", "--rationales", str(out), "--k", "4", "--seed", "7", "--out", str(again)])
    assert again.read_text() == target.read_text()
