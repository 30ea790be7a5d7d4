"""Memotion 7k (Sharma et al., SemEval-2020 Task 8): 6,992 memes with humour/sarcasm/offence labels.

Release layout (``memotion_dataset_7k`` folder, e.g. from the Kaggle mirror
https://www.kaggle.com/datasets/williamscott701/memotion-dataset-7k)::

    labels.csv    ,image_name,text_ocr,text_corrected,humour,sarcasm,offensive,motivational,overall_sentiment
                  0,image_1.jpg,LOOK THERE MY FRIEND ...,LOOK THERE MY FRIEND ...,hilarious,general,not_offensive,...
    images/<image_name>

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
    media_skip,
    read_table,
    yes_no_record,
)

HUMOUR_LEVELS = {"not_funny": False, "funny": True, "very_funny": True, "hilarious": True}
COLUMNS = ("image_name", "text_ocr", "text_corrected", "humour")


@register_source
class Memotion(SourceAdapter):
    name = "memotion"
    tasks = ("humor",)
    modalities = ("image",)
    description = "Memotion 7k: ~7K memes (image + text); humorous unless graded not_funny."
    homepage = "https://www.kaggle.com/datasets/williamscott701/memotion-dataset-7k (SemEval-2020 Task 8)"
    licence = "Research use (SemEval-2020 Task 8 terms); memes collected from public web pages."
    expected_layout = (
        "  labels.csv  (image_name, text_ocr, text_corrected, humour, sarcasm, offensive, ...)\n"
        "  images/<image_name>"
    )
    required_files = (("labels.csv",),)

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        for lineno, row in enumerate(read_table(root / "labels.csv", COLUMNS), start=2):
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
            relative = f"images/{image_name}"
            missing = media_skip(root, relative, image_name)
            if missing:
                yield missing
                continue
            split = hash_split(native_id)
            yield yes_no_record(
                "humor", self.name, split, native_id, relative, "image", HUMOUR_LEVELS[humour], text
            )
