"""Memotion 7k (Sharma et al., SemEval-2020 Task 8): 6,992 memes with humour/sarcasm/offence labels.

Release layout (``memotion_dataset_7k`` folder, e.g. from the Kaggle mirror
https://www.kaggle.com/datasets/williamscott701/memotion-dataset-7k)::

    memotion_dataset_7k/labels.csv
        ,image_name,text_ocr,text_corrected,humour,sarcasm,offensive,motivational,overall_sentiment
        0,image_1.jpg,LOOK THERE MY FRIEND ...,LOOK THERE MY FRIEND ...,hilarious,general,not_offensive,...
    memotion_dataset_7k/images/<image_name>

``images/`` is found beside ``labels.csv`` or anywhere under the root.

Humour is graded ``not_funny`` < ``funny`` < ``very_funny`` < ``hilarious``; the humor question's
answer is "no" for ``not_funny`` and "yes" otherwise. The meme text is ``text_corrected``
(``text_ocr`` when the corrected text is empty). There is no official split in the 7k release,
so the split is a deterministic hash of the image name (80/10/10).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import (
    clean_id,
    clean_text,
    hash_split,
    head_has,
    iter_table,
    media_file,
    yes_no_record,
)
from emollm_plugin.emobench.sources.locate import Layout

HUMOUR_LEVELS = {"not_funny": False, "funny": True, "very_funny": True, "hilarious": True}
COLUMNS = ("image_name", "text_ocr", "text_corrected", "humour")
IMAGE_DIRS = ("images",)


@register_source
class Memotion(SourceAdapter):
    name = "memotion"
    tasks = ("humor",)
    modalities = ("image",)
    description = "Memotion 7k: ~7K memes (image + text); humorous unless graded not_funny."
    homepage = "https://www.kaggle.com/datasets/williamscott701/memotion-dataset-7k (SemEval-2020 Task 8)"
    licence = "Research use (SemEval-2020 Task 8 terms); memes collected from public web pages."
    expected_layout = (
        "  memotion_dataset_7k/labels.csv  (image_name, text_ocr, text_corrected, humour, ...)\n"
        "  memotion_dataset_7k/images/<image_name>"
    )
    required_files = (("labels.csv",),)

    def recognises(self, folder: Path) -> bool:
        """``labels.csv`` is a common name: Memotion's header names image_name and humour."""
        return head_has(folder / "labels.csv", "image_name", "humour")

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        path = layout.reading(layout.path(("labels.csv",)))
        rows = list(iter_table(path, COLUMNS))
        probe = (row["image_name"].strip() for _, row in rows if isinstance(row, dict))
        image_dir = layout.media_dir(IMAGE_DIRS, probe)
        for lineno, row in rows:
            if isinstance(row, Skip):
                yield row
                continue
            image_name = row["image_name"].strip()
            if not image_name:
                yield Skip(f"labels.csv:{lineno}", "empty image_name")
                continue
            native_id = clean_id(PurePosixPath(image_name).stem)
            humour = row["humour"].strip().lower()
            if humour not in HUMOUR_LEVELS:
                yield Skip(image_name, f"humour {humour!r} is not one of {', '.join(HUMOUR_LEVELS)}")
                continue
            text = clean_text(row["text_corrected"]) or clean_text(row["text_ocr"])
            if text is None:
                yield Skip(image_name, "no meme text (text_corrected and text_ocr are empty)")
                continue
            relative = media_file(layout, image_dir, image_name, image_name)
            if isinstance(relative, Skip):
                yield relative
                continue
            split = hash_split(native_id)
            yield yes_no_record(
                "humor", self.name, split, native_id, relative, "image", HUMOUR_LEVELS[humour], text
            )
