"""MIntRec (Zhang et al., ACM MM 2022): 2,224 *Superstore* clips, 20 fine-grained intents.

Release layout (Google Drive / BaiduYun links in https://github.com/thuiar/MIntRec; the archive
unpacks into ``MIntRec/``)::

    MIntRec/train.tsv  dev.tsv  test.tsv   header "season  episode  clip  text  label", tab separated,
                                           e.g. "S05  E02  99  no, justine, we're ...  Oppose"
    MIntRec/raw_data/<season>/<episode>/<clip>.mp4    e.g. raw_data/S05/E02/99.mp4
    (audio_data/, video_data/, speaker_annotations/: features, unused here)

``raw_data/`` is found beside the TSV files or anywhere under the root.

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
from emollm_plugin.emobench.sources.common import (
    clean_id,
    clean_text,
    head_has,
    iter_table,
    media_file,
    option_record,
)
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.tasks import LABEL_SETS

_SPLITS = (("train", "train.tsv"), ("val", "dev.tsv"), ("test", "test.tsv"))
COLUMNS = ("season", "episode", "clip", "text", "label")
CLIP_DIRS = ("raw_data",)
_ALIASES = {"ask help": "ask for help", "apologize": "apologise", "criticise": "criticize"}


def normalise_label(label: str) -> str:
    """``"Ask for help"``, ``"ask_help"`` -> ``"ask for help"``."""
    text = " ".join(label.replace("_", " ").lower().split())
    return _ALIASES.get(text, text)


def clip_file(row: dict[str, str]) -> str:
    """``S05/E02/99.mp4``: where a row's clip lies inside ``raw_data/``."""
    return f"{row['season'].strip()}/{row['episode'].strip()}/{row['clip'].strip()}.mp4"


@register_source
class MIntRec(SourceAdapter):
    name = "mintrec"
    tasks = ("intent",)
    modalities = ("video",)
    description = "MIntRec: 2,224 Superstore clips labelled with 20 intents; utterance text included."
    homepage = "https://github.com/thuiar/MIntRec (download links in the README)"
    licence = "MIT (thuiar/MIntRec); clips are excerpts of Superstore (NBC), research use."
    expected_layout = (
        "  MIntRec/train.tsv, dev.tsv, test.tsv  (season, episode, clip, text, label)\n"
        "  MIntRec/raw_data/<season>/<episode>/<clip>.mp4"
    )
    required_files = tuple((file,) for _, file in _SPLITS)

    def recognises(self, folder: Path) -> bool:
        """``train.tsv`` is a common name (GLUE tasks): MIntRec's header names season, episode, clip."""
        return head_has(folder / "train.tsv", "season", "episode", "clip")

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["mintrec20"]
        tables = []
        for split, file in _SPLITS:
            path = layout.path((file,))
            tables.append((split, file, path, list(iter_table(path, COLUMNS, delimiter="\t"))))
        probe = (
            clip_file(row)
            for *_, rows in tables
            for _, row in rows
            if isinstance(row, dict) and all(row[k].strip() for k in ("season", "episode", "clip"))
        )
        clip_dir = layout.media_dir(CLIP_DIRS, probe)
        for split, file, path, rows in tables:
            layout.reading(path)
            for lineno, row in rows:
                if isinstance(row, Skip):
                    yield row
                    continue
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
                relative = media_file(layout, clip_dir, clip_file(row), native_id)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield option_record(
                    "intent", self.name, split, native_id, relative, "video", labels, label, text
                )
