"""The shared frame sampler (decord) against lmms-eval's ``read_video`` (PyAV), on the same clips.

Generates ~10 s H.264 clips (30 fps, crf 23) at 480p and 720p with PyAV into a temporary folder, then times, per
clip, ``emollm_plugin.emobench.media.load_frames`` (what training and the EmoLLM evaluator use,
PIL images out) and ``lmms_eval.models.model_utils.load_video.read_video`` (lmms-eval's default
video reader, numpy out), both taking 8 uniformly sampled frames. Also checks that both return
the same frames (same indices, pixel difference).

Run: ``.venv/bin/python bench/video.py [--clips 2] [--repeats 5] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from emollm_plugin.emobench.media import load_frames
from emollm_plugin.emobench.synth import write_video

RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720)}


def make_clip(width: int, height: int, seconds: float, fps: int, seed: int) -> np.ndarray:
    """A moving gradient with a bright square: cheap to make, not trivial to encode."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * fps)
    xx = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    yy = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    base = np.stack([xx + 0 * yy, yy + 0 * xx, (xx + yy) / 2], axis=-1)
    tint = rng.uniform(0.5, 1.0, 3).astype(np.float32)
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    side = height // 6
    for t in range(frames):
        frame = np.roll(base, shift=t * 4, axis=1) * tint
        x = (t * 7) % (width - side)
        y = (t * 3) % (height - side)
        frame[y : y + side, x : x + side] = 250
        clip[t] = frame.astype(np.uint8)
    return clip


def time_pair(first, second, repeats: int) -> tuple[float, object, float, object]:
    """Median times of two readers, run alternately so both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    for _ in range(repeats):
        for k, fn in enumerate((first, second)):
            start = time.perf_counter()
            results[k] = fn()
            times[k].append(time.perf_counter() - start)
    return statistics.median(times[0]), results[0], statistics.median(times[1]), results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2, help="clips per resolution (2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per clip and reader; median (5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (10)")
    parser.add_argument("--fps", type=int, default=30, help="clip frame rate (30)")
    parser.add_argument("--frames", type=int, default=8, help="frames sampled per clip (8)")
    args = parser.parse_args()

    from lmms_eval.models.model_utils.load_video import read_video

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height) in RESOLUTIONS.items():
            for i in range(args.clips):
                path = Path(tmp) / f"{name}_{i}.mp4"
                start = time.perf_counter()
                clip = make_clip(width, height, args.seconds, args.fps, seed=i)
                write_video(path, clip, fps=args.fps, crf=23, preset="veryfast", threads=0)
                made = time.perf_counter() - start
                ours_t, ours, theirs_t, theirs = time_pair(
                    lambda p=path: load_frames(p, num_frames=args.frames),
                    lambda p=path: read_video(str(p), num_frm=args.frames, backend="pyav"),
                    args.repeats,
                )
                ours_arr = np.stack([np.asarray(f) for f in ours])
                diff = (
                    float(np.abs(ours_arr.astype(np.int16) - theirs.astype(np.int16)).mean())
                    if ours_arr.shape == theirs.shape
                    else float("nan")
                )
                rows.append((name, i, made, ours_t, len(ours), theirs_t, len(theirs), diff))
                print(f"{name} clip {i}: encoded in {made:.1f} s", flush=True)

    print()
    print(
        f"{'clip':<10} {'shared sampler (decord)':>26} {'lmms-eval read_video (PyAV)':>30} {'ratio':>7} {'mean |diff|':>12}"
    )
    for name, i, _, ours_t, n_ours, theirs_t, n_theirs, diff in rows:
        print(
            f"{name} #{i:<5} {ours_t:>9.3f} s/clip {n_ours / ours_t:>7.1f} f/s "
            f"{theirs_t:>11.3f} s/clip {n_theirs / theirs_t:>7.1f} f/s {ours_t / theirs_t:>7.2f} {diff:>12.2f}"
        )
    for name in RESOLUTIONS:
        ours = statistics.mean(r[3] for r in rows if r[0] == name)
        theirs = statistics.mean(r[5] for r in rows if r[0] == name)
        print(
            f"{name} mean: shared sampler {ours:.3f} s/clip ({args.frames / ours:.1f} frames/s), "
            f"read_video {theirs:.3f} s/clip ({args.frames / theirs:.1f} frames/s), ratio {ours / theirs:.2f}"
        )


if __name__ == "__main__":
    main()
