from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source

from .helpers import by_id, collect, skip_reasons, write_image, write_json

FINAL = {
    "train.json": [
        {"image_id": 915657464401580032, "text": "whew ... so why are you using a car ?", "label": 1},
        {"image_id": 854678856724340736, "text": "a calm lake", "label": 0},
        {"image_id": 111, "text": "image missing", "label": 0},
    ],
    "valid.json": [{"image_id": 904892917277274112, "text": "has this become real ?", "label": 1}],
    "test.json": [{"image_id": 855466461296504832, "text": "", "label": 1}, {"text": "no id", "label": 0}],
}


@pytest.fixture
def mmsd_root(tmp_path):
    for name, entries in FINAL.items():
        write_json(tmp_path / "text_json_final" / name, entries)
        write_json(tmp_path / "text_json_clean" / name, [{**e, "label": 1 - e["label"]} for e in entries])
        for entry in entries:
            if entry.get("image_id") not in (None, 111):
                write_image(tmp_path / "dataset_image" / f"{entry['image_id']}.jpg")
    return tmp_path


def test_mmsd2_tweets_become_sarcasm_records(mmsd_root):
    records, skips = collect(get_source("mmsd2"), mmsd_root)
    records = by_id(records)
    assert set(records) == {
        "mmsd2-train-915657464401580032",
        "mmsd2-train-854678856724340736",
        "mmsd2-val-904892917277274112",
    }
    record = records["mmsd2-train-915657464401580032"]
    assert (record.task, record.modality, record.answer) == ("sarcasm", "image", "yes")
    assert record.media == "dataset_image/915657464401580032.jpg"
    assert record.question.startswith(
        "Is the given image sarcastic? Answer yes or no. The accompanying text is:"
    )
    assert records["mmsd2-train-854678856724340736"].answer == "no"
    reasons = skip_reasons(skips)
    assert "media file not found" in reasons["111"]
    assert "missing tweet 'text'" in reasons["855466461296504832"]
    assert "no 'image_id'" in reasons["text_json_final/test.json[1]"]


def test_mmsd_reads_the_original_labels(mmsd_root):
    records, _ = collect(get_source("mmsd"), mmsd_root)
    assert by_id(records)["mmsd-train-915657464401580032"].answer == "no"


def test_mmsd2_missing_text_file_is_named(mmsd_root):
    (mmsd_root / "text_json_final" / "valid.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"mmsd2: missing .*text_json_final/valid\.json"):
        get_source("mmsd2").check_layout(mmsd_root)
    get_source("mmsd").check_layout(mmsd_root)  # the original labels are still complete
