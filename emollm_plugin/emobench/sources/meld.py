"""MELD (Poria et al., ACL 2019): 13,708 utterance clips from *Friends*, seven emotions.

Release (``MELD.Raw.tar.gz`` from https://affective-meld.github.io; the CSVs are also in
https://github.com/declare-lab/MELD/tree/master/data/MELD). Unpacking it, then ``train.tar.gz``,
``dev.tar.gz`` and ``test.tar.gz`` where they lie, gives::

    MELD.Raw/
        train_sent_emo.csv  dev_sent_emo.csv  test_sent_emo.csv
            columns: Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID,
                     Season, Episode, StartTime, EndTime
        train/train_splits/dia{Dialogue_ID}_utt{Utterance_ID}.mp4
        dev/dev_splits_complete/dia{D}_utt{U}.mp4
        test/output_repeated_splits_test/dia{D}_utt{U}.mp4

The clip folders may also sit directly beside the CSVs (``train_splits/`` ...), or anywhere
under the root; a CSV inside its split folder (``train/train_sent_emo.csv``) is read as well.
The official train/dev/test split is kept (dev -> val). Emotions are MELD's own seven names
(label set ``ekman7``); the utterance goes into ``text``. A row without its clip (the release
misses a few, e.g. dev dia110_utt7) becomes a Skip.
"""

from __future__ import annotations

from collections.abc import Iterator

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import clean_text, clip_path, emotion_records, iter_table
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.tasks import LABEL_SETS

#: split -> (metadata file candidates, clip folder candidates); the first of each is documented.
LAYOUT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "train": (("train_sent_emo.csv", "train/train_sent_emo.csv"), ("train/train_splits", "train_splits")),
    "val": (
        ("dev_sent_emo.csv", "dev/dev_sent_emo.csv"),
        ("dev/dev_splits_complete", "dev_splits_complete"),
    ),
    "test": (
        ("test_sent_emo.csv", "test/test_sent_emo.csv"),
        ("test/output_repeated_splits_test", "output_repeated_splits_test"),
    ),
}

COLUMNS = ("Utterance", "Emotion", "Dialogue_ID", "Utterance_ID")


def clip_name(dialogue_id: str, utterance_id: str) -> str | None:
    """``dia3_utt1`` from the CSV's id columns, ``None`` when they are not integers."""
    dialogue_id, utterance_id = dialogue_id.strip(), utterance_id.strip()
    if not (dialogue_id.isdigit() and utterance_id.isdigit()):
        return None
    return f"dia{int(dialogue_id)}_utt{int(utterance_id)}"


@register_source
class MELD(SourceAdapter):
    name = "meld"
    tasks = ("emo_c", "emo_o")
    modalities = ("video",)
    description = "MELD: 13.7K Friends utterance clips with one of 7 emotions; utterance text included."
    homepage = "https://affective-meld.github.io (MELD.Raw.tar.gz; CSVs in github.com/declare-lab/MELD)"
    licence = "GPL-3.0 (declare-lab/MELD); clips are excerpts of Friends (Warner Bros.), research use."
    expected_layout = (
        "  MELD.Raw/train_sent_emo.csv, dev_sent_emo.csv, test_sent_emo.csv\n"
        "  MELD.Raw/train/train_splits/dia{D}_utt{U}.mp4  (or train_splits/ beside the CSVs)\n"
        "  MELD.Raw/dev/dev_splits_complete/dia{D}_utt{U}.mp4\n"
        "  MELD.Raw/test/output_repeated_splits_test/dia{D}_utt{U}.mp4"
    )
    required_files = tuple(files for files, _ in LAYOUT.values())

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["ekman7"]
        for split, (csv_candidates, clip_candidates) in LAYOUT.items():
            csv_path = layout.reading(layout.path(csv_candidates))
            rows = list(iter_table(csv_path, COLUMNS))
            probe = (
                f"{name}.mp4"
                for _, row in rows
                if isinstance(row, dict) and (name := clip_name(row["Dialogue_ID"], row["Utterance_ID"]))
            )
            clip_dir = layout.media_dir(clip_candidates, probe)
            for lineno, row in rows:
                if isinstance(row, Skip):
                    yield row
                    continue
                name = clip_name(row["Dialogue_ID"], row["Utterance_ID"])
                if name is None:
                    yield Skip(f"{csv_path.name}:{lineno}", "Dialogue_ID/Utterance_ID are not integers")
                    continue
                emotion = row["Emotion"].strip().lower()
                if emotion not in labels:
                    yield Skip(name, f"emotion {emotion!r} is not one of MELD's 7 ({', '.join(labels)})")
                    continue
                text = clean_text(row["Utterance"])
                if text is None:
                    yield Skip(name, "empty Utterance")
                    continue
                relative = clip_path(layout, clip_dir, name)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield from emotion_records(self.name, split, name, relative, "video", labels, emotion, text)
