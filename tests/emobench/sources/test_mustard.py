"""MUStARD as its repository lays it out: data/sarcasm_data.json, clips in data/videos/utterances_final/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import get_source

from .helpers import collect, skip_reasons, summary, write_clip, write_json

DATA = {
    "1_60": {
        "utterance": "It's just a privilege to watch your mind at work.",
        "speaker": "SHELDON",
        "context": ["I never would have identified the fingerprints of string theory.", "My apologies."],
        "context_speakers": ["LEONARD", "SHELDON"],
        "show": "BBT",
        "sarcasm": True,
    },
    "2_301": {
        "utterance": "Oh, that's great.",
        "speaker": "CHANDLER",
        "context": [],
        "context_speakers": [],
        "show": "FRIENDS",
        "sarcasm": False,
    },
    "2_400": {
        "utterance": "No clip for me.",
        "speaker": "ROSS",
        "context": [],
        "context_speakers": [],
        "show": "FRIENDS",
        "sarcasm": True,
    },
    "3_10": {"utterance": "Label?", "speaker": "DOROTHY", "show": "GOLDENGIRLS", "sarcasm": "maybe"},
}


def write_mustard(parent: Path, clips: str = "data/videos") -> Path:
    """``parent/MUStARD/`` (a clone of the repository) with mmsd_raw_data.zip unpacked into ``clips``."""
    repo = parent / "MUStARD"
    write_json(repo / "data" / "sarcasm_data.json", DATA)
    (repo / "README.md").write_text("# MUStARD\n", encoding="utf-8")
    for key in ("1_60", "2_301", "3_10"):
        write_clip(repo / clips / "utterances_final" / f"{key}.mp4")
        write_clip(repo / clips / "context_final" / f"{key}_c.mp4")
    return parent


def test_mustard_repository_layout_and_speaker_independent_split(tmp_path):
    source = get_source("mustard")
    records, skips = collect(source, write_mustard(tmp_path))
    assert summary(records) == {
        "mustard-train-1_60": ("train", "yes", "MUStARD/data/videos/utterances_final/1_60.mp4"),
        "mustard-test-2_301": ("test", "no", "MUStARD/data/videos/utterances_final/2_301.mp4"),
    }
    record = next(r for r in records if r.id == "mustard-train-1_60")
    assert (record.task, record.modality) == ("sarcasm", "video")
    assert record.text == "It's just a privilege to watch your mind at work."
    assert record.question.startswith("Is the given video sarcastic? Answer yes or no.")
    reasons = skip_reasons(skips)
    assert reasons["2_400"] == "media file not found: MUStARD/data/videos/utterances_final/2_400.mp4"
    assert "'sarcasm' is missing or not true/false" in reasons["3_10"]
    assert source.file_counts == {"MUStARD/data/sarcasm_data.json": {"records": 2, "skipped": 2}}


@pytest.mark.parametrize(
    "clips, media",
    [
        ("data", "MUStARD/data/utterances_final/1_60.mp4"),  # beside the JSON
        ("data/mmsd_raw_data", "MUStARD/data/mmsd_raw_data/utterances_final/1_60.mp4"),  # as the zip unpacks
        ("videos", "MUStARD/videos/utterances_final/1_60.mp4"),  # elsewhere under the root
    ],
)
def test_mustard_clip_folder_wherever_it_was_unpacked(tmp_path, clips, media):
    records, _ = collect(get_source("mustard"), write_mustard(tmp_path, clips))
    assert summary(records)["mustard-train-1_60"] == ("train", "yes", media)


def test_mustard_root_inside_the_data_folder(tmp_path):
    write_mustard(tmp_path)
    records, _ = collect(get_source("mustard"), tmp_path / "MUStARD" / "data")
    assert summary(records)["mustard-train-1_60"][2] == "videos/utterances_final/1_60.mp4"


def test_mustard_without_clips_says_what_to_pass(tmp_path):
    root = write_mustard(tmp_path / "downloads")
    shutil.rmtree(root / "MUStARD" / "data" / "videos")
    (root / "mmsd_raw_data.zip").write_bytes(b"PK")
    with pytest.raises(FileNotFoundError) as info:
        list(get_source("mustard").iter_samples(root))
    message = str(info.value)
    assert message.startswith("mustard: no utterances_final folder beside MUStARD/data/ (looked for videos/")
    assert "archives not unpacked yet: mmsd_raw_data.zip" in message
    assert message.endswith("unpack the media there or pass --media-root DIR")
