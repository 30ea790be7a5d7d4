"""Hateful Memes (Kiela et al., NeurIPS 2020): 10K memes, image + overlaid text, hateful or not.

Release layout (the ``data/`` folder of the Facebook AI download, final phase-2 files;
distributed under the Hateful Memes licence, e.g. via https://ai.meta.com/tools/hatefulmemes/)::

    data/img/<id>.png
    data/train.jsonl         {"id": 42953, "img": "img/42953.png", "label": 0, "text": "its their ..."}
    data/dev_seen.jsonl      (phase 1 called it dev.jsonl; read when dev_seen.jsonl is absent)
    data/test_seen.jsonl     (labelled; phase 1's test.jsonl has no labels, so its rows become Skips)
    data/dev_unseen.jsonl    (labelled; repeats most of dev_seen)
    data/test_unseen.jsonl   (labelled; 2,000 memes that test_seen does not hold)

Every labelled file present is read, in the order of :data:`FILES`, and each meme is used once.
The rule: train.jsonl -> train, dev_seen -> val, test_seen -> test, then dev_unseen -> val and
test_unseen -> test for the memes the earlier files do not hold; a meme an earlier file already
gave (same image id) becomes a Skip naming that file and line, and saying whether the labels
agree. So the seen splits stay exactly the official ones, and the unseen memes join the split of
their file. The build summary lists how many records and skips came from each file.

``label`` 1 is hateful ("yes"). The meme text goes into ``text``. The id is the image file's stem
(``01235``), which keeps the leading zeros that the integer ``id`` field drops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import (
    clean_text,
    head_has,
    inside_folder,
    iter_jsonl,
    media_file,
    parse_binary,
    yes_no_record,
)
from emollm_plugin.emobench.sources.locate import Layout

#: (split, accepted file names) in reading order; the first three are required.
FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("train", ("train.jsonl",)),
    ("val", ("dev_seen.jsonl", "dev.jsonl")),
    ("test", ("test_seen.jsonl", "test.jsonl")),
    ("val", ("dev_unseen.jsonl",)),
    ("test", ("test_unseen.jsonl",)),
)
REQUIRED = 3
IMAGE_DIRS = ("img",)


def image_stem(row: dict) -> str | None:
    """``01235`` for ``{"img": "img/01235.png"}``; ``None`` when the row names no image."""
    image = row.get("img")
    if not isinstance(image, str) or not image.strip():
        return None
    return PurePosixPath(image.strip().replace("\\", "/")).stem


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
        "  data/train.jsonl, dev_seen.jsonl, test_seen.jsonl, dev_unseen.jsonl, test_unseen.jsonl\n"
        "       ({id, img, label, text} per line; the unseen files are optional)\n"
        "  data/img/<id>.png"
    )
    required_files = tuple(names for _, names in FILES[:REQUIRED])

    def recognises(self, folder: Path) -> bool:
        """``train.jsonl`` is a common name: Hateful Memes' rows name an ``img``."""
        return head_has(folder / "train.jsonl", '"img"')

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        present = [
            (split, path)
            for split, names in FILES
            if (path := next((layout.data / n for n in names if (layout.data / n).is_file()), None))
        ]
        rows = {path: list(iter_jsonl(path)) for _, path in present}
        probe = (
            inside_folder(row["img"], IMAGE_DIRS)
            for lines in rows.values()
            for _, row in lines
            if isinstance(row, dict) and image_stem(row)
        )
        image_dir = layout.media_dir(IMAGE_DIRS, probe)
        first_seen: dict[str, tuple[str, int, object]] = {}  # stem -> (file, line, label)
        for split, path in present:
            layout.reading(path)
            for lineno, row in rows[path]:
                if isinstance(row, Skip):
                    yield row
                    continue
                key = f"{path.name}:{lineno}"
                native_id = image_stem(row)
                if native_id is None:
                    yield Skip(key, "missing 'img' field")
                    continue
                flag = parse_binary(row.get("label"))
                if flag is None:
                    reason = (
                        "no 'label' (unlabelled test file?)" if "label" not in row else "label is not 0 or 1"
                    )
                    yield Skip(native_id, reason)
                    continue
                earlier = first_seen.get(native_id)
                if earlier is not None:
                    agree = "same label" if earlier[2] == flag else "a different label"
                    yield Skip(
                        key, f"meme {native_id} already read from {earlier[0]} line {earlier[1]} ({agree})"
                    )
                    continue
                first_seen[native_id] = (path.name, lineno, flag)
                text = clean_text(row.get("text"))
                if text is None:
                    yield Skip(native_id, "missing meme 'text'")
                    continue
                relative = media_file(layout, image_dir, row["img"], native_id, strip=IMAGE_DIRS)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield yes_no_record("hate", self.name, split, native_id, relative, "image", flag, text)
