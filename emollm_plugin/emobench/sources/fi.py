"""FI, the Flickr & Instagram emotion set (You et al., AAAI 2016): ~23K images, Mikels' eight.

The release (``emotion_dataset.zip`` from the authors, https://qzyou.github.io/, also mirrored by
several visual-emotion groups) has one folder per emotion and no metadata file::

    amusement/amusement_0001.jpg  ...
    anger/  awe/  contentment/  disgust/  excitement/  fear/  sadness/

The folder is the label. FI has no official split, so the split is a deterministic hash of the
file's id (80/10/10), stable when files are added. Each image gives one emo_c and one emo_o
question. Images in any other folder become Skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import emotion_records, hash_split, iter_folder_images, media_skip
from emollm_plugin.emobench.tasks import LABEL_SETS


@register_source
class FI(SourceAdapter):
    name = "fi"
    tasks = ("emo_c", "emo_o")
    modalities = ("image",)
    description = "FI (Flickr & Instagram): ~23K images labelled with Mikels' 8 emotions by AMT workers."
    homepage = "https://qzyou.github.io/ (You et al., AAAI 2016; emotion_dataset.zip from the authors)"
    licence = "Research use only; images remain the property of their Flickr/Instagram owners."
    expected_layout = "  <emotion>/<emotion>_<n>.jpg  for the 8 emotions: " + ", ".join(LABEL_SETS["mikels8"])
    required_files = tuple((emotion,) for emotion in LABEL_SETS["mikels8"])

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        labels = LABEL_SETS["mikels8"]
        for folder, path in iter_folder_images(root):
            relative = path.relative_to(root).as_posix()
            label = folder.strip().lower()
            # Release names already carry the emotion (amusement_0001); prefix it when a copy
            # renamed the files, so that ids stay unique across folders.
            native_id = path.stem if path.stem.lower().startswith(f"{label}_") else f"{label}_{path.stem}"
            if label not in labels:
                yield Skip(
                    relative, f"folder {folder!r} is not one of Mikels' 8 emotions ({', '.join(labels)})"
                )
                continue
            missing = media_skip(root, relative, relative)
            if missing:
                yield missing
                continue
            split = hash_split(native_id)
            yield from emotion_records(self.name, split, native_id, relative, "image", labels, label)
