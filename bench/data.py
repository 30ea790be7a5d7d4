"""Wall time of ``emollm data build`` on a source release as it unpacks, and the ``--workers`` speed-up
of ``--check-media decode``.

1. Build: writes MELD's release layout at its real size (13,708 utterances: ``train_sent_emo.csv``,
   ``dev_sent_emo.csv``, ``test_sent_emo.csv`` with MELD's columns, and one clip file per row under
   ``train/train_splits/`` ...; the clips are small placeholder files, since the default check only
   stats them) and times the real ``build_source("meld", ...)`` with the default
   ``--check-media exists``: the registered adapter parses the CSVs, every clip is stat'ed, the
   records file, views, LLaVA JSON and summary are written. Headline: wall-clock seconds.
2. Decode checks: a small MELD release whose clips are real H.264 videos (480p, 3 s, 30 fps, like
   MELD's utterances), built with ``--check-media decode`` by 1 worker and by ``--workers N``, the
   frame cache off (every check decodes), one warm-up build each, then alternated rounds. Asserts
   both write the same records and skips; the last line prints the wall-time ratio.

Run: ``.venv/bin/python bench/data.py [--utterances 13708] [--clips 24] [--workers 2] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from emollm_plugin.emobench import frame_cache
from emollm_plugin.emobench.build import build_source
from emollm_plugin.emobench.synth import write_video

HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
          "Season", "Episode", "StartTime", "EndTime"]
EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")
#: MELD's split sizes (utterances): train, dev, test.
SPLITS = {"train": 9989, "dev": 1109, "test": 2610}
CSV = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
CLIPS = {"train": "train/train_splits", "dev": "dev/dev_splits_complete", "test": "test/output_repeated_splits_test"}


def write_meld(parent: Path, utterances: int, clip: Path | None = None) -> Path:
    """``parent/MELD.Raw`` with ``utterances`` rows over the three splits (MELD's proportions).

    Each clip is a copy of ``clip`` (a real video) or, without it, a 44-byte placeholder.
    """
    top = parent / "MELD.Raw"
    total = sum(SPLITS.values())
    placeholder = b"\x00\x00\x00\x18ftypmp42" + bytes(32)
    for split, size in SPLITS.items():
        count = max(1, round(utterances * size / total))
        folder = top / CLIPS[split]
        folder.mkdir(parents=True, exist_ok=True)
        with (top / CSV[split]).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for n in range(count):
                dialogue, utterance = divmod(n, 12)
                writer.writerow([n + 1, f"Line {n} of dialogue {dialogue}, isn't it?", "Rachel",
                                 EMOTIONS[n % len(EMOTIONS)], "neutral", dialogue, utterance, 3, 19,
                                 "00:14:38,127", "00:14:40,378"])
                target = folder / f"dia{dialogue}_utt{utterance}.mp4"
                if clip is None:
                    target.write_bytes(placeholder)
                else:
                    shutil.copyfile(clip, target)
    return parent


def make_clip(seed: int, width: int = 854, height: int = 480, frames: int = 90) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    blocks = rng.integers(0, 256, (-(-height // 8), -(-width // 8), 3), dtype=np.uint8)
    base = blocks.repeat(8, 0).repeat(8, 1)[:height, :width]
    for t in range(frames):
        clip[t] = np.roll(base, shift=4 * t, axis=1)
    return clip


def bench_build(tmp: Path, utterances: int) -> None:
    root = write_meld(tmp / "meld_release", utterances)
    out = tmp / "out_exists"
    start, start_cpu = time.perf_counter(), time.process_time()
    result = build_source("meld", root, out, progress=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    size = sum(p.stat().st_size for p in (root / "MELD.Raw").glob("*.csv"))
    print(f"build meld (--check-media exists): {utterances} CSV rows ({size / 1e6:.1f} MB of CSV) -> "
          f"{result.total} records, {len(result.skipped)} skipped, in {wall:.2f} s wall ({cpu:.2f} s CPU): "
          f"{result.total / wall:,.0f} records/s")


def bench_decode(tmp: Path, clips: int, workers: int, repeats: int) -> float:
    clip = tmp / "clip.mp4"
    write_video(clip, make_clip(0), fps=30, crf=23, preset="veryfast", threads=0)
    root = write_meld(tmp / "meld_clips", clips, clip=clip)
    arms = {1: [], workers: []}
    outputs = {}

    def run(n: int, tag: str) -> float:
        out = tmp / f"out_decode_{n}_{tag}"
        start = time.perf_counter()
        build_source("meld", root, out, check_media="decode", workers=n, progress=False, fresh=True)
        elapsed = time.perf_counter() - start
        outputs[n] = ((out / "records" / "meld.jsonl").read_text(), (out / "skipped" / "meld.jsonl").read_text())
        shutil.rmtree(out)
        return elapsed

    for n in arms:
        run(n, "warmup")
    for round_ in range(repeats):
        for n in list(arms) if round_ % 2 == 0 else list(arms)[::-1]:
            arms[n].append(run(n, str(round_)))
    assert outputs[1] == outputs[workers], "--workers changed the records or skips"
    one, many = statistics.median(arms[1]), statistics.median(arms[workers])
    count = outputs[1][0].count("\n")
    print(f"build meld --check-media decode, {clips} real clips ({count} records), frame cache off, "
          f"{os.cpu_count()} cores: 1 worker {one:.2f} s, {workers} workers {many:.2f} s (medians of {repeats}); "
          "same records and skips")
    return one / many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=13_708, help="MELD rows for the build timing (13708)")
    parser.add_argument("--clips", type=int, default=24, help="real clips for the decode-check timing (24)")
    parser.add_argument("--workers", type=int, default=2, help="workers against 1 (2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of the decode arms (3)")
    args = parser.parse_args()
    os.environ[frame_cache.ENV_DIR] = "off"  # every decode check decodes (worker processes inherit it)
    with tempfile.TemporaryDirectory() as tmp:
        bench_build(Path(tmp), args.utterances)
        ratio = bench_decode(Path(tmp), args.clips, args.workers, args.repeats)
    print(f"decode-check speed-up with --workers {args.workers}: {ratio:.2f}x wall time (1 worker / {args.workers})")


if __name__ == "__main__":
    main()
