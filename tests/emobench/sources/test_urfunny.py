from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.safe_pickle import UnsafePickleError

from .helpers import by_id, collect, skip_reasons, write_clip


def dump(path, data, protocol=2):
    path.write_bytes(pickle.dumps(data, protocol=protocol))


class _Exploit:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture
def urfunny_root(tmp_path):
    dump(tmp_path / "data_folds.pkl", {"train": [10837, 2, 3], "dev": [np.int64(44)], "test": [5, 6]})
    dump(tmp_path / "humor_label_sdk.pkl", {10837: 1, 2: 0, 3: 1, 44: np.float64(1.0), 5: 0, 6: 7})
    language = {
        i: {
            "punchline_sentence": f"punchline {i}",
            "context_sentences": ["first context", "second context"],
            "punchline_embedding_indexes": [1, 2],
            "punchline_intervals": np.array([[0.0, 0.3], [0.3, 0.8]]),
        }
        for i in (10837, 2, 44, 5, 6)
    }
    language[3] = {"context_sentences": ["no punchline here"]}
    dump(tmp_path / "language_sdk.pkl", language)
    for i in (10837, 3, 44, 5, 6):
        write_clip(tmp_path / "urfunny2_videos" / f"{i}.mp4")
    return tmp_path


def test_urfunny_pickles_become_humor_records(urfunny_root):
    records, skips = collect(get_source("urfunny"), urfunny_root)
    records = by_id(records)
    assert set(records) == {"urfunny-train-10837", "urfunny-val-44", "urfunny-test-5"}
    record = records["urfunny-train-10837"]
    assert (record.task, record.modality, record.answer) == ("humor", "video", "yes")
    assert record.media == "urfunny2_videos/10837.mp4" and record.text == "punchline 10837"
    assert (
        record.question
        == 'Is the given video humorous? Answer yes or no. The accompanying text is: "punchline 10837".'
    )
    assert records["urfunny-val-44"].answer == "yes" and records["urfunny-test-5"].answer == "no"
    reasons = skip_reasons(skips)
    assert "media file not found: urfunny2_videos/2.mp4" in reasons["2"]
    assert "no punchline_sentence" in reasons["3"]
    assert "no 0/1 label" in reasons["6"]


def test_urfunny_refuses_a_tampered_pickle(urfunny_root):
    marker = urfunny_root / "pwned"
    dump(urfunny_root / "humor_label_sdk.pkl", {10837: _Exploit(f"touch {marker}")})
    with pytest.raises(UnsafePickleError, match=r"humor_label_sdk\.pkl: refused to load"):
        list(get_source("urfunny").iter_samples(urfunny_root))
    assert not marker.exists()


def test_urfunny_missing_pickle_is_named(urfunny_root):
    (urfunny_root / "language_sdk.pkl").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"urfunny: missing .*language_sdk\.pkl; get it from https://github.com/ROC-HCI",
    ):
        get_source("urfunny").check_layout(urfunny_root)
