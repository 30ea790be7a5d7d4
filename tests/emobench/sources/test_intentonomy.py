from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.intentonomy import INTENT_PHRASES, INTENTONOMY28

from .helpers import by_id, collect, skip_reasons, write_image, write_json

CATEGORIES = [{"id": i, "name": name} for i, name in enumerate(INTENT_PHRASES)]


def softprob(**shares: float) -> list[float]:
    names = list(INTENT_PHRASES)
    vector = [0.0] * len(names)
    for name, share in shares.items():
        vector[names.index(name)] = share
    return vector


def annotation_file(images: list[str], annotations: list[dict]) -> dict:
    return {
        "info": {"year": 2020, "version": "1.0"},
        "categories": CATEGORIES,
        "images": [
            {"id": i, "filename": f"low/{i}.jpg", "original_id": i, "unsplash_url": "u"} for i in images
        ],
        "annotations": annotations,
    }


@pytest.fixture
def intentonomy_root(tmp_path):
    anns = tmp_path / "annotations"
    write_json(
        anns / "intentonomy_train2020.json",
        annotation_file(
            ["a1", "a2", "a3"],
            [
                {"id": 0, "image_id": "a1", "category_ids_softprob": softprob(InLoveAnimal=1.0, Happy=0.333)},
                {"id": 1, "image_id": "a2", "category_ids_softprob": softprob(Happy=0.667, Playful=0.667)},
                {"id": 2, "image_id": "a3", "category_ids_softprob": softprob(NatBeauty=0.667)},
            ],
        ),
    )
    write_json(
        anns / "intentonomy_val2020.json",
        annotation_file(
            ["b1", "b2"],
            [
                {"id": 0, "image_id": "b1", "category_ids": [2]},
                {"id": 1, "image_id": "b2", "category_ids": [2, 5]},
            ],
        ),
    )
    write_json(
        anns / "intentonomy_test2020.json",
        annotation_file(
            ["c1"],
            [
                {"id": 0, "image_id": "c1", "category_ids": [27]},
                {"id": 1, "image_id": "zz", "category_ids": [1]},
            ],
        ),
    )
    for image in ("a1", "a2", "b1", "b2", "c1"):  # a3's image was never downloaded
        write_image(tmp_path / "images" / "low" / f"{image}.jpg")
    return tmp_path


def test_intentonomy_single_label_images_become_intent_records(intentonomy_root):
    records, skips = collect(get_source("intentonomy"), intentonomy_root)
    records = by_id(records)
    assert {k: r.answer for k, r in records.items()} == {
        "intentonomy-train-a1": "love animals",
        "intentonomy-val-b1": "communicate",
        "intentonomy-test-c1": "do work I like",
    }
    record = records["intentonomy-val-b1"]
    assert (record.task, record.modality, record.media) == ("intent", "image", "images/low/b1.jpg")
    assert record.options == list(INTENTONOMY28) and len(INTENTONOMY28) == 28
    assert record.question.startswith(
        "What is the intent of the person in the given image? Choose one from the following options: [be attractive,"
    )
    reasons = skip_reasons(skips)
    assert "tied top intents" in reasons["a2"]
    assert "multi-label (2 intents)" in reasons["b2"]
    assert "media file not found: images/low/a3.jpg" in reasons["a3"]
    assert "without a matching image" in reasons["annotations/intentonomy_test2020.json[1]"]


def test_intent_phrases_are_unique_and_comma_free():
    assert len(set(INTENTONOMY28)) == 28 and not any("," in phrase for phrase in INTENTONOMY28)


def test_intentonomy_missing_annotation_is_named(intentonomy_root):
    (intentonomy_root / "annotations" / "intentonomy_val2020.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"intentonomy: missing .*intentonomy_val2020\.json"):
        get_source("intentonomy").check_layout(intentonomy_root)
