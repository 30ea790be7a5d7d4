"""HateMM as its Zenodo archive unpacks: HateMM/ with the annotation CSV and two video folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.build import build_source
from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split

from .helpers import collect, skip_reasons, summary, write_clip, write_table

HEADER = ["video_file_name", "label", "hate_snippet", "target"]
ROWS = [
    ["hate_video_1.mp4", "Hate", "[['00:00:34', '00:01:24']]", "Blacks"],
    ["non_hate_video_1.mp4", "Non Hate", "", "Others"],
    ["non_hate_video_2", "Non Hate", "", ""],  # no suffix: .mp4 is assumed
    ["hate_video_2.mp4", "Offensive", "", "Jews"],  # not a HateMM label
    ["hate_video_3.mp4", "Hate", "", "Jews"],  # video missing
]


def write_hatemm(parent: Path, rows: list[list[str]] = ROWS) -> Path:
    top = parent / "HateMM"
    write_table(top / "HateMM_annotation.csv", HEADER, rows)
    for name in ("hate_video_1.mp4", "hate_video_2.mp4"):
        write_clip(top / "hate_videos" / name)
    for name in ("non_hate_video_1.mp4", "non_hate_video_2.mp4"):
        write_clip(top / "non_hate_videos" / name)
    write_clip(top / "hate_videos" / "non_hate_video_2.mp4")  # wrong folder copies are not used
    return parent


def expected(name: str, answer: str, folder: str) -> tuple[str, tuple[str, str, str]]:
    return f"hatemm-{hash_split(name)}-{name}", (hash_split(name), answer, f"HateMM/{folder}/{name}.mp4")


def test_hatemm_labels_pick_the_folder(tmp_path):
    records, skips = collect(get_source("hatemm"), write_hatemm(tmp_path))
    assert summary(records) == dict(
        [
            expected("hate_video_1", "yes", "hate_videos"),
            expected("non_hate_video_1", "no", "non_hate_videos"),
            expected("non_hate_video_2", "no", "non_hate_videos"),
        ]
    )
    record = records[0]
    assert (record.task, record.modality, record.text) == ("hate", "video", None)
    assert record.question == "Is the given video hateful? Answer yes or no."
    reasons = skip_reasons(skips)
    assert "neither 'Hate' nor 'Non Hate'" in reasons["hate_video_2.mp4"]
    assert reasons["hate_video_3.mp4"] == "media file not found: HateMM/hate_videos/hate_video_3.mp4"


def test_hatemm_unclosed_quote_loses_no_row(tmp_path):
    """Issue 13 item 5: the broken row used to swallow the six rows after it; exit 0, 1 skip."""
    root = write_hatemm(tmp_path / "downloads")
    csv_path = root / "HateMM" / "HateMM_annotation.csv"
    good = [f"non_hate_video_{n}.mp4,Non Hate,,Others" for n in range(10, 16)]
    broken = "hate_video_9.mp4,Hate,\"[['00:00:01', '00:00:09']],Jews"  # snippet quote never closed
    text = csv_path.read_text(encoding="utf-8") + "\n".join([broken, *good]) + "\n"
    csv_path.write_text(text, encoding="utf-8")
    for n in range(10, 16):
        write_clip(root / "HateMM" / "non_hate_videos" / f"non_hate_video_{n}.mp4")
    source = get_source("hatemm")
    records, skips = collect(source, root)
    ids = {r.id.split("-", 2)[2] for r in records}
    assert {f"non_hate_video_{n}" for n in range(10, 16)} <= ids and len(ids) == 9
    assert skip_reasons(skips)["HateMM_annotation.csv:7"] == (
        "unclosed quote: this row would swallow lines 8-13; line skipped, the following lines are read as rows"
    )
    # 11 rows: 9 records + 3 skips (Offensive, missing video, the broken row).
    assert source.file_counts == {"HateMM/HateMM_annotation.csv": {"records": 9, "skipped": 3}}

    # The same file through the real build: every row is a record or a listed skip.
    result = build_source("hatemm", root, tmp_path / "bench", progress=False)
    assert result.total == 9 and len(result.skipped) == 3
    assert "HateMM_annotation.csv:7" in {s["key"] for s in result.skipped}


def test_hatemm_rows_with_too_few_or_too_many_fields_are_skips_with_their_line(tmp_path):
    rows = [
        *ROWS[:2],
        ["non_hate_video_2"],  # a truncated row: its label is missing
        ["hate_video_2.mp4", "Hate", "", "Jews", "extra, shifted"],  # an unquoted comma shifted the columns
    ]
    root = write_hatemm(tmp_path, rows)
    records, skips = collect(get_source("hatemm"), root)
    assert len(records) == 2
    assert skip_reasons(skips) == {
        "HateMM_annotation.csv:4": "1 fields where the header has 4; row skipped",
        "HateMM_annotation.csv:5": "5 fields where the header has 4; row skipped",
    }


def test_hatemm_missing_annotation_is_named(tmp_path):
    root = write_hatemm(tmp_path)
    (root / "HateMM" / "HateMM_annotation.csv").rename(root / "HateMM" / "HateMM_annotations.csv")
    with pytest.raises(
        FileNotFoundError,
        match=r"hatemm: no release under .* holding HateMM_annotation\.csv .*similar names seen: "
        r"HateMM/HateMM_annotations\.csv",
    ):
        get_source("hatemm").check_layout(root)
