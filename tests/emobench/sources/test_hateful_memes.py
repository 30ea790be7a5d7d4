from __future__ import annotations

import json

import pytest

from emollm_plugin.emobench.sources import get_source

from .helpers import by_id, collect, skip_reasons, write_image


def write_jsonl(path, rows):
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )


@pytest.fixture
def memes_root(tmp_path):
    for stem in ("42953", "01235", "16395", "82403"):
        write_image(tmp_path / "img" / f"{stem}.png")
    write_jsonl(
        tmp_path / "train.jsonl",
        [
            {
                "id": 42953,
                "img": "img/42953.png",
                "label": 0,
                "text": "its their character not their color that matters",
            },
            {"id": 1235, "img": "img/01235.png", "label": 1, "text": "  a   hateful\nmeme "},
            {"id": 99999, "img": "img/99999.png", "label": 1, "text": "image missing"},
            "{not json",
        ],
    )
    write_jsonl(
        tmp_path / "dev_seen.jsonl", [{"id": 16395, "img": "img/16395.png", "label": 1, "text": "dev meme"}]
    )
    write_jsonl(
        tmp_path / "test_seen.jsonl",
        [
            {"id": 82403, "img": "img/82403.png", "label": 0, "text": "test meme"},
            {"id": 16395, "img": "img/16395.png", "label": 2, "text": "bad label"},
        ],
    )
    write_jsonl(
        tmp_path / "dev_unseen.jsonl", [{"id": 16395, "img": "img/16395.png", "label": 1, "text": "dev meme"}]
    )
    return tmp_path


def test_hateful_memes_jsonl_become_hate_records(memes_root):
    records, skips = collect(get_source("hateful_memes"), memes_root)
    records = by_id(records)
    assert set(records) == {
        "hateful_memes-train-42953",
        "hateful_memes-train-01235",
        "hateful_memes-val-16395",
        "hateful_memes-test-82403",
    }  # dev_unseen is not read: it repeats dev_seen samples
    record = records["hateful_memes-train-01235"]
    assert (record.task, record.modality, record.answer, record.options) == ("hate", "image", "yes", [])
    assert record.media == "img/01235.png" and record.text == "a hateful meme"
    assert (
        record.question
        == 'Is the given image hateful? Answer yes or no. The accompanying text is: "a hateful meme".'
    )
    assert records["hateful_memes-train-42953"].answer == "no"

    reasons = skip_reasons(skips)
    assert "media file not found: img/99999.png" in reasons["99999"]
    assert "malformed JSON" in reasons["train.jsonl:4"]
    assert "not 0 or 1" in reasons["16395"]


def test_hateful_memes_phase1_files_and_unlabelled_test(memes_root):
    (memes_root / "dev_seen.jsonl").rename(memes_root / "dev.jsonl")
    (memes_root / "test_seen.jsonl").unlink()
    write_jsonl(
        memes_root / "test.jsonl", [{"id": 82403, "img": "img/82403.png", "text": "no label in phase 1"}]
    )
    records, skips = collect(get_source("hateful_memes"), memes_root)
    assert "hateful_memes-val-16395" in by_id(records)
    assert "unlabelled" in skip_reasons(skips)["82403"]


def test_hateful_memes_missing_split_file_is_named(memes_root):
    (memes_root / "train.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"hateful_memes: missing .*train\.jsonl"):
        get_source("hateful_memes").check_layout(memes_root)
