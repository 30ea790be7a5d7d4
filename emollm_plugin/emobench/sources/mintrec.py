"""MIntRec (Zhang et al., ACM MM 2022): 2,224 *Superstore* clips, 20 fine-grained intents.

Release layout (Google Drive / BaiduYun links in https://github.com/thuiar/MIntRec)::

    train.tsv  dev.tsv  test.tsv   header "season  episode  clip  text  label", tab separated,
                                   e.g. "S05  E02  99  no, justine, we're ...  Oppose"
    raw_data/<season>/<episode>/<clip>.mp4    e.g. raw_data/S05/E02/99.mp4
    (audio_data/, video_data/, speaker_annotations/: features, unused here)

Labels are the 20 names of the official code (``Complain`` ... ``Ask for help``), matched case
insensitively against the ``mintrec20`` label set; spellings seen in derived copies
(``ask_help``, ``apologize``) are normalised. The official split is kept (dev -> val); the
utterance goes into ``text``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import clean_id, clean_text, media_skip, option_record, read_table
from emollm_plugin.emobench.tasks import LABEL_SETS

_SPLITS = (("train", "train.tsv"), ("val", "dev.tsv"), ("test", "test.tsv"))
COLUMNS = ("season", "episode", "clip", "text", "label")
_ALIASES = {"ask help": "ask for help", "apologize": "apologise", "criticise": "criticize"}


def normalise_label(label: str) -> str:
    """``"Ask for help"``, ``"ask_help"`` -> ``"ask for help"``."""
    text = " ".join(label.replace("_", " ").lower().split())
    return _ALIASES.get(text, text)


@register_source
class MIntRec(SourceAdapter):
    name = "mintrec"
    tasks = ("intent",)
    modalities = ("video",)
    description = "MIntRec: 2,224 Superstore clips labelled with 20 intents; utterance text included."
    homepage = "https://github.com/thuiar/MIntRec (download links in the README)"
    licence = "MIT (thuiar/MIntRec); clips are excerpts of Superstore (NBC), research use."
    expected_layout = (
        "  train.tsv, dev.tsv, test.tsv  (season, episode, clip, text, label)\n"
        "  raw_data/<season>/<episode>/<clip>.mp4"
    )
    required_files = tuple((file,) for _, file in _SPLITS)

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        labels = LABEL_SETS["mintrec20"]
        for split, file in _SPLITS:
            for lineno, row in enumerate(read_table(root / file, COLUMNS, delimiter="\t"), start=2):
                season, episode, clip = (row[k].strip() for k in ("season", "episode", "clip"))
                if not (season and episode and clip):
                    yield Skip(f"{file}:{lineno}", "empty season, episode or clip")
                    continue
                native_id = clean_id(f"{season}_{episode}_{clip}")
                label = normalise_label(row["label"])
                if label not in labels:
                    yield Skip(native_id, f"intent {row['label']!r} is not one of MIntRec's 20")
                    continue
                text = clean_text(row["text"])
                if text is None:
                    yield Skip(native_id, "empty text")
                    continue
                relative = f"raw_data/{season}/{episode}/{clip}.mp4"
                missing = media_skip(root, relative, native_id)
                if missing:
                    yield missing
                    continue
                yield option_record(
                    "intent", self.name, split, native_id, relative, "video", labels, label, text
                )
