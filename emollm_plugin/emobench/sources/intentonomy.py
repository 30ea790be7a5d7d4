"""Intentonomy (Jia et al., CVPR 2021): 14K Unsplash images annotated with 28 human intents.

Release layout (annotation files from the Cornell Box links in
https://github.com/KMnP/intentonomy/blob/master/DATA.md; images fetched from Unsplash with the
repository's download script, ``--anno-root annotations --image-root images``)::

    annotations/intentonomy_train2020.json  intentonomy_val2020.json  intentonomy_test2020.json
        {"categories": [{"id": 0, "name": "Attractive"}, ...],
         "images": [{"id": str, "filename": str, "original_id": str, "unsplash_url": str}, ...],
         "annotations": [{"id": int, "image_id": str,
                          "category_ids": [int],              # val / test
                          "category_ids_softprob": [float]}]} # train: 28 shares, x/3 per label
    images/<filename>

The ``images/`` folder (the download script's ``--image-root``) is found beside ``annotations/``
or anywhere under the root; pass ``--media-root`` when it was downloaded somewhere else.

Intentonomy is multi-label; EmoBench's intent question has one answer. An image is used when its
label is unambiguous: exactly one ``category_ids`` entry (val/test), or a single highest
``category_ids_softprob`` share (train). Other images become Skips that say so, as do images
listed without any annotation. The CamelCase category names are shown to the model as short
phrases (``INTENT_PHRASES``), in category order.
The official split is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import clean_id, media_file, option_record, read_json
from emollm_plugin.emobench.sources.locate import Layout

#: Release category name -> the phrase used as option and answer (no commas: options are comma-joined).
INTENT_PHRASES: dict[str, str] = {
    "Attractive": "be attractive",
    "BeatCompete": "beat or compete",
    "Communicate": "communicate",
    "CreativeUnique": "be creative and unique",
    "CuriousAdventurousExcitingLife": "curious and adventurous life",
    "EasyLife": "easy life",
    "EnjoyLife": "enjoy life",
    "FineDesignLearnArt-Arch": "appreciate architecture",
    "FineDesignLearnArt-Art": "appreciate art",
    "FineDesignLearnArt-Culture": "learn about culture",
    "GoodParentEmoCloseChild": "good parenting",
    "Happy": "be happy",
    "HardWorking": "work hard",
    "Harmony": "harmony",
    "Health": "health",
    "InLove": "in love",
    "InLoveAnimal": "love animals",
    "InspirOthrs": "inspire others",
    "ManagableMakePlan": "plan and manage",
    "NatBeauty": "natural beauty",
    "PassionAbSmthing": "passion for something",
    "Playful": "be playful",
    "ShareFeelings": "share feelings",
    "SocialLifeFriendship": "social life and friendship",
    "SuccInOccupHavGdJob": "career success",
    "TchOthrs": "teach others",
    "ThngsInOrdr": "things in order",
    "WorkILike": "do work I like",
}
#: The 28 options, in the release's category order.
INTENTONOMY28: tuple[str, ...] = tuple(INTENT_PHRASES.values())

_SPLITS = (
    ("train", "annotations/intentonomy_train2020.json"),
    ("val", "annotations/intentonomy_val2020.json"),
    ("test", "annotations/intentonomy_test2020.json"),
)
IMAGE_DIRS = ("images",)


def single_category(annotation: dict) -> int | str:
    """The one category id of an annotation, or the reason there is not exactly one."""
    ids = annotation.get("category_ids")
    if isinstance(ids, list) and ids:
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return "category_ids holds non-integer values"
        unique = sorted(set(ids))
        return (
            unique[0]
            if len(unique) == 1
            else f"multi-label ({len(unique)} intents); the question has one answer"
        )
    # Training files store one share per category, at the position of its id.
    shares = annotation.get("category_ids_softprob")
    if isinstance(shares, list) and shares and all(isinstance(s, int | float) for s in shares):
        best = max(shares)
        winners = [index for index, share in enumerate(shares) if share == best]
        if best <= 0:
            return "no intent has a positive share"
        return winners[0] if len(winners) == 1 else f"tied top intents ({len(winners)}); no single label"
    return "no category_ids or category_ids_softprob"


def _load(path: Path) -> dict:
    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("categories", "images", "annotations")
    ):
        raise SourceError(f"{path}: expected a COCO-style object with categories, images, annotations")
    return data


@register_source
class Intentonomy(SourceAdapter):
    name = "intentonomy"
    tasks = ("intent",)
    modalities = ("image",)
    description = "Intentonomy: 14K Unsplash images with 28 human-intent categories (single-label subset)."
    homepage = "https://github.com/KMnP/intentonomy (DATA.md: annotation links and image download script)"
    licence = "Annotations CC BY 4.0; images under the Unsplash licence (owners keep copyright)."
    expected_layout = (
        "  annotations/intentonomy_train2020.json, intentonomy_val2020.json, intentonomy_test2020.json\n"
        "  images/<filename>  (filename as in each annotation file's 'images' list)"
    )
    required_files = tuple((file,) for _, file in _SPLITS)

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        files = [(split, file, layout.path((file,))) for split, file in _SPLITS]
        loaded = {file: _load(path) for _, file, path in files}
        probe = (
            image["filename"].strip()
            for data in loaded.values()
            for image in data["images"]
            if isinstance(image, dict)
            and isinstance(image.get("filename"), str)
            and image["filename"].strip()
        )
        image_dir = layout.media_dir(IMAGE_DIRS, probe)
        for split, file, path in files:
            layout.reading(path)
            data = loaded[file]
            names = {
                c["id"]: c["name"]
                for c in data["categories"]
                if isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str)
            }
            images = {
                i["id"]: i
                for i in data["images"]
                if isinstance(i, dict) and isinstance(i.get("id"), str | int)
            }
            annotated: set[str | int] = set()
            for index, annotation in enumerate(data["annotations"]):
                image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
                if not isinstance(image_id, str | int) or image_id not in images:
                    yield Skip(f"{file}[{index}]", "annotation without a matching image entry")
                    continue
                annotated.add(image_id)
                image = images[image_id]
                native_id = clean_id(image_id)
                category = single_category(annotation)
                if isinstance(category, str):
                    yield Skip(native_id, category)
                    continue
                phrase = INTENT_PHRASES.get(names.get(category, ""))
                if phrase is None:
                    yield Skip(
                        native_id,
                        f"category {category} ({names.get(category)!r}) is not one of the 28 intents",
                    )
                    continue
                filename = image.get("filename")
                if not isinstance(filename, str) or not filename.strip():
                    yield Skip(native_id, "image entry has no filename")
                    continue
                relative = media_file(layout, image_dir, filename, native_id)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield option_record(
                    "intent", self.name, split, native_id, relative, "image", INTENTONOMY28, phrase
                )
            for image_id in sorted(images.keys() - annotated, key=str):
                yield Skip(clean_id(image_id), "image listed without an annotation")
