"""The synthetic EmoBench: layout, coverage, determinism, labels learnable from the pixels (easy) and
labels that follow the stated rules over combinations of cues (hard)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.emobench.media import load_frames, load_image
from emollm_plugin.emobench.records import read_records
from emollm_plugin.emobench.scoring import LEXICON
from emollm_plugin.emobench.synth import (
    CUES_FILE,
    EMO_O_WORDS,
    SYNTH_LABELS,
    Cues,
    hard_cues_for_label,
    label_for,
    load_cues,
    synthesize,
)
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


# --------------------------------------------------------------------------- the hard set


def _hard(task: str, colour: str = "red", figure: str = "circle", *, modality: str = "image", size: str = "large",
          figure_colour: str = "white", word: str | None = None) -> Cues:
    return Cues("hard", task, modality, colour, figure, figure_colour, size, word=word)


@pytest.mark.parametrize(
    ("cues", "label"),
    [
        # emo_c: colour family x figure family (video: motion family)
        (_hard("emo_c", "red", "circle"), "joy"), (_hard("emo_c", "yellow", "ring"), "joy"),
        (_hard("emo_c", "orange", "triangle"), "anger"), (_hard("emo_c", "red", "cross"), "surprise"),
        (_hard("emo_c", "blue", "circle"), "sadness"), (_hard("emo_c", "green", "square"), "fear"),
        (_hard("emo_c", "purple", "bar"), "disgust"),
        (_hard("emo_c", "orange", "left", modality="video"), "joy"),
        (_hard("emo_c", "blue", "up", modality="video"), "fear"),
        (_hard("emo_c", "yellow", "down and left", modality="video"), "surprise"),
        # the misleading emotion word in emo_c's text does not count
        (_hard("emo_c", "red", "circle", word="furious"), "joy"),
        # emo_o: the synonym in the text, through the lexicon
        (_hard("emo_o", word="glad"), "joy"), (_hard("emo_o", word="terrified"), "fear"),
        (_hard("emo_o", "blue", word="furious"), "anger"),
        # intent: colour family x the figure's shade (its size does not count)
        (_hard("intent", "red", figure_colour="white"), "praise"),
        (_hard("intent", "yellow", figure_colour="black", size="small"), "ask for help"),
        (_hard("intent", "blue", figure_colour="white", size="small"), "complain"),
        (_hard("intent", "green", figure_colour="black"), "apologise"),
        # hate: a hostile word and a warm background, both
        (_hard("hate", "red", word="idiots"), "yes"), (_hard("hate", "blue", word="idiots"), "no"),
        (_hard("hate", "orange", word="sunny"), "no"), (_hard("hate", "purple", word="quiet"), "no"),
        # humor: the figure's colour family differs from the background's
        (_hard("humor", "blue", figure_colour="red"), "yes"), (_hard("humor", "red", figure_colour="green"), "yes"),
        (_hard("humor", "blue", figure_colour="green"), "no"), (_hard("humor", "red", figure_colour="yellow"), "no"),
        # sarcasm: the text's valence differs from the background's (warm positive, cool negative)
        (_hard("sarcasm", "blue", word="lovely"), "yes"), (_hard("sarcasm", "red", word="awful"), "yes"),
        (_hard("sarcasm", "orange", word="great"), "no"), (_hard("sarcasm", "green", word="terrible"), "no"),
    ],
)
def test_hard_labels_follow_the_rules(cues: Cues, label: str) -> None:
    assert label_for(cues) == label


def test_emo_o_words_are_lexicon_synonyms_not_labels() -> None:
    for label, words in EMO_O_WORDS.items():
        for word in words:
            assert LEXICON[word] == label and word != label


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("hard") / "bench", per_task=12, test_per_task=6, seed=3, frames=4,
                      difficulty="hard")


def test_hard_set_records_follow_their_cues(hard: Path) -> None:
    cues = load_cues(hard)
    records = read_records(hard / "records" / "synth.jsonl")
    assert len(records) == len(cues) == 6 * 18
    for record in records:
        c = cues[record.id]
        assert (c.difficulty, c.task, c.modality) == ("hard", record.task, record.modality)
        assert label_for(c) == record.answer, record.id
        assert record.text == c.text and f'"{c.text}"' in record.question  # every hard sample has a text
        if c.word:
            assert c.word in c.text.split()
    for task in TASKS:
        train = read_records(hard / "train" / f"{task}.jsonl")
        assert {r.answer for r in train} == set(SYNTH_LABELS[task])
    report = validate(hard, num_frames=4, progress=False, echo=False)
    assert report.ok, report.problems


def test_hard_set_is_deterministic(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", per_task=6, test_per_task=1, seed=4, frames=2, difficulty="hard")
    b = synthesize(tmp_path / "b", per_task=6, test_per_task=1, seed=4, frames=2, difficulty="hard")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert Path(CUES_FILE) in files and any(p.suffix == ".mp4" for p in files)
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = synthesize(tmp_path / "c", per_task=6, test_per_task=1, seed=5, frames=2, difficulty="hard")
    assert (a / CUES_FILE).read_bytes() != (c / CUES_FILE).read_bytes()


def _single_cue_accuracy(samples: list[tuple[Cues, str]], cue: str) -> float:
    """Accuracy of the best classifier that sees one cue only (majority label per cue value)."""
    by_value: dict[object, Counter] = {}
    for cues, label in samples:
        by_value.setdefault(getattr(cues, cue), Counter())[label] += 1
    return sum(c.most_common(1)[0][1] for c in by_value.values()) / len(samples)


@pytest.mark.parametrize(("task", "ceiling"), [("emo_c", 0.55), ("intent", 0.55), ("hate", 0.87), ("humor", 0.55),
                                               ("sarcasm", 0.55)])
def test_no_single_hard_cue_gives_the_label(task: str, ceiling: float) -> None:
    """Labels need a combination of cues: one cue alone gets at most half of emo_c (figure family:
    two of six labels), chance on intent, humor and sarcasm, and 83% of hate."""
    rng = np.random.default_rng(0)
    samples = []
    for label in SYNTH_LABELS[task]:
        for i in range(600):
            modality = "image" if i % 2 else "video"
            samples.append((hard_cues_for_label(task, modality, label, rng), label))
    for cue in ("colour", "figure", "size", "figure_colour", "word", "distractor"):
        assert _single_cue_accuracy(samples, cue) <= ceiling, (task, cue)


def test_bad_difficulty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="difficulty must be one of easy, hard"):
        synthesize(tmp_path / "x", difficulty="medium")
