from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split

from .helpers import collect, skip_reasons, write_clip, write_table

ROWS = [
    ["hate_video_1.mp4", "Hate", "[['00:00:34', '00:01:24']]", "Blacks"],
    ["non_hate_video_1.mp4", "Non Hate", "", "Others"],
    ["non_hate_video_2", "Non Hate", "", ""],  # no suffix: .mp4 is assumed
    ["hate_video_2.mp4", "Offensive", "", "Jews"],  # not a HateMM label
    ["hate_video_3.mp4", "Hate", "", "Jews"],  # video missing
]


@pytest.fixture
def hatemm_root(tmp_path):
    write_table(
        tmp_path / "HateMM_annotation.csv", ["video_file_name", "label", "hate_snippet", "target"], ROWS
    )
    write_clip(tmp_path / "hate_videos" / "hate_video_1.mp4")
    write_clip(tmp_path / "hate_videos" / "hate_video_2.mp4")
    write_clip(tmp_path / "non_hate_videos" / "non_hate_video_1.mp4")
    write_clip(tmp_path / "non_hate_videos" / "non_hate_video_2.mp4")
    write_clip(tmp_path / "hate_videos" / "non_hate_video_2.mp4")  # wrong folder copies are not used
    return tmp_path


def test_hatemm_labels_pick_the_folder(hatemm_root):
    records, skips = collect(get_source("hatemm"), hatemm_root)
    records = {r.id.split("-", 2)[2]: r for r in records}
    assert {k: (r.answer, r.media) for k, r in records.items()} == {
        "hate_video_1": ("yes", "hate_videos/hate_video_1.mp4"),
        "non_hate_video_1": ("no", "non_hate_videos/non_hate_video_1.mp4"),
        "non_hate_video_2": ("no", "non_hate_videos/non_hate_video_2.mp4"),
    }
    record = records["hate_video_1"]
    assert (record.task, record.modality, record.text) == ("hate", "video", None)
    assert record.split == hash_split("hate_video_1")
    assert record.question == "Is the given video hateful? Answer yes or no."
    reasons = skip_reasons(skips)
    assert "neither 'Hate' nor 'Non Hate'" in reasons["hate_video_2.mp4"]
    assert "media file not found: hate_videos/hate_video_3.mp4" in reasons["hate_video_3.mp4"]


def test_hatemm_missing_annotation_is_named(hatemm_root):
    (hatemm_root / "HateMM_annotation.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"hatemm: missing .*HateMM_annotation\.csv"):
        get_source("hatemm").check_layout(hatemm_root)
