from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import SourceError, get_source
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, write_image, write_json


def entry(emotion: str, n: int) -> list[str]:
    image_id = f"{emotion}_{n}"
    return [emotion, image_id, f"image/{emotion}/{image_id}.jpg", f"annotation/{emotion}/{image_id}.json"]


@pytest.fixture
def emoset_root(tmp_path):
    splits = {
        "train": [entry("amusement", 12865), entry("fear", 3), entry("joy", 1), entry("sadness", 9)],
        "val": [entry("awe", 5), ["anger", "image/anger/anger_7.jpg", "annotation/anger/anger_7.json"]],
        "test": [entry("disgust", 2), ["broken"]],
    }
    for split, entries in splits.items():
        write_json(tmp_path / f"{split}.json", entries)
        for item in entries:
            image_path = item[-2] if len(item) >= 3 else None  # [..., image_path, annotation_path]
            if image_path and image_path != "image/sadness/sadness_9.jpg":  # sadness_9: image missing
                write_image(tmp_path / image_path)
    write_json(tmp_path / "info.json", {"emotion": {"label2idx": {}}})
    return tmp_path


def test_emoset_release_layout_becomes_records(emoset_root):
    records, skips = collect(get_source("emoset"), emoset_root)
    records = by_id(records)
    assert set(records) == {
        f"emoset-{split}-{native}{suffix}"
        for split, native in [
            ("train", "amusement_12865"),
            ("train", "fear_3"),
            ("val", "awe_5"),
            ("val", "anger_7"),
            ("test", "disgust_2"),
        ]
        for suffix in ("", "-emo_o")
    }
    close = records["emoset-train-amusement_12865"]
    assert (close.task, close.answer, close.modality) == ("emo_c", "amusement", "image")
    assert close.media == "image/amusement/amusement_12865.jpg"
    assert close.options == list(LABEL_SETS["mikels8"])
    assert close.question == (
        "Identify the only emotion depicted in the given image from the following options: "
        "[amusement, anger, awe, contentment, disgust, excitement, fear, sadness]."
    )
    open_set = records["emoset-train-amusement_12865-emo_o"]
    assert open_set.task == "emo_o" and "[" not in open_set.question and open_set.answer == "amusement"
    assert records["emoset-val-anger_7"].answer == "anger"  # three-item entry: id from the file stem
    assert close.text is None

    reasons = skip_reasons(skips)
    assert "not one of Mikels' 8" in reasons["joy_1"]
    assert "media file not found: image/sadness/sadness_9.jpg" in reasons["sadness_9"]
    assert "test.json[1]" in reasons


def test_emoset_missing_split_file_is_named(emoset_root):
    (emoset_root / "val.json").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"emoset: missing .*val\.json; get it from https://github.com/JingyuanYY"
    ):
        get_source("emoset").check_layout(emoset_root)


def test_emoset_malformed_split_file_is_a_clear_error(emoset_root):
    (emoset_root / "test.json").write_text("[[", encoding="utf-8")
    with pytest.raises(SourceError, match=r"test\.json: not valid JSON"):
        list(get_source("emoset").iter_samples(emoset_root))
