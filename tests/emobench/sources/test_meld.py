from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, write_clip, write_table

HEADER = [
    "Sr No.",
    "Utterance",
    "Speaker",
    "Emotion",
    "Sentiment",
    "Dialogue_ID",
    "Utterance_ID",
    "Season",
    "Episode",
    "StartTime",
    "EndTime",
]


def row(sr: int, text: str, emotion: str, dia: object, utt: object) -> list[object]:
    return [sr, text, "Rachel", emotion, "neutral", dia, utt, 3, 19, "00:14:38,127", "00:14:40,378"]


def write_meld(root, nested: bool = False):
    folders = (
        {
            "train": "train/train_splits",
            "val": "dev/dev_splits_complete",
            "test": "test/output_repeated_splits_test",
        }
        if nested
        else {"train": "train_splits", "val": "dev_splits_complete", "test": "output_repeated_splits_test"}
    )
    tables = {
        "train": [
            row(1, "Why do all you’re coffee mugs have numbers on the bottom?", "surprise", 0, 0),
            row(2, "Oh. That’s so Monica can keep track.", "anger", 0, 1),
            row(3, "Y'know what?", "contempt", 0, 2),  # not one of MELD's seven
        ],
        "val": [
            row(1, "Oh my God!", "joy", 110, 6),
            row(2, "Hi.", "neutral", 110, 7),
        ],  # dia110_utt7: no clip
        "test": [row(1, "Oh my God, you're back!", "joy", 3, 1), row(2, "Okay.", "Neutral", "x", 0)],
    }
    for split, rows in tables.items():
        name = {"train": "train", "val": "dev", "test": "test"}[split]
        csv_path = root / (
            f"train/{name}_sent_emo.csv" if nested and split == "train" else f"{name}_sent_emo.csv"
        )
        write_table(csv_path, HEADER, rows)
        for values in rows:
            if (values[5], values[6]) != (110, 7) and str(values[5]).isdigit():
                write_clip(root / folders[split] / f"dia{values[5]}_utt{values[6]}.mp4")
    return root


def test_meld_csvs_and_clip_folders_become_records(tmp_path):
    records, skips = collect(get_source("meld"), write_meld(tmp_path))
    records = by_id(records)
    assert set(records) == {
        f"meld-{split}-{clip}{suffix}"
        for split, clip in [
            ("train", "dia0_utt0"),
            ("train", "dia0_utt1"),
            ("val", "dia110_utt6"),
            ("test", "dia3_utt1"),
        ]
        for suffix in ("", "-emo_o")
    }
    record = records["meld-test-dia3_utt1"]
    assert (record.task, record.modality, record.answer) == ("emo_c", "video", "joy")
    assert record.media == "output_repeated_splits_test/dia3_utt1.mp4"
    assert record.text == "Oh my God, you're back!"
    assert record.options == list(LABEL_SETS["ekman7"])
    assert record.question.startswith(
        "Identify the only emotion depicted in the given video from the following options: [anger,"
    )
    assert record.question.endswith('The accompanying text is: "Oh my God, you\'re back!".')
    assert records["meld-train-dia0_utt0"].text.startswith("Why do all you’re coffee mugs")
    assert records["meld-val-dia110_utt6"].media == "dev_splits_complete/dia110_utt6.mp4"

    reasons = skip_reasons(skips)
    assert "'contempt' is not one of MELD's 7" in reasons["dia0_utt2"]
    assert "media file not found: dev_splits_complete/dia110_utt7.mp4" in reasons["dia110_utt7"]
    assert "not integers" in reasons["test_sent_emo.csv#2"]


def test_meld_nested_copies_are_read_too(tmp_path):
    records, _ = collect(get_source("meld"), write_meld(tmp_path, nested=True))
    assert by_id(records)["meld-train-dia0_utt0"].media == "train/train_splits/dia0_utt0.mp4"


def test_meld_missing_clip_folder_skips_and_missing_csv_raises(tmp_path):
    root = write_meld(tmp_path)
    for clip in (root / "output_repeated_splits_test").iterdir():
        clip.unlink()
    (root / "output_repeated_splits_test").rmdir()
    _, skips = collect(get_source("meld"), root)
    assert "clip folder not found" in skip_reasons(skips)["dia3_utt1"]

    (root / "dev_sent_emo.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"meld: missing .*dev_sent_emo\.csv .*affective-meld"):
        get_source("meld").check_layout(root)
