"""The synthetic EmoPrompt teacher: rationales from the generator's cues, judged like any teacher's."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from emollm_plugin.emobench.records import read_records
from emollm_plugin.emobench.synth import (
    FIGURE_FAMILY,
    colour_family,
    label_for,
    load_cues,
    synthesize,
    word_kind,
)
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, TASKS
from emollm_plugin.emoprompt.exemplars import select_all, split_answer_line
from emollm_plugin.emoprompt.rationales import (
    generate_rationales,
    judge,
    load_accepted,
    load_media,
    read_cache,
    teacher_prompt,
)
from emollm_plugin.emoprompt.synthetic_teacher import SyntheticTeacher, fingerprint, rationale
from emollm_plugin.emoprompt.teachers import Teacher, TeacherError, TeacherRequest

FRAMES = 2


@pytest.fixture(scope="module", params=["easy", "hard"])
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"synth-{request.param}") / "bench"
    return synthesize(out, per_task=12, test_per_task=2, seed=5, frames=3, difficulty=request.param)


def _train(bench: Path) -> list:
    return [r for r in read_records(bench / "records" / "synth.jsonl") if r.split == "train"]


def test_every_rationale_of_every_task_is_accepted_and_resumes(bench: Path, tmp_path: Path) -> None:
    records = _train(bench)
    teacher = SyntheticTeacher.for_bench(bench, records, FRAMES)
    assert isinstance(teacher, Teacher)
    summary = generate_rationales(records, teacher, tmp_path, bench, num_frames=FRAMES, require_answer_line=True,
                                  teacher_name="synthetic", progress=False)
    for task in TASKS:
        row = summary["tasks"][task]
        assert (row["accepted"], row["rejected"], row["failed"]) == (12, 0, 0), task
        assert row["attempts"] == 12 and row["normalised"] == 0, task  # first try, answer line already canonical
    accepted = load_accepted(tmp_path)
    for record in records:
        reasoning, line = split_answer_line(accepted[record.id]["rationale"])
        assert line == f"{ANSWER_PREFIX} {record.answer}" and len(reasoning.split()) >= 8
    again = generate_rationales(records, teacher, tmp_path, bench, num_frames=FRAMES, progress=False)
    assert again["this_run"]["processed"] == 0 and again["this_run"]["skipped_done"] == len(records)
    # exemplar selection runs unchanged on them: k = 2 per task, two different labels
    selection = select_all(accepted.values(), k=2, seed=0)
    assert set(selection) == set(TASKS)
    assert all(len({e.answer for e in chosen}) == 2 for chosen in selection.values())


def test_rationales_name_the_deciding_cues(bench: Path) -> None:
    cues = load_cues(bench)
    for record in _train(bench):
        c = cues[record.id]
        text = rationale(c)
        assert judge(record, text, require_answer_line=True).accepted, (record.id, text)
        if c.difficulty == "easy":
            assert c.colour in text and c.figure in text, (record.id, text)
            continue
        if record.task != "emo_o":
            assert f"background is {c.colour}, a {colour_family(c.colour)} colour" in text, (record.id, text)
        named = {
            "emo_c": c.figure, "emo_o": f"a word for {record.answer}", "intent": f"figure is {c.figure_colour}",
            "hate": f"{word_kind(c.word) if c.word else ''} word", "humor": f"figure is {c.figure_colour}",
            "sarcasm": f"{word_kind(c.word) if c.word else ''} word",
        }[record.task]
        assert named in text, (record.id, text)
        if record.task == "emo_c":
            assert FIGURE_FAMILY[c.figure] in text and c.word not in re.findall(r"\w+", text)  # misleading word


def test_wrong_cues_are_rejected(bench: Path, tmp_path: Path) -> None:
    """Cues of a sample with another label give a rationale the judge rejects, however often asked."""
    records = [r for r in _train(bench) if r.task in ("emo_c", "sarcasm")]
    right = SyntheticTeacher.for_bench(bench, records, FRAMES)
    cues = load_cues(bench)
    wrong = {}
    for key, c in right.index.items():
        other = next(cues[r.id] for r in records if r.task == c.task and label_for(cues[r.id]) != label_for(c))
        wrong[key] = replace(other, modality=c.modality, figure=c.figure) if c.difficulty == "easy" else other
    for record in records:
        reply = SyntheticTeacher(wrong).complete(
            TeacherRequest(teacher_prompt(record), load_media(record, bench, FRAMES)))
        verdict = judge(record, reply.text)
        assert not verdict.accepted and verdict.parsed != record.answer, reply.text
    summary = generate_rationales(records, SyntheticTeacher(wrong), tmp_path, bench, num_frames=FRAMES,
                                  max_attempts=2, progress=False)
    assert summary["total"]["accepted"] == 0 and summary["total"]["rejected"] == len(records)
    latest, _, _ = read_cache(tmp_path / "rationales.jsonl")
    assert all(e["attempts"] == 2 and e["status"] == "rejected" for e in latest.values())


def test_unknown_media_fails_with_a_clear_error(bench: Path, tmp_path: Path) -> None:
    records = _train(bench)
    teacher = SyntheticTeacher.for_bench(bench, records[:3], FRAMES)
    video = next(r for r in records if r.modality == "video")
    # the same video sampled with other frame counts is other pixels: refused, not guessed
    assert fingerprint(load_media(video, bench, FRAMES)) != fingerprint(load_media(video, bench, 3))
    replies = teacher.complete_batch([TeacherRequest("q", load_media(records[5], bench, FRAMES)),
                                      TeacherRequest("q", load_media(records[0], bench, FRAMES))])
    assert isinstance(replies[0], TeacherError) and "no generator cues" in str(replies[0])
    assert replies[1].text.endswith(f"{ANSWER_PREFIX} {records[0].answer}")
    summary = generate_rationales(records[3:6], teacher, tmp_path, bench, num_frames=FRAMES, progress=False)
    assert summary["total"]["failed"] == 3 and "no generator cues" in summary["example_errors"][0]


def test_a_folder_without_cues_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a synthetic EmoBench"):
        SyntheticTeacher.for_bench(tmp_path, [], FRAMES)
