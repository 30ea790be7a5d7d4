from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.intentonomy import INTENT_PHRASES, INTENTONOMY28

from .helpers import by_id, collect, skip_reasons, summary, write_image, write_json

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


def write_intentonomy(parent: Path) -> Path:
    """``parent/intentonomy/``: the annotation files and the download script's ``images/``."""
    top = parent / "intentonomy"
    anns = top / "annotations"
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
            ["c1", "c2"],  # c2 is listed but never annotated
            [
                {"id": 0, "image_id": "c1", "category_ids": [27]},
                {"id": 1, "image_id": "zz", "category_ids": [1]},
            ],
        ),
    )
    for image in ("a1", "a2", "b1", "b2", "c1"):  # a3's image was never downloaded
        write_image(top / "images" / "low" / f"{image}.jpg")
    return parent


@pytest.fixture
def intentonomy_root(tmp_path):
    return write_intentonomy(tmp_path / "downloads")


def test_intentonomy_single_label_images_become_intent_records(intentonomy_root):
    source = get_source("intentonomy")
    records, skips = collect(source, intentonomy_root)
    assert summary(records) == {
        "intentonomy-train-a1": ("train", "love animals", "intentonomy/images/low/a1.jpg"),
        "intentonomy-val-b1": ("val", "communicate", "intentonomy/images/low/b1.jpg"),
        "intentonomy-test-c1": ("test", "do work I like", "intentonomy/images/low/c1.jpg"),
    }
    record = by_id(records)["intentonomy-val-b1"]
    assert (record.task, record.modality) == ("intent", "image")
    assert record.options == list(INTENTONOMY28) and len(INTENTONOMY28) == 28
    assert record.question.startswith(
        "What is the intent of the person in the given image? Choose one from the following options: [be attractive,"
    )
    reasons = skip_reasons(skips)
    assert "tied top intents" in reasons["a2"]
    assert "multi-label (2 intents)" in reasons["b2"]
    assert reasons["a3"] == "media file not found: intentonomy/images/low/a3.jpg"
    assert "without a matching image" in reasons["annotations/intentonomy_test2020.json[1]"]
    assert reasons["c2"] == "image listed without an annotation"
    assert source.file_counts["intentonomy/annotations/intentonomy_val2020.json"] == {
        "records": 1,
        "skipped": 1,
    }


def test_intentonomy_images_downloaded_elsewhere(intentonomy_root, tmp_path):
    (intentonomy_root / "intentonomy" / "images").rename(tmp_path / "unsplash")
    with pytest.raises(FileNotFoundError, match="no images folder beside intentonomy/ "):
        list(get_source("intentonomy").iter_samples(intentonomy_root))
    records, _ = collect(get_source("intentonomy"), intentonomy_root, media_root=tmp_path / "unsplash")
    assert summary(records)["intentonomy-val-b1"] == ("val", "communicate", "low/b1.jpg")


def test_intent_phrases_are_unique_and_comma_free():
    assert len(set(INTENTONOMY28)) == 28 and not any("," in phrase for phrase in INTENTONOMY28)


def test_intentonomy_missing_annotation_is_named(intentonomy_root):
    (intentonomy_root / "intentonomy" / "annotations" / "intentonomy_val2020.json").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"intentonomy: no release .*intentonomy/ has annotations/intentonomy_train2020\.json, "
        r"annotations/intentonomy_test2020\.json but not annotations/intentonomy_val2020\.json",
    ):
        get_source("intentonomy").check_layout(intentonomy_root)
