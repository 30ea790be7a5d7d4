"""EmoSet-118K (Yang et al., ICCV 2023): 118,102 images, Mikels' eight emotions, official splits.

Release layout (``data_root`` of https://github.com/JingyuanYY/EmoSet, obtained through the
request form on the project page; the archive unpacks into its own folder, e.g. ``EmoSet-118K/``)::

    info.json                        label <-> index maps (not needed here)
    train.json  val.json  test.json  lists of [emotion, image_id, image_path, annotation_path]
    image/<emotion>/<image_id>.jpg
    annotation/<emotion>/<image_id>.json   attributes (brightness, scene, objects, ...; unused)

Each split entry looks like ``["amusement", "amusement_12865", "image/amusement/amusement_12865.jpg",
"annotation/amusement/amusement_12865.json"]``; paths are relative to ``data_root``. A three-item
entry without the id (``[emotion, image_path, annotation_path]``) is accepted too, the id then
being the image file's stem. Each image gives one emo_c and one emo_o question. The ``image/``
folder is found beside the split files, or anywhere under the root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import emotion_records, inside_folder, media_file, read_json
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.tasks import LABEL_SETS

_SPLITS = (("train", "train.json"), ("val", "val.json"), ("test", "test.json"))
IMAGE_DIRS = ("image",)


def parse_entry(entry: object) -> tuple[str, str, str] | str:
    """``(emotion, image_id, image_path)`` from one split entry, or a reason it is unusable."""
    if not isinstance(entry, list | tuple) or len(entry) not in (3, 4):
        return "entry is not a list of [emotion, image_id, image_path, annotation_path]"
    if not all(isinstance(item, str) and item.strip() for item in entry):
        return "entry has an empty or non-string field"
    if len(entry) == 4:
        emotion, image_id, image_path, _ = entry
    else:
        emotion, image_path, _ = entry
        image_id = PurePosixPath(image_path).stem
    return emotion.strip().lower(), image_id.strip(), image_path.strip().replace("\\", "/")


@register_source
class EmoSet(SourceAdapter):
    name = "emoset"
    tasks = ("emo_c", "emo_o")
    modalities = ("image",)
    description = "EmoSet-118K: 118K social-media images labelled with Mikels' 8 emotions."
    homepage = "https://github.com/JingyuanYY/EmoSet (dataset request on the project page)"
    licence = "Research use only (terms of the EmoSet request form); image copyright stays with the owners."
    expected_layout = (
        "  EmoSet-118K/train.json, val.json, test.json  ([emotion, image_id, image_path, annotation_path])\n"
        "  EmoSet-118K/image/<emotion>/<image_id>.jpg\n"
        "  EmoSet-118K/annotation/<emotion>/<image_id>.json  (optional here)"
    )
    required_files = tuple((file,) for _, file in _SPLITS)

    def recognises(self, folder: Path) -> bool:
        """``train.json`` is a common name (LLaVA's too): EmoSet's is a list of lists, ``[["amusement", ...``."""
        try:
            with (folder / "train.json").open("rb") as handle:
                head = handle.read(256).decode("utf-8", errors="replace").lstrip("\ufeff")
        except OSError:
            return False
        text = "".join(head.split())
        return text.startswith(("[[", "[]"))

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["mikels8"]
        splits = []
        for split, file in _SPLITS:
            path = layout.path((file,))
            entries = read_json(path)
            if not isinstance(entries, list):
                raise SourceError(f"{path}: expected a JSON list of entries, got {type(entries).__name__}")
            splits.append((split, file, path, [parse_entry(entry) for entry in entries]))
        probe = (
            inside_folder(parsed[2], IMAGE_DIRS)
            for *_, entries in splits
            for parsed in entries
            if not isinstance(parsed, str)
        )
        image_dir = layout.media_dir(IMAGE_DIRS, probe)
        for split, file, path, entries in splits:
            layout.reading(path)
            for index, parsed in enumerate(entries):
                if isinstance(parsed, str):
                    yield Skip(f"{file}[{index}]", parsed)
                    continue
                emotion, image_id, image_path = parsed
                if emotion not in labels:
                    yield Skip(image_id, f"emotion {emotion!r} is not one of Mikels' 8 ({', '.join(labels)})")
                    continue
                relative = media_file(layout, image_dir, image_path, image_id, strip=IMAGE_DIRS)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield from emotion_records(self.name, split, image_id, relative, "image", labels, emotion)
