from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.safe_pickle import UnsafePickleError

from .helpers import by_id, collect, skip_reasons, summary, write_clip


def dump(path, data, protocol=2):
    path.write_bytes(pickle.dumps(data, protocol=protocol))


class _Exploit:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def write_urfunny(parent: Path) -> Path:
    """The V2 feature pickles in their own folder (``sdk_features/``), ``urfunny2_videos/`` beside it."""
    features = parent / "sdk_features"
    features.mkdir(parents=True)
    dump(features / "data_folds.pkl", {"train": [10837, 2, 3], "dev": [np.int64(44)], "test": [5, 6]})
    dump(features / "humor_label_sdk.pkl", {10837: 1, 2: 0, 3: 1, 44: np.float64(1.0), 5: 0, 6: 7, 99: 1})
    language = {
        i: {
            "punchline_sentence": f"punchline {i}",
            "context_sentences": ["first context", "second context"],
            "punchline_embedding_indexes": [1, 2],
            "punchline_intervals": np.array([[0.0, 0.3], [0.3, 0.8]]),
        }
        for i in (10837, 2, 44, 5, 6, 99)
    }
    language[3] = {"context_sentences": ["no punchline here"]}
    dump(features / "language_sdk.pkl", language)
    (features / "word_embedding_list.pkl").write_bytes(b"unused")
    for i in (10837, 3, 44, 5, 6, 99):
        write_clip(parent / "urfunny2_videos" / f"{i}.mp4")
    return parent


@pytest.fixture
def urfunny_root(tmp_path):
    return write_urfunny(tmp_path / "downloads")


def test_urfunny_feature_folder_and_videos_beside_it(urfunny_root):
    source = get_source("urfunny")
    records, skips = collect(source, urfunny_root)
    assert summary(records) == {
        "urfunny-train-10837": ("train", "yes", "urfunny2_videos/10837.mp4"),
        "urfunny-val-44": ("val", "yes", "urfunny2_videos/44.mp4"),
        "urfunny-test-5": ("test", "no", "urfunny2_videos/5.mp4"),
    }
    record = by_id(records)["urfunny-train-10837"]
    assert (record.task, record.modality, record.text) == ("humor", "video", "punchline 10837")
    assert (
        record.question
        == 'Is the given video humorous? Answer yes or no. The accompanying text is: "punchline 10837".'
    )
    reasons = skip_reasons(skips)
    assert reasons["2"] == "media file not found: urfunny2_videos/2.mp4"
    assert "no punchline_sentence" in reasons["3"]
    assert "no 0/1 label" in reasons["6"]
    # A labelled sample that no fold lists is reported, not dropped unseen.
    assert reasons["99"] == "labelled in humor_label_sdk.pkl but in no fold of data_folds.pkl"
    assert source.file_counts == {
        "sdk_features/data_folds.pkl": {"records": 3, "skipped": 3},
        "sdk_features/humor_label_sdk.pkl": {"records": 0, "skipped": 1},
    }


def test_urfunny_root_at_the_feature_folder_names_the_videos_outside_it(urfunny_root):
    with pytest.raises(FileNotFoundError) as info:
        list(get_source("urfunny").iter_samples(urfunny_root / "sdk_features"))
    assert (
        f"found {urfunny_root.resolve() / 'urfunny2_videos'} outside --root: pass --root {urfunny_root.resolve()}"
        in str(info.value)
    )
    records, _ = collect(
        get_source("urfunny"), urfunny_root / "sdk_features", media_root=urfunny_root / "urfunny2_videos"
    )
    assert summary(records)["urfunny-train-10837"] == ("train", "yes", "10837.mp4")


def test_urfunny_refuses_a_tampered_pickle(urfunny_root):
    marker = urfunny_root / "pwned"
    dump(urfunny_root / "sdk_features" / "humor_label_sdk.pkl", {10837: _Exploit(f"touch {marker}")})
    with pytest.raises(UnsafePickleError, match=r"humor_label_sdk\.pkl: refused to load"):
        list(get_source("urfunny").iter_samples(urfunny_root))
    assert not marker.exists()


def test_urfunny_missing_pickle_is_named(urfunny_root):
    (urfunny_root / "sdk_features" / "language_sdk.pkl").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"urfunny: no release under .*sdk_features/ has data_folds\.pkl, humor_label_sdk\.pkl but not "
        r"language_sdk\.pkl; get it from https://github.com/ROC-HCI",
    ):
        get_source("urfunny").check_layout(urfunny_root)
