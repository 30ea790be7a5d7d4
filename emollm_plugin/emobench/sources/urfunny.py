"""UR-FUNNY V2 (Hasan et al., EMNLP 2019): TED-talk punchline clips labelled humorous or not.

Release layout (https://github.com/ROC-HCI/UR-FUNNY, V2: the "extracted features" Dropbox folder,
saved e.g. as ``sdk_features/``, and ``urfunny2_videos.zip`` unpacked beside it)::

    sdk_features/data_folds.pkl        {"train": [id, ...], "dev": [...], "test": [...]}
    sdk_features/humor_label_sdk.pkl   {id: 1 or 0}           1 = the punchline is humorous
    sdk_features/language_sdk.pkl      {id: {"punchline_sentence": str, "context_sentences": [str, ...],
                                             "punchline_embedding_indexes": ..., ...}}
    (covarep_features_sdk.pkl, openface_features_sdk.pkl, word_embedding_list.pkl: unused)
    urfunny2_videos/<id>.mp4

The feature folder's name does not matter (the pickles are searched for), and the clip folder
may sit beside the pickles, beside their folder or anywhere under the root. A labelled id that
no fold of ``data_folds.pkl`` lists becomes a Skip that says so.

The pickles are read with :mod:`safe_pickle`, never with ``pickle.load``: only plain containers
and NumPy arrays/scalars (the word intervals may be arrays) are admitted, so a tampered file is
refused instead of executed. The official split is kept (dev -> val); the punchline goes into
``text``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from pathlib import Path

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import (
    clean_id,
    clean_text,
    clip_path,
    parse_binary,
    yes_no_record,
)
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.sources.safe_pickle import load_restricted

_SPLITS = (("train", "train"), ("val", "dev"), ("test", "test"))
CLIP_DIRS = ("urfunny2_videos", "videos")


def _plain_id(sample_id: object) -> str:
    """``"10837"`` for 10837, numpy.int64(10837) or 10837.0; other ids as their string."""
    if isinstance(sample_id, str):
        return sample_id.strip()
    try:
        as_float = float(sample_id)
    except (TypeError, ValueError):
        return str(sample_id)
    return str(int(as_float)) if as_float.is_integer() else str(sample_id)


def _scalar(sample_id: object) -> bool:
    """A usable id: a number or string, not a container (an array is unhashable, so not a key)."""
    return isinstance(sample_id, Hashable) and not isinstance(sample_id, tuple | frozenset)


def _load_dict(path: Path) -> dict:
    data = load_restricted(path, allow_numpy=True)
    if not isinstance(data, dict):
        raise SourceError(f"{path}: expected a dict keyed by sample id, got {type(data).__name__}")
    return data


@register_source
class URFunny(SourceAdapter):
    name = "urfunny"
    tasks = ("humor",)
    modalities = ("video",)
    description = "UR-FUNNY V2: ~10K TED-talk punchline clips labelled humorous or not."
    homepage = "https://github.com/ROC-HCI/UR-FUNNY (V2 features folder and urfunny2_videos.zip)"
    licence = "No licence stated in the repository; research use. Clips are TED talks (CC BY-NC-ND 4.0)."
    expected_layout = (
        "  sdk_features/data_folds.pkl       ({'train': [ids], 'dev': [ids], 'test': [ids]})\n"
        "  sdk_features/humor_label_sdk.pkl  ({id: 0 or 1})\n"
        "  sdk_features/language_sdk.pkl     ({id: {'punchline_sentence': ..., 'context_sentences': [...]}})\n"
        "  urfunny2_videos/<id>.mp4"
    )
    required_files = (("data_folds.pkl",), ("humor_label_sdk.pkl",), ("language_sdk.pkl",))

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        folds_path = layout.path(("data_folds.pkl",))
        folds = _load_dict(folds_path)
        labels = _load_dict(layout.path(("humor_label_sdk.pkl",)))
        language = _load_dict(layout.path(("language_sdk.pkl",)))
        layout.reading(folds_path)
        listed: set = set()
        for _, fold in _SPLITS:
            ids = folds.get(fold)
            if not isinstance(ids, list | tuple):
                raise SourceError(f"{folds_path}: no list of ids under {fold!r}")
            listed.update(sample_id for sample_id in ids if _scalar(sample_id))
        probe = (f"{_plain_id(i)}.mp4" for _, fold in _SPLITS for i in folds[fold] if _scalar(i))
        clip_dir = layout.media_dir(CLIP_DIRS, probe)
        for split, fold in _SPLITS:
            for sample_id in folds[fold]:
                key = _plain_id(sample_id)
                if not _scalar(sample_id):
                    yield Skip(key, "id in data_folds.pkl is not a scalar")
                    continue
                flag = parse_binary(labels.get(sample_id))
                if flag is None:
                    yield Skip(key, "no 0/1 label in humor_label_sdk.pkl")
                    continue
                entry = language.get(sample_id)
                text = clean_text(entry.get("punchline_sentence")) if isinstance(entry, dict) else None
                if text is None:
                    yield Skip(key, "no punchline_sentence in language_sdk.pkl")
                    continue
                relative = clip_path(layout, clip_dir, key)
                if isinstance(relative, Skip):
                    yield relative
                    continue
                yield yes_no_record("humor", self.name, split, clean_id(key), relative, "video", flag, text)
        layout.reading(layout.path(("humor_label_sdk.pkl",)))
        for sample_id in labels:
            if sample_id not in listed:
                yield Skip(
                    _plain_id(sample_id), "labelled in humor_label_sdk.pkl but in no fold of data_folds.pkl"
                )
