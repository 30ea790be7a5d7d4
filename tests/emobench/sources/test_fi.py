"""FI as emotion_dataset.zip unpacks: emotion_dataset/<emotion>/<emotion>_<n>.jpg."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emollm_plugin.emobench.build import build_source
from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import clean_id, hash_split
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, summary, write_image


def write_fi(parent: Path) -> Path:
    top = parent / "emotion_dataset"
    for emotion in LABEL_SETS["mikels8"]:
        write_image(top / emotion / f"{emotion}_0001.jpg")
    write_image(top / "neutral" / "neutral_0001.jpg")  # not a Mikels emotion
    write_image(top / "awe" / "0007.jpg")  # renamed copy: id gets the folder prefix
    (top / "awe" / "Thumbs.db").write_bytes(b"junk")  # OS residue: not a sample
    (top / "fear" / ".DS_Store").write_bytes(b"junk")
    (top / "fear" / "notes.txt").write_text("not an image", encoding="utf-8")
    (top / "sadness" / "sadness_0003.jpg").write_bytes(b"")  # interrupted download
    write_image(parent / "__MACOSX" / "emotion_dataset" / "anger" / "._anger_0001.jpg")
    return parent


def native(emotion: str, n: str = "0001") -> tuple[str, str]:
    sample = f"{emotion}_{n}"
    return f"fi-{hash_split(sample)}-{sample}", hash_split(sample)


def test_fi_folders_are_labels_and_splits_are_hashed(tmp_path):
    source = get_source("fi")
    records, skips = collect(source, write_fi(tmp_path))
    expected = {
        native(emotion)[0]: (native(emotion)[1], emotion, f"emotion_dataset/{emotion}/{emotion}_0001.jpg")
        for emotion in LABEL_SETS["mikels8"]
    }
    expected[native("awe", "0007")[0]] = (native("awe", "0007")[1], "awe", "emotion_dataset/awe/0007.jpg")
    assert summary(records) == expected
    assert len(by_id(records)) == 18  # emo_c + emo_o
    assert skip_reasons(skips) == {
        "emotion_dataset/neutral/neutral_0001.jpg": (
            "folder 'neutral' is not one of Mikels' 8 emotions "
            "(amusement, anger, awe, contentment, disgust, excitement, fear, sadness)"
        ),
        "emotion_dataset/sadness/sadness_0003.jpg": (
            "media file is empty (interrupted download?): emotion_dataset/sadness/sadness_0003.jpg"
        ),
        "emotion_dataset/fear/notes.txt": "not an image file (.txt)",
    }
    assert source.file_counts["emotion_dataset/awe"] == {"records": 4, "skipped": 0}


def test_fi_non_ascii_file_names_keep_distinct_stable_ids(tmp_path):
    """Issue 13 item 6: 喜び.jpg, 悲しみ.jpg and 😀😀.png used to collapse into one id."""
    root = write_fi(tmp_path / "downloads")
    names = ["喜び.jpg", "悲しみ.jpg", "😀😀.png", "😀.png", "a b.jpg", "a_b.jpg", "a-b.jpg"]
    for name in names:
        write_image(root / "emotion_dataset" / "amusement" / name)
    records, _ = collect(get_source("fi"), root)
    ids = {r.media.rsplit("/", 1)[1]: r.id for r in records if r.task == "emo_c" and "amusement/" in r.media}
    assert len(set(ids.values())) == len(ids) == len(names) + 1
    assert ids["喜び.jpg"].endswith("-amusement_喜び") and ids["悲しみ.jpg"].endswith("-amusement_悲しみ")
    assert ids["a_b.jpg"].endswith("-amusement_a_b")
    emoji = ids["😀😀.png"].split("-", 2)[2]
    assert emoji.startswith("amusement_") and len(emoji) == len("amusement_") + 8  # the name's hash
    assert emoji == clean_id("amusement_😀😀")  # stable: the same on every run

    # Through the real build: all of them stored, none dropped as a duplicate id.
    result = build_source("fi", root, tmp_path / "bench", progress=False)
    assert result.total == 2 * (9 + len(names))
    assert not [s for s in result.skipped if "duplicate" in s["reason"]]


def test_clean_id_is_unique_stable_and_idempotent():
    assert clean_id("dia3_utt1") == "dia3_utt1" and clean_id("喜び") == "喜び"
    lossy = ["a-b", "a b", "a/b", "😀😀", "😀", "", "x" * 300, "x" * 301]
    cleaned = [clean_id(name) for name in lossy]
    assert len(set(cleaned)) == len(lossy) and "a_b" not in cleaned
    assert all(len(c) <= 120 and clean_id(c) == c for c in cleaned)
    assert clean_id("e\u0301") == clean_id("\u00e9") == "\u00e9"  # macOS (NFD) and Linux (NFC) agree


@pytest.mark.parametrize("root", ["", "emotion_dataset", "emotion_dataset/anger"])
def test_fi_root_at_or_above_or_below_the_release(tmp_path, root):
    write_fi(tmp_path)
    if root == "emotion_dataset/anger":
        with pytest.raises(FileNotFoundError, match=f"pass --root {tmp_path / 'emotion_dataset'}"):
            get_source("fi").check_layout(tmp_path / root)
        return
    records, _ = collect(get_source("fi"), tmp_path / root)
    media = {r.media for r in records}
    assert ("emotion_dataset/anger/anger_0001.jpg" if not root else "anger/anger_0001.jpg") in media


def test_fi_missing_emotion_folder_is_named(tmp_path):
    root = write_fi(tmp_path)
    shutil.rmtree(root / "emotion_dataset" / "contentment")
    with pytest.raises(
        FileNotFoundError,
        match=r"fi: no release under .*emotion_dataset/ has amusement, anger, awe, disgust, excitement, fear, "
        r"sadness but not contentment",
    ):
        get_source("fi").check_layout(root)


def test_fi_media_root_does_not_apply(tmp_path):
    root = write_fi(tmp_path)
    with pytest.raises(FileNotFoundError, match="fi: the image folders are the release itself"):
        list(get_source("fi").iter_samples(root, root))
