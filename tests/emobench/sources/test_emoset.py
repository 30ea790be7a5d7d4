from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import SourceError, get_source
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, summary, write_image, write_json


def entry(emotion: str, n: int) -> list[str]:
    image_id = f"{emotion}_{n}"
    return [emotion, image_id, f"image/{emotion}/{image_id}.jpg", f"annotation/{emotion}/{image_id}.json"]


def write_emoset(parent: Path) -> Path:
    """``parent/EmoSet-118K/`` as the requested archive unpacks."""
    top = parent / "EmoSet-118K"
    splits = {
        "train": [entry("amusement", 12865), entry("fear", 3), entry("joy", 1), entry("sadness", 9)],
        "val": [entry("awe", 5), ["anger", "image/anger/anger_7.jpg", "annotation/anger/anger_7.json"]],
        "test": [entry("disgust", 2), ["broken"]],
    }
    for split, entries in splits.items():
        write_json(top / f"{split}.json", entries)
        for item in entries:
            if len(item) >= 3:
                write_json(top / item[-1], {"emotion": item[0], "brightness": 0.4})
                if item[-2] != "image/sadness/sadness_9.jpg":  # sadness_9: image missing
                    write_image(top / item[-2])
    write_json(top / "info.json", {"emotion": {"label2idx": {}}})
    return parent


@pytest.fixture
def emoset_root(tmp_path):
    return write_emoset(tmp_path / "downloads")


def test_emoset_release_layout_becomes_records(emoset_root):
    source = get_source("emoset")
    records, skips = collect(source, emoset_root)
    assert summary(records) == {
        f"emoset-{split}-{native}": (
            split,
            native.split("_")[0],
            f"EmoSet-118K/image/{native.split('_')[0]}/{native}.jpg",
        )
        for split, native in [
            ("train", "amusement_12865"),
            ("train", "fear_3"),
            ("val", "awe_5"),
            ("val", "anger_7"),  # three-item entry: id from the file stem
            ("test", "disgust_2"),
        ]
    }
    records = by_id(records)
    close = records["emoset-train-amusement_12865"]
    assert (close.task, close.modality, close.text) == ("emo_c", "image", None)
    assert close.options == list(LABEL_SETS["mikels8"])
    assert close.question == (
        "Identify the only emotion depicted in the given image from the following options: "
        "[amusement, anger, awe, contentment, disgust, excitement, fear, sadness]."
    )
    open_set = records["emoset-train-amusement_12865-emo_o"]
    assert open_set.task == "emo_o" and "[" not in open_set.question and open_set.answer == "amusement"

    reasons = skip_reasons(skips)
    assert "not one of Mikels' 8" in reasons["joy_1"]
    assert reasons["sadness_9"] == "media file not found: EmoSet-118K/image/sadness/sadness_9.jpg"
    assert "test.json[1]" in reasons
    assert source.file_counts == {
        "EmoSet-118K/train.json": {"records": 4, "skipped": 2},
        "EmoSet-118K/val.json": {"records": 4, "skipped": 0},
        "EmoSet-118K/test.json": {"records": 2, "skipped": 1},
    }


def test_emoset_missing_split_file_is_named(emoset_root):
    (emoset_root / "EmoSet-118K" / "val.json").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"emoset: no release under .*EmoSet-118K/ has train\.json, test\.json but not val\.json; "
        r"get it from https://github.com/JingyuanYY",
    ):
        get_source("emoset").check_layout(emoset_root)


def test_emoset_malformed_split_file_is_a_clear_error(emoset_root):
    (emoset_root / "EmoSet-118K" / "test.json").write_text("[[", encoding="utf-8")
    with pytest.raises(SourceError, match=r"test\.json: not valid JSON"):
        list(get_source("emoset").iter_samples(emoset_root))
