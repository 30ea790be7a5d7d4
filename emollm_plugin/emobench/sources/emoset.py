"""EmoSet-118K (Yang et al., ICCV 2023): 118,102 images, Mikels' eight emotions, official splits.

Release layout (``data_root`` of https://github.com/JingyuanYY/EmoSet, obtained through the
request form on the project page)::

    info.json                        label <-> index maps (not needed here)
    train.json  val.json  test.json  lists of [emotion, image_id, image_path, annotation_path]
    image/<emotion>/<image_id>.jpg
    annotation/<emotion>/<image_id>.json   attributes (brightness, scene, objects, ...; unused)

Each split entry looks like ``["amusement", "amusement_12865", "image/amusement/amusement_12865.jpg",
"annotation/amusement/amusement_12865.json"]``; paths are relative to ``data_root``. A three-item
entry without the id (``[emotion, image_path, annotation_path]``) is accepted too, the id then
being the image file's stem. Each image gives one emo_c and one emo_o question.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import emotion_records, media_skip, read_json
from emollm_plugin.emobench.tasks import LABEL_SETS

_SPLITS = (("train", "train.json"), ("val", "val.json"), ("test", "test.json"))


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
        "  train.json, val.json, test.json  ([emotion, image_id, image_path, annotation_path] lists)\n"
        "  image/<emotion>/<image_id>.jpg\n"
        "  annotation/<emotion>/<image_id>.json  (optional here)"
    )
    required_files = tuple((file,) for _, file in _SPLITS)

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        labels = LABEL_SETS["mikels8"]
        for split, file in _SPLITS:
            entries = read_json(root / file)
            if not isinstance(entries, list):
                raise SourceError(
                    f"{root / file}: expected a JSON list of entries, got {type(entries).__name__}"
                )
            for index, entry in enumerate(entries):
                parsed = parse_entry(entry)
                if isinstance(parsed, str):
                    yield Skip(f"{file}[{index}]", parsed)
                    continue
                emotion, image_id, image_path = parsed
                if emotion not in labels:
                    yield Skip(image_id, f"emotion {emotion!r} is not one of Mikels' 8 ({', '.join(labels)})")
                    continue
                missing = media_skip(root, image_path, image_id)
                if missing:
                    yield missing
                    continue
                yield from emotion_records(self.name, split, image_id, image_path, "image", labels, emotion)
