"""MELD as MELD.Raw.tar.gz unpacks (CSVs beside train/, dev/, test/ holding the clip folders)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import SourceError, get_source
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, summary, write_clip, write_table

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
NESTED = {
    "train": "train/train_splits",
    "val": "dev/dev_splits_complete",
    "test": "test/output_repeated_splits_test",
}
FLAT = {"train": "train_splits", "val": "dev_splits_complete", "test": "output_repeated_splits_test"}


def row(sr: int, text: str, emotion: str, dia: object, utt: object) -> list[object]:
    return [sr, text, "Rachel", emotion, "neutral", dia, utt, 3, 19, "00:14:38,127", "00:14:40,378"]


TABLES = {
    "train": [
        row(1, "Why do all you’re coffee mugs have numbers on the bottom?", "surprise", 0, 0),
        row(2, "Oh. That’s so Monica can keep track.", "anger", 0, 1),
        row(3, "Y'know what?", "contempt", 0, 2),  # not one of MELD's seven
    ],
    "val": [row(1, "Oh my God!", "joy", 110, 6), row(2, "Hi.", "neutral", 110, 7)],  # dia110_utt7: no clip
    "test": [row(1, "Oh my God, you're back!", "joy", 3, 1), row(2, "Okay.", "Neutral", "x", 0)],
}


def write_meld(parent: Path, clip_folders: dict[str, str] = NESTED) -> Path:
    """``parent/MELD.Raw/`` as the outer archive unpacks, with train/dev/test.tar.gz unpacked in it."""
    top = parent / "MELD.Raw"
    for split, rows in TABLES.items():
        name = {"train": "train", "val": "dev", "test": "test"}[split]
        write_table(top / f"{name}_sent_emo.csv", HEADER, rows)
        for values in rows:
            if (values[5], values[6]) != (110, 7) and str(values[5]).isdigit():
                write_clip(top / clip_folders[split] / f"dia{values[5]}_utt{values[6]}.mp4")
    return parent


EXPECTED = {
    "meld-train-dia0_utt0": ("train", "surprise", "MELD.Raw/train/train_splits/dia0_utt0.mp4"),
    "meld-train-dia0_utt1": ("train", "anger", "MELD.Raw/train/train_splits/dia0_utt1.mp4"),
    "meld-val-dia110_utt6": ("val", "joy", "MELD.Raw/dev/dev_splits_complete/dia110_utt6.mp4"),
    "meld-test-dia3_utt1": ("test", "joy", "MELD.Raw/test/output_repeated_splits_test/dia3_utt1.mp4"),
}


def test_meld_as_unpacked_becomes_records(tmp_path):
    source = get_source("meld")
    records, skips = collect(source, write_meld(tmp_path))
    assert summary(records) == EXPECTED
    assert {f"{rid}-emo_o" for rid in EXPECTED} <= set(by_id(records))
    record = by_id(records)["meld-test-dia3_utt1"]
    assert (record.task, record.modality, record.text) == ("emo_c", "video", "Oh my God, you're back!")
    assert record.options == list(LABEL_SETS["ekman7"])
    assert record.question.startswith(
        "Identify the only emotion depicted in the given video from the following options: [anger,"
    )
    assert record.question.endswith('The accompanying text is: "Oh my God, you\'re back!".')

    reasons = skip_reasons(skips)
    assert "'contempt' is not one of MELD's 7" in reasons["dia0_utt2"]
    assert reasons["dia110_utt7"] == "media file not found: MELD.Raw/dev/dev_splits_complete/dia110_utt7.mp4"
    assert reasons["test_sent_emo.csv:3"] == "Dialogue_ID/Utterance_ID are not integers"
    assert source.file_counts == {
        "MELD.Raw/train_sent_emo.csv": {"records": 4, "skipped": 1},
        "MELD.Raw/dev_sent_emo.csv": {"records": 2, "skipped": 1},
        "MELD.Raw/test_sent_emo.csv": {"records": 2, "skipped": 1},
    }


@pytest.mark.parametrize("root", ["", "MELD.Raw", "MELD.Raw/.."])
def test_meld_root_may_be_the_release_or_any_folder_above(tmp_path, root):
    write_meld(tmp_path / "downloads")
    records, _ = collect(get_source("meld"), tmp_path / "downloads" / root if root else tmp_path)
    prefix = {"": "downloads/", "MELD.Raw": "", "MELD.Raw/..": ""}[root]
    strip = "MELD.Raw/" if root == "MELD.Raw" else ""
    assert summary(records) == {
        rid: (split, answer, prefix + media.removeprefix(strip))
        for rid, (split, answer, media) in EXPECTED.items()
    }


def test_meld_clip_folders_beside_the_csvs_or_elsewhere(tmp_path):
    records, _ = collect(get_source("meld"), write_meld(tmp_path / "a", FLAT))
    assert summary(records)["meld-train-dia0_utt0"][2] == "MELD.Raw/train_splits/dia0_utt0.mp4"

    # The video archives unpacked into a sibling folder of MELD.Raw, under the same root.
    root = write_meld(tmp_path / "b")
    shutil.move(root / "MELD.Raw" / "test", root / "videos")
    records, _ = collect(get_source("meld"), root)
    assert summary(records)["meld-test-dia3_utt1"][2] == "videos/output_repeated_splits_test/dia3_utt1.mp4"


def test_meld_csv_inside_its_split_folder_is_read(tmp_path):
    root = write_meld(tmp_path)
    (root / "MELD.Raw" / "train_sent_emo.csv").rename(root / "MELD.Raw" / "train" / "train_sent_emo.csv")
    records, _ = collect(get_source("meld"), root)
    assert summary(records) == EXPECTED


def test_meld_missing_clip_folder_stops_with_what_to_pass(tmp_path):
    root = write_meld(tmp_path / "downloads")
    shutil.rmtree(root / "MELD.Raw" / "test")
    with pytest.raises(FileNotFoundError) as info:
        list(get_source("meld").iter_samples(root))
    message = str(info.value)
    assert message.startswith("meld: no output_repeated_splits_test folder beside MELD.Raw/")
    assert "pass --media-root DIR" in message and "\n" not in message

    # The clips unpacked outside --root: the error names the folder to pass.
    clips = tmp_path / "clips"
    write_clip(clips / "output_repeated_splits_test" / "dia3_utt1.mp4")
    with pytest.raises(
        FileNotFoundError, match="found .*output_repeated_splits_test outside --root: pass --root"
    ):
        list(get_source("meld").iter_samples(root))
    # ... and --media-root finds every clip folder under the folder it names instead.
    for split, folder in FLAT.items():
        if split != "test":
            shutil.move(root / "MELD.Raw" / NESTED[split], clips / folder)
    records, _ = collect(get_source("meld"), root, media_root=clips)
    assert summary(records) == {
        "meld-train-dia0_utt0": ("train", "surprise", "train_splits/dia0_utt0.mp4"),
        "meld-train-dia0_utt1": ("train", "anger", "train_splits/dia0_utt1.mp4"),
        "meld-val-dia110_utt6": ("val", "joy", "dev_splits_complete/dia110_utt6.mp4"),
        "meld-test-dia3_utt1": ("test", "joy", "output_repeated_splits_test/dia3_utt1.mp4"),
    }


def test_meld_missing_csv_is_named_with_the_nearest_match(tmp_path):
    root = write_meld(tmp_path / "downloads")
    (root / "MELD.Raw" / "dev_sent_emo.csv").rename(root / "MELD.Raw" / "dev_sent_emo (1).csv")
    with pytest.raises(FileNotFoundError) as info:
        get_source("meld").check_layout(root)
    message = str(info.value)
    assert message.startswith(
        f"meld: no release under {root}: looked for a folder holding train_sent_emo.csv"
    )
    assert "MELD.Raw/ has train_sent_emo.csv, test_sent_emo.csv but not dev_sent_emo.csv" in message
    assert "similar names seen: MELD.Raw/dev_sent_emo (1).csv" in message
    assert "affective-meld" in message and "\n" not in message


def test_meld_unclosed_quote_loses_no_row(tmp_path):
    """Issue 13 item 5: one unclosed quote used to swallow every later row without a word."""
    root = write_meld(tmp_path)
    csv_path = root / "MELD.Raw" / "train_sent_emo.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    broken = '4,"Wait what,Joey,joy,positive,0,3,3,19,00:14:41,00:14:42'  # the quote is never closed
    quoted = '5,"Fine, thanks",Ross,joy,positive,0,4,3,19,"00:14:43,000","00:14:44,000"'
    plain = "6,Okay then,Ross,sadness,negative,0,5,3,19,00:14:45,00:14:46"
    csv_path.write_text("\n".join([*lines, broken, quoted, plain]) + "\n", encoding="utf-8")
    for utt in (3, 4, 5):
        write_clip(root / "MELD.Raw" / "train" / "train_splits" / f"dia0_utt{utt}.mp4")
    source = get_source("meld")
    records, skips = collect(source, root)
    train = {rid: value[1] for rid, value in summary(records).items() if value[0] == "train"}
    assert train == {
        "meld-train-dia0_utt0": "surprise",
        "meld-train-dia0_utt1": "anger",
        "meld-train-dia0_utt4": "joy",
        "meld-train-dia0_utt5": "sadness",
    }
    reasons = skip_reasons(skips)
    assert reasons["train_sent_emo.csv:5"] == (
        "unclosed quote: this row would swallow lines 6-6; line skipped, the following lines are read as rows"
    )
    # Six rows in the file: four records (with their emo_o twins) and two skips, each with its line.
    assert source.file_counts["MELD.Raw/train_sent_emo.csv"] == {"records": 8, "skipped": 2}


def test_meld_csv_without_its_columns_is_a_clear_error(tmp_path):
    root = write_meld(tmp_path)
    (root / "MELD.Raw" / "test_sent_emo.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"test_sent_emo\.csv: missing column\(s\) Utterance"):
        list(get_source("meld").iter_samples(root))
