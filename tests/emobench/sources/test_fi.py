from __future__ import annotations

import shutil

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, write_image


@pytest.fixture
def fi_root(tmp_path):
    for emotion in LABEL_SETS["mikels8"]:
        for n in (1, 2):
            write_image(tmp_path / emotion / f"{emotion}_{n:04d}.jpg")
    write_image(tmp_path / "neutral" / "neutral_0001.jpg")  # not a Mikels emotion
    write_image(tmp_path / "awe" / "0007.jpg")  # renamed copy: id gets the folder prefix
    (tmp_path / "awe" / "Thumbs.db").write_bytes(b"junk")  # not an image: ignored
    (tmp_path / "fear" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "sadness" / "sadness_0003.jpg").write_bytes(b"")  # interrupted download
    return tmp_path


def test_fi_folders_are_labels_and_splits_are_hashed(fi_root):
    records, skips = collect(get_source("fi"), fi_root)
    close = [r for r in records if r.task == "emo_c"]
    assert len(close) == 17 and len(records) == 34
    for record in close:
        assert record.answer == record.media.split("/")[0]
        native = record.id.split("-", 2)[2]
        assert record.split == hash_split(native)
    ids = by_id(records)
    renamed = next(r for r in close if r.media == "awe/0007.jpg")
    assert renamed.id.endswith("-awe_0007") and f"{renamed.id}-emo_o" in ids
    assert {r.split for r in close} <= {"train", "val", "test"}

    reasons = skip_reasons(skips)
    assert set(reasons) == {"neutral/neutral_0001.jpg", "sadness/sadness_0003.jpg"}
    assert "not one of Mikels' 8" in reasons["neutral/neutral_0001.jpg"]
    assert "empty" in reasons["sadness/sadness_0003.jpg"]


def test_fi_missing_emotion_folder_is_named(fi_root):
    shutil.rmtree(fi_root / "contentment")
    with pytest.raises(FileNotFoundError, match=r"fi: missing .*contentment"):
        get_source("fi").check_layout(fi_root)
