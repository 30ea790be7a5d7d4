"""Hateful Memes' final release: data/ with img/ and the five labelled JSONL files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emollm_plugin.emobench.build import build_source, format_summary
from emollm_plugin.emobench.sources import get_source

from .helpers import by_id, collect, skip_reasons, summary, write_image


def write_jsonl(path: Path, rows: list) -> None:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )


def meme(stem: str, label: int | None, text: str) -> dict:
    row = {"id": int(stem), "img": f"img/{stem}.png", "text": text}
    if label is not None:
        row["label"] = label
    return row


def write_memes(parent: Path) -> Path:
    """``parent/data/`` as the final (phase 2) download unpacks."""
    data = parent / "data"
    for stem in ("42953", "01235", "16395", "82403", "16397", "30561", "71432", "52604"):
        write_image(data / "img" / f"{stem}.png")
    (data / "LICENSE.txt").write_text("Hateful Memes licence", encoding="utf-8")
    write_jsonl(
        data / "train.jsonl",
        [
            meme("42953", 0, "its their character not their color that matters"),
            meme("01235", 1, "  a   hateful\nmeme "),
            meme("99999", 1, "image missing"),
            "{not json",
        ],
    )
    write_jsonl(data / "dev_seen.jsonl", [meme("16395", 1, "dev meme")])
    write_jsonl(data / "test_seen.jsonl", [meme("82403", 0, "test meme"), meme("16397", 2, "bad label")])
    write_jsonl(
        data / "dev_unseen.jsonl",
        [meme("16395", 1, "dev meme"), meme("30561", 0, "unseen dev meme"), meme("01235", 0, "relabelled")],
    )
    write_jsonl(
        data / "test_unseen.jsonl",
        [
            meme("71432", 1, "unseen test meme"),
            meme("52604", 0, "another one"),
            meme("82403", 0, "test meme"),
        ],
    )
    return parent


def test_every_labelled_file_is_read_once_per_meme(tmp_path):
    source = get_source("hateful_memes")
    records, skips = collect(source, write_memes(tmp_path))
    assert summary(records) == {
        "hateful_memes-train-42953": ("train", "no", "data/img/42953.png"),
        "hateful_memes-train-01235": ("train", "yes", "data/img/01235.png"),
        "hateful_memes-val-16395": ("val", "yes", "data/img/16395.png"),
        "hateful_memes-test-82403": ("test", "no", "data/img/82403.png"),
        "hateful_memes-val-30561": ("val", "no", "data/img/30561.png"),  # dev_unseen only
        "hateful_memes-test-71432": ("test", "yes", "data/img/71432.png"),  # test_unseen only
        "hateful_memes-test-52604": ("test", "no", "data/img/52604.png"),
    }
    record = by_id(records)["hateful_memes-train-01235"]
    assert (record.task, record.modality, record.options, record.text) == (
        "hate",
        "image",
        [],
        "a hateful meme",
    )
    assert (
        record.question
        == 'Is the given image hateful? Answer yes or no. The accompanying text is: "a hateful meme".'
    )
    reasons = skip_reasons(skips)
    assert reasons["dev_unseen.jsonl:1"] == "meme 16395 already read from dev_seen.jsonl line 1 (same label)"
    assert (
        reasons["dev_unseen.jsonl:3"] == "meme 01235 already read from train.jsonl line 2 (a different label)"
    )
    assert (
        reasons["test_unseen.jsonl:3"] == "meme 82403 already read from test_seen.jsonl line 1 (same label)"
    )
    assert reasons["99999"] == "media file not found: data/img/99999.png"
    assert "malformed JSON" in reasons["train.jsonl:4"]
    assert "not 0 or 1" in reasons["16397"]
    assert source.file_counts == {
        "data/train.jsonl": {"records": 2, "skipped": 2},
        "data/dev_seen.jsonl": {"records": 1, "skipped": 0},
        "data/test_seen.jsonl": {"records": 1, "skipped": 1},
        "data/dev_unseen.jsonl": {"records": 1, "skipped": 2},
        "data/test_unseen.jsonl": {"records": 2, "skipped": 1},
    }


def test_build_summary_says_how_many_came_from_each_file(tmp_path):
    root = write_memes(tmp_path / "downloads")
    out = tmp_path / "bench"
    result = build_source("hateful_memes", root, out, progress=False)
    assert result.total == 7
    files = result.summary["sources"]["hateful_memes"]["files"]
    assert files["data/test_unseen.jsonl"] == {"records": 2, "skipped": 1}
    stored = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert stored["sources"]["hateful_memes"]["files"] == files
    assert (
        "source hateful_memes: 7 records, read from data/train.jsonl 2 (2 skipped); data/dev_seen.jsonl 1; "
        "data/test_seen.jsonl 1 (1 skipped); data/dev_unseen.jsonl 1 (2 skipped); data/test_unseen.jsonl 2 "
        "(1 skipped)"
    ) in format_summary(result.summary)
    record = json.loads((out / "test" / "hate.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert (out / record["media"]).is_file()  # media/hateful_memes -> --root, then data/img/...


def test_hateful_memes_phase1_files_and_unlabelled_test(tmp_path):
    data = write_memes(tmp_path) / "data"
    for name in ("dev_unseen.jsonl", "test_unseen.jsonl", "test_seen.jsonl"):
        (data / name).unlink()
    (data / "dev_seen.jsonl").rename(data / "dev.jsonl")
    write_jsonl(data / "test.jsonl", [{"id": 82403, "img": "img/82403.png", "text": "no label in phase 1"}])
    records, skips = collect(get_source("hateful_memes"), tmp_path)
    assert "hateful_memes-val-16395" in by_id(records)
    assert "unlabelled" in skip_reasons(skips)["82403"]


def test_hateful_memes_images_elsewhere_and_missing_file(tmp_path):
    root = write_memes(tmp_path / "downloads")
    (root / "data" / "img").rename(root / "img")  # img.tar.gz unpacked one level up
    records, _ = collect(get_source("hateful_memes"), root)
    assert summary(records)["hateful_memes-train-42953"][2] == "img/42953.png"

    (root / "data" / "train.jsonl").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"hateful_memes: no release under .*\); data/ has dev_seen\.jsonl, test_seen\.jsonl but not train\.jsonl",
    ):
        get_source("hateful_memes").check_layout(root)
