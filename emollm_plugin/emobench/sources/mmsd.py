"""MMSD2.0 (Qin et al., ACL 2023): ~24K tweets (image + text) labelled sarcastic or not.

Release layout: the ``data/`` folder of https://github.com/JoeYing1019/MMSD2.0, with the images
(four Google Drive zips linked from its README) unzipped into ``dataset_image/``::

    data/text_json_final/train.json  valid.json  test.json    MMSD2.0 (the corrected labels)
        [{"image_id": 915657464401580032, "text": "whew ... so why are you using a car ?", "label": 1}, ...]
    data/text_json_clean/...                                    the original MMSD (Cai et al., 2019)
    data/dataset_image/<image_id>.jpg

``dataset_image/`` is found beside the text folders or anywhere under the root.

Adapter ``mmsd2`` reads ``text_json_final``; adapter ``mmsd`` reads the original labels in
``text_json_clean`` over the same images. The official split is kept (valid -> val); label 1
is sarcastic ("yes"); the tweet goes into ``text``.
"""

from __future__ import annotations

from collections.abc import Iterator

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import (
    clean_id,
    clean_text,
    media_file,
    parse_binary,
    read_json,
    yes_no_record,
)
from emollm_plugin.emobench.sources.locate import Layout

_SPLITS = (("train", "train.json"), ("val", "valid.json"), ("test", "test.json"))
IMAGE_DIRS = ("dataset_image",)
_HOMEPAGE = "https://github.com/JoeYing1019/MMSD2.0 (text in data/; images via the README's Drive links)"
_LICENCE = "Research use; tweets and images come from Twitter/X and stay under its terms. No licence file in the repository."


def _layout(text_dir: str) -> str:
    return (
        f"  data/{text_dir}/train.json, valid.json, test.json  ([{{image_id, text, label}}, ...])\n"
        "  data/dataset_image/<image_id>.jpg"
    )


def _required(text_dir: str) -> tuple[tuple[str, ...], ...]:
    return tuple((f"{text_dir}/{file}",) for _, file in _SPLITS)


@register_source
class MMSD2(SourceAdapter):
    name = "mmsd2"
    tasks = ("sarcasm",)
    modalities = ("image",)
    description = "MMSD2.0: ~24K image+text tweets with corrected sarcasm labels."
    homepage = _HOMEPAGE
    licence = _LICENCE
    text_dir: str = "text_json_final"
    expected_layout = _layout("text_json_final")
    required_files = _required("text_json_final")

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        files = []
        for split, file in _SPLITS:
            path = layout.path((f"{self.text_dir}/{file}",))
            entries = read_json(path)
            if not isinstance(entries, list):
                raise SourceError(f"{path}: expected a JSON list of tweets, got {type(entries).__name__}")
            files.append((split, file, path, entries))
        probe = (
            f"{entry['image_id']}.jpg"
            for *_, entries in files
            for entry in entries
            if isinstance(entry, dict) and entry.get("image_id") not in (None, "")
        )
        image_dir = layout.media_dir(IMAGE_DIRS, probe)
        for split, file, path, entries in files:
            layout.reading(path)
            for index, entry in enumerate(entries):
                key = f"{self.text_dir}/{file}[{index}]"
                if not isinstance(entry, dict) or entry.get("image_id") in (None, ""):
                    yield Skip(key, "entry has no 'image_id'")
                    continue
                native_id = clean_id(entry["image_id"])
                flag = parse_binary(entry.get("label"))
                if flag is None:
                    yield Skip(native_id, "label is missing or not 0/1")
                    continue
                text = clean_text(entry.get("text"))
                if text is None:
                    yield Skip(native_id, "missing tweet 'text'")
                    continue
                relative = media_file(layout, image_dir, f"{entry['image_id']}.jpg", native_id)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield yes_no_record("sarcasm", self.name, split, native_id, relative, "image", flag, text)


@register_source
class MMSD(MMSD2):
    name = "mmsd"
    description = (
        "MMSD (Cai et al., 2019): the original multimodal sarcasm tweets, before the 2.0 corrections."
    )
    text_dir = "text_json_clean"
    expected_layout = _layout("text_json_clean")
    required_files = _required("text_json_clean")
