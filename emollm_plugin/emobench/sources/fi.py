"""FI, the Flickr & Instagram emotion set (You et al., AAAI 2016): ~23K images, Mikels' eight.

The release (``emotion_dataset.zip`` from the authors, https://qzyou.github.io/, also mirrored by
several visual-emotion groups) has one folder per emotion and no metadata file; it unpacks into
``emotion_dataset/``::

    emotion_dataset/amusement/amusement_0001.jpg  ...
    emotion_dataset/anger/  awe/  contentment/  disgust/  excitement/  fear/  sadness/

The folder holding the eight emotion folders (at least one of them with an image in it) is
searched for under the root. The folder is the label. FI has no official split, so the split is a deterministic hash of the
file's id (80/10/10), stable when files are added. Each image gives one emo_c and one emo_o
question. Images in any other folder, and files that are not images, become Skips; the images
are the release, so ``--media-root`` does not apply.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import (
    emotion_records,
    hash_split,
    is_image,
    iter_folder_images,
    media_skip,
)
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.tasks import LABEL_SETS


def holds_images(folder: Path, categories: tuple[str, ...], look_at: int = 50) -> bool:
    """Whether one of the category folders holds an image among its first entries.

    Names alone are common (EmoSet's ``annotation/`` has the same eight emotion folders, of JSON
    files), so a release folder must hold images; a few directory entries settle it.
    """
    for category in categories:
        try:
            with os.scandir(folder / category) as entries:
                for _, entry in zip(range(look_at), entries, strict=False):
                    if is_image(Path(entry.name)) and not entry.name.startswith("."):
                        return True
        except OSError:
            continue
    return False


@register_source
class FI(SourceAdapter):
    name = "fi"
    tasks = ("emo_c", "emo_o")
    modalities = ("image",)
    description = "FI (Flickr & Instagram): ~23K images labelled with Mikels' 8 emotions by AMT workers."
    homepage = "https://qzyou.github.io/ (You et al., AAAI 2016; emotion_dataset.zip from the authors)"
    licence = "Research use only; images remain the property of their Flickr/Instagram owners."
    expected_layout = "  emotion_dataset/<emotion>/<emotion>_<n>.jpg  for the 8 emotions: " + ", ".join(
        LABEL_SETS["mikels8"]
    )
    required_files = tuple((emotion,) for emotion in LABEL_SETS["mikels8"])
    media_is_layout = True

    def recognises(self, folder: Path) -> bool:
        return holds_images(folder, LABEL_SETS["mikels8"])

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["mikels8"]
        for item in iter_folder_images(layout, layout.data):
            if isinstance(item, Skip):
                yield item
                continue
            folder, path, relative = item
            label = folder.strip().lower()
            # Release names already carry the emotion (amusement_0001); prefix it when a copy
            # renamed the files, so that ids stay unique across folders.
            native_id = path.stem if path.stem.lower().startswith(f"{label}_") else f"{label}_{path.stem}"
            if label not in labels:
                yield Skip(
                    relative, f"folder {folder!r} is not one of Mikels' 8 emotions ({', '.join(labels)})"
                )
                continue
            missing = media_skip(layout.base, relative, relative)
            if missing:
                yield missing
                continue
            split = hash_split(native_id)
            yield from emotion_records(self.name, split, native_id, relative, "image", labels, label)
