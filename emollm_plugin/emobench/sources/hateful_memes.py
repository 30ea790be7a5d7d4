"""Hateful Memes (Kiela et al., NeurIPS 2020): 10K memes, image + overlaid text, hateful or not.

Release layout (the ``data/`` folder of the Facebook AI download, phase-2 files; distributed
under the Hateful Memes licence, e.g. via https://ai.meta.com/tools/hatefulmemes/)::

    img/<id>.png
    train.jsonl       {"id": 42953, "img": "img/42953.png", "label": 0, "text": "its their character ..."}
    dev_seen.jsonl    (phase 1 called it dev.jsonl; read when dev_seen.jsonl is absent)
    test_seen.jsonl   (labelled; phase 1's test.jsonl has no labels, so its rows become Skips)
    dev_unseen.jsonl, test_unseen.jsonl   (not read: they overlap the seen splits)

Split: train -> train, dev_seen -> val, test_seen -> test. ``label`` 1 is hateful ("yes"). The
meme text goes into ``text``. The id is the image file's stem (``01235``), which keeps the
leading zeros that the integer ``id`` field drops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, find_first, register_source
from emollm_plugin.emobench.sources.common import (
    clean_text,
    iter_jsonl,
    media_skip,
    parse_binary,
    yes_no_record,
)

LAYOUT: dict[str, tuple[str, ...]] = {
    "train": ("train.jsonl",),
    "val": ("dev_seen.jsonl", "dev.jsonl"),
    "test": ("test_seen.jsonl", "test.jsonl"),
}


@register_source
class HatefulMemes(SourceAdapter):
    name = "hateful_memes"
    tasks = ("hate",)
    modalities = ("image",)
    description = "Hateful Memes: 10K multimodal memes (image + text) labelled hateful or not."
    homepage = "https://ai.meta.com/tools/hatefulmemes/ (Facebook AI, Hateful Memes Challenge)"
    licence = (
        "Hateful Memes Dataset Licence: non-commercial research only; images licensed from Getty Images."
    )
    expected_layout = (
        "  train.jsonl, dev_seen.jsonl, test_seen.jsonl  ({id, img, label, text} per line)\n  img/<id>.png"
    )
    required_files = tuple(LAYOUT.values())

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        for split, candidates in LAYOUT.items():
            path = find_first(root, candidates)
            for lineno, row in iter_jsonl(path):
                if isinstance(row, Skip):
                    yield row
                    continue
                key = f"{path.name}:{lineno}"
                image = row.get("img")
                if not isinstance(image, str) or not image.strip():
                    yield Skip(key, "missing 'img' field")
                    continue
                image = image.strip().replace("\\", "/")
                native_id = PurePosixPath(image).stem
                flag = parse_binary(row.get("label"))
                if flag is None:
                    reason = (
                        "no 'label' (unlabelled test file?)" if "label" not in row else "label is not 0 or 1"
                    )
                    yield Skip(native_id, reason)
                    continue
                text = clean_text(row.get("text"))
                if text is None:
                    yield Skip(native_id, "missing meme 'text'")
                    continue
                missing = media_skip(root, image, native_id)
                if missing:
                    yield missing
                    continue
                yield yes_no_record("hate", self.name, split, native_id, image, "image", flag, text)
