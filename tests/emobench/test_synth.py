"""The synthetic EmoBench: layout, coverage, determinism, and labels learnable from the pixels."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.emobench.media import load_frames, load_image
from emollm_plugin.emobench.records import read_records
from emollm_plugin.emobench.synth import SYNTH_LABELS, synthesize
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS
from emollm_plugin.emobench.validate import validate


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("synth") / "bench", per_task=12, test_per_task=12, seed=3, frames=4
    )


def test_every_task_has_both_splits_and_modalities(small: Path) -> None:
    for split in ("train", "test"):
        for task in TASKS:
            records = read_records(small / split / f"{task}.jsonl")
            assert len(records) == 12
            assert {r.modality for r in records} == {"image", "video"}
            assert {r.split for r in records} == {split}
            # every label occurs, each with both modalities
            by_label = {(r.answer, r.modality) for r in records}
            assert by_label == {(label, m) for label in SYNTH_LABELS[task] for m in ("image", "video")}


def test_records_and_media_are_valid(small: Path) -> None:
    report = validate(small, num_frames=4, progress=False, echo=False)
    assert report.ok, report.problems
    assert report.records == 6 * 24
    assert report.media_checked == 6 * 24


def test_task_specifics(small: Path) -> None:
    emo_o = read_records(small / "test" / "emo_o.jsonl")
    assert all(tuple(r.options) == LABEL_SETS["ekman6"] for r in emo_o)  # hidden label set
    assert all("anger" not in r.question for r in emo_o)  # ... not shown in the question
    emo_c = read_records(small / "test" / "emo_c.jsonl")
    assert all("anger, disgust" in r.question for r in emo_c)
    intent = read_records(small / "test" / "intent.jsonl")
    assert "ask for help" in {r.answer for r in intent}
    for task in ("hate", "humor", "sarcasm"):
        for record in read_records(small / "train" / f"{task}.jsonl"):
            assert record.text and f'"{record.text}"' in record.question
            assert record.answer in ("yes", "no")


def test_llava_json_points_at_real_files(small: Path) -> None:
    entries = json.loads((small / "llava" / "train.json").read_text())
    assert len(entries) == 6 * 12
    for entry in entries:
        key = "image" if "image" in entry else "video"
        assert (small / entry[key]).is_file()
        human, gpt = entry["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n")
        assert gpt["from"] == "gpt" and gpt["value"] in entry["options"]


def test_deterministic_given_the_seed(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", per_task=4, test_per_task=2, seed=7, frames=3)
    b = synthesize(tmp_path / "b", per_task=4, test_per_task=2, seed=7, frames=3)
    c = synthesize(tmp_path / "c", per_task=4, test_per_task=2, seed=8, frames=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert any(p.suffix == ".mp4" for p in files)
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    media = [rel for rel in files if rel.suffix in (".png", ".mp4")]
    assert sum((a / rel).read_bytes() != (c / rel).read_bytes() for rel in media) == len(media)


def test_rerun_replaces_old_media(tmp_path: Path) -> None:
    out = synthesize(tmp_path / "s", per_task=6, test_per_task=2, frames=2)
    synthesize(out, per_task=2, test_per_task=1, frames=2)
    assert len([p for p in (out / "media").rglob("*") if p.is_file()]) == 6 * 3
    assert sum(1 for _ in (out / "records" / "synth.jsonl").open()) == 6 * 3


def _features(root: Path, record) -> np.ndarray:
    """Median colour of the image, or of the first decoded frame of the video."""
    path = root / record.media
    image = load_image(path) if record.modality == "image" else load_frames(path, num_frames=2)[0]
    return np.median(np.asarray(image, dtype=np.float32).reshape(-1, 3), axis=0)


def test_labels_are_learnable_from_pixels(small: Path) -> None:
    """A nearest-colour classifier fit on train predicts held-out labels of every task."""
    for task in TASKS:
        train = read_records(small / "train" / f"{task}.jsonl")
        test = read_records(small / "test" / f"{task}.jsonl")
        centroids = {}
        for label in SYNTH_LABELS[task]:
            centroids[label] = np.mean([_features(small, r) for r in train if r.answer == label], axis=0)
        hits = 0
        for record in test:
            feats = _features(small, record)
            guess = min(centroids, key=lambda label: np.linalg.norm(centroids[label] - feats))
            hits += guess == record.answer
        assert hits / len(test) >= 0.9, task


def test_default_size_is_small_and_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    out = synthesize(tmp_path / "default")
    assert time.perf_counter() - start < 30
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"] == {"train": 6 * 40, "test": 6 * 20}
    assert Counter({t: e["records"] for t, e in summary["tasks"].items()}) == Counter(
        dict.fromkeys(TASKS, 60)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"per_task": 0}, "per_task"), ({"size": 48}, "multiple of 32"), ({"frames": 0}, "frames")],
)
def test_bad_options(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        synthesize(tmp_path / "x", **kwargs)
