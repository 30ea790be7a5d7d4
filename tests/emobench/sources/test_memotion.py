from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split

from .helpers import by_id, collect, skip_reasons, summary, write_image, write_table

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


def write_memotion(parent: Path) -> Path:
    """``parent/memotion_dataset_7k/`` as the Kaggle archive unpacks."""
    top = parent / "memotion_dataset_7k"
    write_table(top / "labels.csv", HEADER, ROWS)
    (top / "reference.csv").write_text("image_name,image_url\nimage_1.jpg,http://x\n", encoding="utf-8")
    for name in ("image_1.jpg", "image_2.jpeg", "image_3.JPG", "image_4.png"):
        write_image(top / "images" / name)
    return parent


@pytest.fixture
def memotion_root(tmp_path):
    return write_memotion(tmp_path / "downloads")


def test_memotion_humour_grades_become_yes_no(memotion_root):
    records, skips = collect(get_source("memotion"), memotion_root)
    assert summary(records) == {
        f"memotion-{hash_split('image_1')}-image_1": (
            hash_split("image_1"),
            "yes",
            "memotion_dataset_7k/images/image_1.jpg",
        ),
        f"memotion-{hash_split('image_2')}-image_2": (
            hash_split("image_2"),
            "no",
            "memotion_dataset_7k/images/image_2.jpeg",
        ),
    }
    records = {r.id.split("-", 2)[2]: r for r in records}
    assert records["image_2"].text == "ocr only text"  # text_corrected empty -> text_ocr
    assert records["image_1"].task == "humor"
    assert records["image_1"].question.startswith("Is the given image humorous? Answer yes or no.")
    assert len(by_id(records.values())) == 2
    reasons = skip_reasons(skips)
    assert "no meme text" in reasons["image_3.JPG"]
    assert "'kinda_funny' is not one of" in reasons["image_4.png"]
    assert reasons["image_5.jpg"] == "media file not found: memotion_dataset_7k/images/image_5.jpg"


def test_memotion_meme_text_over_several_lines_is_one_row(memotion_root):
    """A quoted field may hold line breaks (OCR text); that row is not mistaken for a broken quote."""
    csv_path = memotion_root / "memotion_dataset_7k" / "labels.csv"
    write_image(memotion_root / "memotion_dataset_7k" / "images" / "image_6.jpg")
    extra = (
        '5,image_6.jpg,"TOP LINE\nBOTTOM, LINE","TOP LINE\nBOTTOM, LINE",funny,general,slight,x,positive\n'
    )
    csv_path.write_text(csv_path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    records, skips = collect(get_source("memotion"), memotion_root)
    texts = {r.text for r in records}
    assert "TOP LINE BOTTOM, LINE" in texts and not [s for s in skips if "quote" in s.reason]


def test_memotion_missing_labels_is_named(memotion_root):
    (memotion_root / "memotion_dataset_7k" / "labels.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"memotion: no release under .* holding labels\.csv"):
        get_source("memotion").check_layout(memotion_root)
