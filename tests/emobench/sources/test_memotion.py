from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split

from .helpers import by_id, collect, skip_reasons, write_image, write_table

HEADER = [
    "",
    "image_name",
    "text_ocr",
    "text_corrected",
    "humour",
    "sarcasm",
    "offensive",
    "motivational",
    "overall_sentiment",
]
ROWS = [
    [
        0,
        "image_1.jpg",
        "LOOK THERE MY FRIEND LIGHTYEAR",
        "LOOK THERE MY FRIEND LIGHTYEAR",
        "hilarious",
        "general",
        "not_offensive",
        "not_motivational",
        "very_positive",
    ],
    [
        1,
        "image_2.jpeg",
        "ocr only text",
        "",
        "not_funny",
        "not_sarcastic",
        "slight",
        "motivational",
        "neutral",
    ],
    [2, "image_3.JPG", "", "", "funny", "general", "not_offensive", "not_motivational", "positive"],
    [
        3,
        "image_4.png",
        "meh",
        "meh",
        "kinda_funny",
        "general",
        "not_offensive",
        "not_motivational",
        "neutral",
    ],
    [
        4,
        "image_5.jpg",
        "gone",
        "gone",
        "very_funny",
        "general",
        "not_offensive",
        "not_motivational",
        "positive",
    ],
]


@pytest.fixture
def memotion_root(tmp_path):
    write_table(tmp_path / "labels.csv", HEADER, ROWS)
    for name in ("image_1.jpg", "image_2.jpeg", "image_3.JPG", "image_4.png"):
        write_image(tmp_path / "images" / name)
    return tmp_path


def test_memotion_humour_grades_become_yes_no(memotion_root):
    records, skips = collect(get_source("memotion"), memotion_root)
    records = {r.id.split("-", 2)[2]: r for r in records}
    assert set(records) == {"image_1", "image_2"}
    assert records["image_1"].answer == "yes" and records["image_2"].answer == "no"
    assert records["image_2"].text == "ocr only text"  # text_corrected empty -> text_ocr
    assert records["image_1"].split == hash_split("image_1")
    assert records["image_1"].media == "images/image_1.jpg" and records["image_1"].task == "humor"
    assert records["image_1"].question.startswith("Is the given image humorous? Answer yes or no.")
    assert len(by_id(records.values())) == 2
    reasons = skip_reasons(skips)
    assert "no meme text" in reasons["image_3.JPG"]
    assert "'kinda_funny' is not one of" in reasons["image_4.png"]
    assert "media file not found: images/image_5.jpg" in reasons["image_5.jpg"]


def test_memotion_missing_labels_is_named(memotion_root):
    (memotion_root / "labels.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"memotion: missing .*labels\.csv"):
        get_source("memotion").check_layout(memotion_root)
