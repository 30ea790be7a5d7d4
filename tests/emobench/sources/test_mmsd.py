from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import get_source

from .helpers import by_id, collect, skip_reasons, summary, write_image, write_json

FINAL = {
    "train.json": [
        {"image_id": 915657464401580032, "text": "whew ... so why are you using a car ?", "label": 1},
        {"image_id": 854678856724340736, "text": "a calm lake", "label": 0},
        {"image_id": 111, "text": "image missing", "label": 0},
    ],
    "valid.json": [{"image_id": 904892917277274112, "text": "has this become real ?", "label": 1}],
    "test.json": [{"image_id": 855466461296504832, "text": "", "label": 1}, {"text": "no id", "label": 0}],
}


def write_mmsd(parent: Path) -> Path:
    """``parent/MMSD2.0/`` (a clone of the repository): ``data/`` with the image zips unpacked in it."""
    data = parent / "MMSD2.0" / "data"
    for name, entries in FINAL.items():
        write_json(data / "text_json_final" / name, entries)
        write_json(data / "text_json_clean" / name, [{**e, "label": 1 - e["label"]} for e in entries])
        for entry in entries:
            if entry.get("image_id") not in (None, 111):
                write_image(data / "dataset_image" / f"{entry['image_id']}.jpg")
    (parent / "MMSD2.0" / "README.md").write_text("# MMSD2.0\n", encoding="utf-8")
    return parent


@pytest.fixture
def mmsd_root(tmp_path):
    return write_mmsd(tmp_path / "downloads")


def test_mmsd2_tweets_become_sarcasm_records(mmsd_root):
    source = get_source("mmsd2")
    records, skips = collect(source, mmsd_root)
    images = "MMSD2.0/data/dataset_image"
    assert summary(records) == {
        "mmsd2-train-915657464401580032": ("train", "yes", f"{images}/915657464401580032.jpg"),
        "mmsd2-train-854678856724340736": ("train", "no", f"{images}/854678856724340736.jpg"),
        "mmsd2-val-904892917277274112": ("val", "yes", f"{images}/904892917277274112.jpg"),
    }
    records = by_id(records)
    record = records["mmsd2-train-915657464401580032"]
    assert (record.task, record.modality) == ("sarcasm", "image")
    assert record.question.startswith(
        "Is the given image sarcastic? Answer yes or no. The accompanying text is:"
    )
    reasons = skip_reasons(skips)
    assert reasons["111"] == f"media file not found: {images}/111.jpg"
    assert "missing tweet 'text'" in reasons["855466461296504832"]
    assert "no 'image_id'" in reasons["text_json_final/test.json[1]"]
    assert source.file_counts["MMSD2.0/data/text_json_final/test.json"] == {"records": 0, "skipped": 2}


def test_mmsd_reads_the_original_labels(mmsd_root):
    records, _ = collect(get_source("mmsd"), mmsd_root)
    assert by_id(records)["mmsd-train-915657464401580032"].answer == "no"


def test_mmsd2_missing_text_file_is_named(mmsd_root):
    (mmsd_root / "MMSD2.0" / "data" / "text_json_final" / "valid.json").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"mmsd2: no release .*MMSD2\.0/data/ has text_json_final/train\.json, text_json_final/test\.json "
        r"but not text_json_final/valid\.json.* holds mmsd: did you mean --source mmsd\?",
    ):
        get_source("mmsd2").check_layout(mmsd_root)
    get_source("mmsd").check_layout(mmsd_root)  # the original labels are still complete
