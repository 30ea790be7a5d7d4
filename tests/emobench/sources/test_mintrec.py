from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import SourceError, get_source
from emollm_plugin.emobench.sources.mintrec import normalise_label
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, summary, write_clip, write_table

HEADER = ["season", "episode", "clip", "text", "label"]


def write_mintrec(parent: Path) -> Path:
    """``parent/MIntRec/`` as the release archive unpacks."""
    top = parent / "MIntRec"
    tables = {
        "train.tsv": [
            [
                "S05",
                "E02",
                "99",
                "no, justine, we're supposed to be proving that mateo has good moral character.",
                "Oppose",
            ],
            ["S05", "E10", "264", "but could you just step back, like, a teensy bit?", "Ask for help"],
            ["S04", "E10", "473", "yeah, you sucked.", "Shrug"],  # not an intent
        ],
        "dev.tsv": [
            ["S06", "E05", "4", "that he misses you all", "Inform"],
            ["S06", "E01", "9", "bye", "Leave"],
        ],
        "test.tsv": [["S04", "E07", "118", "god, you have a creepy smile.", "taunt"]],
    }
    for name, rows in tables.items():
        write_table(top / name, HEADER, rows, delimiter="\t")
        for season, episode, clip, *_ in rows:
            if (season, episode, clip) != ("S06", "E01", "9"):
                write_clip(top / "raw_data" / season / episode / f"{clip}.mp4")
    (top / "speaker_annotations").mkdir()
    return parent


@pytest.fixture
def mintrec_root(tmp_path):
    return write_mintrec(tmp_path / "downloads")


def test_mintrec_tsv_and_raw_data_become_intent_records(mintrec_root):
    records, skips = collect(get_source("mintrec"), mintrec_root)
    assert summary(records) == {
        "mintrec-train-S05_E02_99": ("train", "oppose", "MIntRec/raw_data/S05/E02/99.mp4"),
        "mintrec-train-S05_E10_264": ("train", "ask for help", "MIntRec/raw_data/S05/E10/264.mp4"),
        "mintrec-val-S06_E05_4": ("val", "inform", "MIntRec/raw_data/S06/E05/4.mp4"),
        "mintrec-test-S04_E07_118": ("test", "taunt", "MIntRec/raw_data/S04/E07/118.mp4"),
    }
    records = by_id(records)
    record = records["mintrec-train-S05_E10_264"]
    assert (record.task, record.modality) == ("intent", "video")
    assert record.options == list(LABEL_SETS["mintrec20"])
    assert record.question.startswith(
        "What is the intent of the person in the given video? Choose one from the following options: [complain, praise,"
    )
    assert "ask for help]." in record.question and record.text.startswith("but could you")
    assert records["mintrec-test-S04_E07_118"].answer == "taunt"

    reasons = skip_reasons(skips)
    assert "'Shrug' is not one of MIntRec's 20" in reasons["S04_E10_473"]
    assert reasons["S06_E01_9"] == "media file not found: MIntRec/raw_data/S06/E01/9.mp4"


def test_mintrec_label_spellings_of_the_release_and_derived_copies():
    assert [
        normalise_label(x) for x in ("Ask for help", "ask_help", "Apologize", "Apologise", " Greet ")
    ] == [
        "ask for help",
        "ask for help",
        "apologise",
        "apologise",
        "greet",
    ]
    assert all(normalise_label(label.title()) == label for label in LABEL_SETS["mintrec20"])


def test_mintrec_layout_and_header_errors(mintrec_root):
    top = mintrec_root / "MIntRec"
    (top / "dev.tsv").write_text("a\tb\nS04\tE01\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"dev\.tsv: missing column\(s\) season"):
        list(get_source("mintrec").iter_samples(mintrec_root))
    (top / "test.tsv").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"mintrec: no release .*MIntRec/ has train\.tsv, dev\.tsv but not test\.tsv; "
        r"get it from https://github.com/thuiar",
    ):
        get_source("mintrec").check_layout(mintrec_root)
