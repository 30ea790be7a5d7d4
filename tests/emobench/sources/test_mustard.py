from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source

from .helpers import by_id, collect, skip_reasons, write_clip, write_json

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


@pytest.fixture
def mustard_root(tmp_path):
    write_json(tmp_path / "sarcasm_data.json", DATA)
    for key in ("1_60", "2_301", "3_10"):
        write_clip(tmp_path / "mmsd_raw_data" / "utterances_final" / f"{key}.mp4")
        write_clip(tmp_path / "mmsd_raw_data" / "context_final" / f"{key}_c.mp4")
    return tmp_path


def test_mustard_speaker_independent_split(mustard_root):
    records, skips = collect(get_source("mustard"), mustard_root)
    records = by_id(records)
    assert set(records) == {"mustard-train-1_60", "mustard-test-2_301"}
    record = records["mustard-train-1_60"]
    assert (record.task, record.modality, record.answer) == ("sarcasm", "video", "yes")
    assert record.media == "mmsd_raw_data/utterances_final/1_60.mp4"
    assert record.text == "It's just a privilege to watch your mind at work."
    assert record.question.startswith("Is the given video sarcastic? Answer yes or no.")
    assert records["mustard-test-2_301"].answer == "no"
    reasons = skip_reasons(skips)
    assert "media file not found: mmsd_raw_data/utterances_final/2_400.mp4" in reasons["2_400"]
    assert "'sarcasm' is missing or not true/false" in reasons["3_10"]


def test_mustard_flat_clip_folder_and_missing_json(mustard_root):
    (mustard_root / "mmsd_raw_data").rename(mustard_root / "unzipped")
    (mustard_root / "unzipped" / "utterances_final").rename(mustard_root / "utterances_final")
    records, _ = collect(get_source("mustard"), mustard_root)
    assert by_id(records)["mustard-train-1_60"].media == "utterances_final/1_60.mp4"
    (mustard_root / "sarcasm_data.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"mustard: missing .*sarcasm_data\.json"):
        get_source("mustard").check_layout(mustard_root)
