"""emollm data validate: every bad record and media file reported by file, line and id; none fatal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emollm_plugin.emobench.synth import synthesize
from emollm_plugin.emobench.validate import (
    format_report,
    read_quarantine,
    records_files,
    validate,
    write_quarantine,
)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("clean") / "bench", per_task=2, test_per_task=1, frames=2)


@pytest.fixture
def bench(clean: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bench"
    shutil.copytree(clean, out)
    return out


def records_file(bench: Path) -> Path:
    return bench / "records" / "synth.jsonl"


def edit_lines(bench: Path, edit) -> list[str]:
    path = records_file(bench)
    lines = path.read_text().splitlines()
    lines = edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return lines


def media_of(bench: Path, modality: str, skip: int = 0) -> tuple[int, dict]:
    """(line number, record) of a record with the given modality."""
    found = [
        (n, json.loads(line))
        for n, line in enumerate(records_file(bench).read_text().splitlines(), 1)
        if json.loads(line)["modality"] == modality
    ]
    return found[skip]


def only_problem(report, **where) -> dict:
    matches = [p for p in report.problems if all(p.get(k) == v for k, v in where.items())]
    assert len(matches) == 1, (where, report.problems)
    return matches[0]


def test_clean_folder_passes(clean: Path) -> None:
    report = validate(clean, num_frames=2, progress=False, echo=False)
    assert report.ok and report.records == 18 and report.media_checked == 18
    assert "18 records" in format_report(report) and "OK" in format_report(report)


def test_truncated_image(bench: Path) -> None:
    line, record = media_of(bench, "image")
    path = bench / record["media"]
    path.write_bytes(path.read_bytes()[:60])
    report = validate(bench, progress=False, echo=False)
    problem = only_problem(report, line=line)
    assert problem["id"] == record["id"] and problem["media"] == record["media"]
    assert problem["file"] == str(records_file(bench))
    assert "cannot decode image" in problem["problem"] and path.name in problem["problem"]
    assert len(report.problems) == 1


def test_zero_byte_and_non_video_files(bench: Path) -> None:
    line_a, a = media_of(bench, "video", 0)
    line_b, b = media_of(bench, "video", 1)
    (bench / a["media"]).write_bytes(b"")
    (bench / b["media"]).write_text("#!/bin/sh\necho not a video\n")
    report = validate(bench, progress=False, echo=False)
    assert "zero-byte" in only_problem(report, line=line_a, id=a["id"])["problem"]
    assert "cannot decode video" in only_problem(report, line=line_b, id=b["id"])["problem"]
    assert len(report.problems) == 2


def test_missing_media_file(bench: Path) -> None:
    line, record = media_of(bench, "video")
    (bench / record["media"]).unlink()
    report = validate(bench, progress=False, echo=False)
    assert "not found" in only_problem(report, line=line, id=record["id"])["problem"]


def test_malformed_json_line_does_not_stop_the_check(bench: Path) -> None:
    edit_lines(bench, lambda lines: [*lines[:3], '{"id": "cut-off", "task": "emo_c"', *lines[3:]])
    report = validate(bench, progress=False, echo=False)
    problem = only_problem(report, line=4)
    assert problem["id"] is None and "malformed JSON" in problem["problem"]
    assert report.records == 19 and report.media_checked == 18  # every other line still checked


def test_label_outside_the_label_set(bench: Path) -> None:
    def relabel(lines: list[str]) -> list[str]:
        record = json.loads(lines[0])
        record["answer"] = "happy"
        return [json.dumps(record), *lines[1:]]

    edit_lines(bench, relabel)
    problem = only_problem(validate(bench, progress=False, echo=False), line=1)
    assert "answer 'happy' is outside the label set" in problem["problem"]


def test_duplicate_ids_and_schema_problems(bench: Path) -> None:
    def damage(lines: list[str]) -> list[str]:
        second = json.loads(lines[1])
        second["id"] = json.loads(lines[0])["id"]
        third = json.loads(lines[2])
        del third["split"]
        fourth = json.loads(lines[3])
        fourth["media"] = "/etc/passwd"
        return [lines[0], json.dumps(second), json.dumps(third), json.dumps(fourth), *lines[4:], "[1, 2]"]

    edit_lines(bench, damage)
    report = validate(bench, progress=False, echo=False)
    assert "duplicate id (first at synth.jsonl:1)" in only_problem(report, line=2)["problem"]
    assert only_problem(report, line=3)["problem"] == "missing field 'split'"
    assert "must be relative" in only_problem(report, line=4)["problem"]
    assert "must be a JSON object" in only_problem(report, line=19)["problem"]


def test_quarantine_file(bench: Path, tmp_path: Path) -> None:
    line, record = media_of(bench, "image")
    (bench / record["media"]).unlink()
    report = validate(bench, progress=False, echo=False)
    path = write_quarantine(report, tmp_path / "q" / "quarantine.jsonl")
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert rows == [
        {
            "file": str(records_file(bench)),
            "line": line,
            "id": record["id"],
            "problem": rows[0]["problem"],
            "media": record["media"],
        }
    ]
    assert read_quarantine(path) == {record["id"]}
    # a clean run still writes the file (empty), so a stale list never survives a fix
    clean_report = validate(bench / "test" / "emo_c.jsonl", progress=False, echo=False)
    assert write_quarantine(clean_report, path).read_text() == ""


def test_one_jsonl_file_resolves_media_against_the_folder(bench: Path) -> None:
    report = validate(bench / "test" / "emo_c.jsonl", progress=False, echo=False)
    assert report.ok and report.records == 1


def test_media_root_override(bench: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere.jsonl"
    shutil.copy(bench / "test" / "hate.jsonl", moved)
    assert not validate(moved, progress=False, echo=False).ok  # media not next to the file
    assert validate(moved, media_root=bench, progress=False, echo=False).ok


def test_no_decode_still_catches_missing_and_empty(bench: Path) -> None:
    _, image = media_of(bench, "image")
    path = bench / image["media"]
    path.write_bytes(path.read_bytes()[:60])  # truncated: only a decode notices
    _, video = media_of(bench, "video")
    (bench / video["media"]).write_bytes(b"")
    report = validate(bench, check_media=False, progress=False, echo=False)
    assert [p["id"] for p in report.problems] == [video["id"]]


def test_shared_media_is_checked_once_and_flagged_for_each_record(bench: Path) -> None:
    def share(lines: list[str]) -> list[str]:
        first = json.loads(lines[0])
        twin = dict(first, id="twin", task="emo_o", question="What is the emotion?")
        return [*lines, json.dumps(twin)]

    edit_lines(bench, share)
    first = json.loads(records_file(bench).read_text().splitlines()[0])
    (bench / first["media"]).unlink()
    report = validate(bench, progress=False, echo=False)
    assert report.media_checked == 18
    assert {p["id"] for p in report.problems} == {first["id"], "twin"}


def test_echo_prints_each_problem_with_file_line_and_id(bench: Path, capsys: pytest.CaptureFixture) -> None:
    line, record = media_of(bench, "image")
    (bench / record["media"]).unlink()
    validate(bench, progress=False)
    out = capsys.readouterr().out
    assert f"synth.jsonl:{line}: record {record['id']!r}:" in out and "not found" in out


def test_records_files(tmp_path: Path, clean: Path) -> None:
    assert records_files(clean) == [clean / "records" / "synth.jsonl"]
    views_only = tmp_path / "views"
    shutil.copytree(clean / "test", views_only / "test")
    assert [p.name for p in records_files(views_only)] == [
        "emo_c.jsonl",
        "emo_o.jsonl",
        "hate.jsonl",
        "humor.jsonl",
        "intent.jsonl",
        "sarcasm.jsonl",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no records found"):
        records_files(empty)
    with pytest.raises(FileNotFoundError, match="no such"):
        records_files(tmp_path / "absent")
