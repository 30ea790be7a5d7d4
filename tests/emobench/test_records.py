"""The EmoBench contract: task definitions, questions, the record schema and JSONL reading/writing."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from emollm_plugin.emobench.records import (
    REQUIRED_FIELDS,
    Record,
    RecordError,
    iter_jsonl,
    llava_entry,
    read_records,
    record_problems,
    write_records,
)
from emollm_plugin.emobench.tasks import (
    LABEL_SETS,
    TASK_SPECS,
    TASKS,
    YES_NO,
    answer_options,
    build_question,
    get_task,
)

EKMAN7 = list(LABEL_SETS["ekman7"])


def valid(**changes) -> dict:
    data = {
        "id": "meld-test-dia3_utt1",
        "task": "emo_c",
        "modality": "video",
        "media": "meld/test/dia3_utt1.mp4",
        "question": "Identify ...",
        "answer": "joy",
        "source": "meld",
        "split": "test",
        "options": EKMAN7,
        "text": "Oh my God, you're back!",
    }
    data.update(changes)
    return data


# ----------------------------------------------------------------------------- tasks


def test_six_tasks_in_two_families() -> None:
    assert set(TASKS) == set(TASK_SPECS) and len(TASKS) == 6
    families = {spec.family for spec in TASK_SPECS.values()}
    assert families == {"universal", "application"}
    assert [t for t in TASKS if get_task(t).answer_kind == "yesno"] == ["hate", "humor", "sarcasm"]


def test_label_sets() -> None:
    assert len(LABEL_SETS["mintrec20"]) == 20 and "ask for help" in LABEL_SETS["mintrec20"]
    assert len(LABEL_SETS["mikels8"]) == 8 and len(LABEL_SETS["ekman6"]) == 6
    assert set(LABEL_SETS["ekman7"]) == set(LABEL_SETS["ekman6"]) | {"neutral"}
    for labels in LABEL_SETS.values():
        assert len(set(labels)) == len(labels)
        assert all(label == label.strip().lower() for label in labels)


def test_close_set_question_lists_the_options() -> None:
    question = build_question("emo_c", "image", EKMAN7)
    assert question.startswith("Identify the only emotion depicted in the given image")
    assert "[anger, disgust, fear, joy, neutral, sadness, surprise]" in question


def test_open_set_question_hides_the_options() -> None:
    question = build_question("emo_o", "video", EKMAN7)
    assert "video" in question and "anger" not in question


def test_yes_no_question_carries_the_text_on_one_line() -> None:
    question = build_question("sarcasm", "video", text="Oh   great,\n another Monday")
    assert question.endswith('The accompanying text is: "Oh great, another Monday".')
    assert "\n" not in question
    assert build_question("hate", "image") == "Is the given image hateful? Answer yes or no."


def test_unknown_task_or_modality() -> None:
    with pytest.raises(ValueError, match="unknown EmoBench task 'emotion'"):
        build_question("emotion", "image")
    with pytest.raises(ValueError, match="modality must be one of"):
        build_question("emo_c", "audio", EKMAN7)


def test_answer_options() -> None:
    assert answer_options("hate", []) == YES_NO
    assert answer_options("humor", EKMAN7) == YES_NO
    assert answer_options("emo_o", EKMAN7) == tuple(EKMAN7)


# ----------------------------------------------------------------------------- Record


def test_round_trip_and_field_order() -> None:
    record = Record.from_dict(valid())
    data = record.to_dict()
    assert data == valid()
    assert list(data) == [*REQUIRED_FIELDS, "options", "text"]
    assert Record.from_dict(data) == record
    assert record.labels == tuple(EKMAN7)


def test_to_dict_leaves_out_absent_text_and_copies_options() -> None:
    record = Record.from_dict(valid(text=None))
    data = record.to_dict()
    assert "text" not in data
    data["options"].append("boredom")
    assert "boredom" not in record.options


def test_from_dict_raises_with_every_problem() -> None:
    with pytest.raises(RecordError, match="missing field 'task'; missing field 'media'"):
        Record.from_dict({k: v for k, v in valid().items() if k not in ("task", "media")})


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([1, 2], "a record must be a JSON object, got list"),
        (valid(id=""), "field 'id' must be a non-empty string"),
        (valid(answer=3), "field 'answer' must be a non-empty string"),
        (valid(task="emotion"), "task 'emotion' is not one of emo_c, emo_o, intent, hate, humor, sarcasm"),
        (valid(modality="audio"), "modality 'audio' is not one of image, video"),
        (valid(split="dev"), "split 'dev' is not one of train, val, test"),
        (valid(options="anger,joy"), "field 'options' must be a list of strings"),
        (valid(options=["joy", 1]), "field 'options' must be a list of strings"),
        (valid(options=[]), "task 'emo_c' needs its label set in 'options'"),
        (valid(task="emo_o", options=[]), "task 'emo_o' needs its label set in 'options'"),
        (valid(answer="happy"), "answer 'happy' is outside the label set"),
        (valid(task="hate", answer="maybe", options=[]), "answer 'maybe' is outside the label set [yes, no]"),
        (valid(text=5), "field 'text' must be a string or absent"),
    ],
)
def test_record_problems(data: object, problem: str) -> None:
    problems = record_problems(data)
    assert any(p.startswith(problem) for p in problems), problems


def test_valid_records_have_no_problems() -> None:
    assert record_problems(valid()) == []
    assert record_problems(valid(task="sarcasm", answer="no", options=[], text=None)) == []
    assert (
        record_problems(valid(task="intent", answer="ask for help", options=list(LABEL_SETS["mintrec20"])))
        == []
    )


class SlowPathDict(dict):
    """A dict subclass skips record_problems' fast path, so both paths can be compared."""


def test_fast_path_agrees_with_the_full_check() -> None:
    rng = random.Random(0)
    base = [valid(), valid(task="hate", answer="yes", options=[]), valid(task="emo_o", text=None)]
    mutations = [
        ("id", ""),
        ("id", " "),
        ("id", 7),
        ("task", "nope"),
        ("modality", "audio"),
        ("split", "dev"),
        ("answer", "happy"),
        ("answer", "yes"),
        ("options", None),
        ("options", []),
        ("options", "joy"),
        ("options", ["joy", None]),
        ("text", 1),
        ("text", None),
        ("media", None),
        ("question", ""),
    ]
    checked = 0
    for _ in range(400):
        data = copy.deepcopy(rng.choice(base))
        for key, value in rng.sample(mutations, rng.randint(0, 2)):
            data[key] = value
        if rng.random() < 0.1:
            del data[rng.choice(REQUIRED_FIELDS)]
        assert record_problems(data) == record_problems(SlowPathDict(data)), data
        checked += record_problems(data) == []
    assert 0 < checked < 400  # both valid and invalid records were drawn


# ----------------------------------------------------------------------------- JSONL


def test_iter_jsonl_reports_bad_lines_and_keeps_going(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(valid()),
                "",
                "{oops",
                json.dumps(valid(id="b", answer="happy")),
                json.dumps(valid(id="c")),
            ]
        )
        + "\n"
    )
    items = list(iter_jsonl(path))
    assert [n for n, _ in items] == [1, 3, 4, 5]
    assert isinstance(items[0][1], Record) and isinstance(items[3][1], Record)
    assert str(items[1][1]).startswith(f"{path}:3: malformed JSON")
    assert str(items[2][1]).startswith(f"{path}:4: record 'b': answer 'happy'")
    assert [r.id for r in read_records(path, strict=False)] == ["meld-test-dia3_utt1", "c"]
    with pytest.raises(RecordError, match=":3: malformed JSON"):
        read_records(path)


def test_write_records_is_atomic_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "r.jsonl"
    records = [Record.from_dict(valid(id=f"r{i}")) for i in range(3)]
    assert write_records(path, records) == 3
    assert read_records(path) == records
    assert [p.name for p in path.parent.iterdir()] == ["r.jsonl"]  # no temp file left

    def failing():
        yield records[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_records(path, failing())
    assert read_records(path) == records  # the old file is untouched


def test_llava_entry_is_the_one_llava_json_emitter() -> None:
    record = Record.from_dict(valid())
    entry = llava_entry(record)
    assert entry == llava_entry(record.to_dict())  # a Record or its stored dict, the same entry
    assert list(entry) == ["id", record.modality, "conversations", "task", "options", "source"]
    assert entry["conversations"] == [
        {"from": "human", "value": "<image>\n" + record.question},
        {"from": "gpt", "value": record.answer},
    ]
    assert entry["options"] == list(record.labels) and entry["source"] == record.source
    # EmoPrompt's variant: a rationale target, a resolved media path, exemplars before the question
    rationale = llava_entry(record, target="Tears.\nAnswer: sadness", media="/abs/x.mp4", question="Q?")
    assert rationale[record.modality] == "/abs/x.mp4"
    assert rationale["conversations"][0]["value"] == "<image>\nQ?"
    assert rationale["conversations"][1]["value"] == "Tears.\nAnswer: sadness"
    yes_no = llava_entry({**valid(), "task": "hate", "answer": "no", "options": []})
    assert yes_no["options"] == ["yes", "no"]  # scored against yes/no, whatever the record stores
