"""Frames per clip from the frame cache against decoding them, at 480p and 720p, side by side.

Generates ~10 s H.264 clips (30 fps, crf 23) with PyAV into a temporary folder and times
``emollm_plugin.emobench.media.load_frames`` (what training, the ``emollm`` lmms-eval model,
``emollm serve`` and the teachers call; 8 frames as RGB PIL images) on the same clip twice per
round: once with the frame cache off (``EMOLLM_FRAME_CACHE=off``: decord decodes) and once with
it on and already filled (a hit: one ``.npy`` read). One untimed warm-up call per arm fills the
cache and the page cache first; then the two arms alternate, in the opposite order each round, so
both see the same machine load. Asserts the cached frames equal the decoded ones, pixel for
pixel. The ratio is decoded time / cached time (medians); the last line prints it per resolution.

Run: ``.venv/bin/python bench/video.py [--clips 2] [--repeats 7] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emollm_plugin.emobench import frame_cache
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


def with_cache(folder: str, fn: Callable[[], object]) -> object:
    """Run ``fn`` with ``$EMOLLM_FRAME_CACHE`` set to ``folder`` (``"off"`` to decode)."""
    previous = os.environ.get(frame_cache.ENV_DIR)
    os.environ[frame_cache.ENV_DIR] = folder
    try:
        return fn()
    finally:
        if previous is None:
            os.environ.pop(frame_cache.ENV_DIR, None)
        else:
            os.environ[frame_cache.ENV_DIR] = previous


def time_arms(arms: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per arm after one warm-up call each; the order of the arms flips every round."""
    names = list(arms)
    results = {name: arms[name]() for name in names}  # warm-up (fills the frame cache)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            start = time.perf_counter()
            results[name] = arms[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2, help="clips per resolution (2)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per clip; medians (7)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (10)")
    parser.add_argument("--fps", type=int, default=30, help="clip frame rate (30)")
    parser.add_argument("--frames", type=int, default=8, help="frames sampled per clip (8)")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "cache")
        for name, (width, height) in RESOLUTIONS.items():
            for i in range(args.clips):
                path = Path(tmp) / f"{name}_{i}.mp4"
                write_video(path, make_clip(width, height, args.seconds, args.fps, seed=i), fps=args.fps,
                            crf=23, preset="veryfast", threads=0)
                medians, results = time_arms(
                    {
                        "decoded": lambda p=path: with_cache("off", lambda: load_frames(p, args.frames)),
                        "cached": lambda p=path: with_cache(cache, lambda: load_frames(p, args.frames)),
                    },
                    args.repeats,
                )
                decoded = np.stack([np.asarray(f) for f in results["decoded"]])
                cached = np.stack([np.asarray(f) for f in results["cached"]])
                assert decoded.shape == cached.shape and np.array_equal(decoded, cached), "cached frames differ"
                rows.append((name, i, medians["decoded"], medians["cached"], len(decoded), decoded.nbytes))
                print(f"{name} clip {i}: done", flush=True)
        entries, size = frame_cache.usage(Path(cache))

    print()
    print(f"{'clip':<10} {'decoded (decord)':>18} {'cached (.npy)':>15} {'ratio':>7} {'entry':>9}")
    for name, i, dec, cac, _, nbytes in rows:
        print(f"{name} #{i:<5} {dec * 1e3:>13.1f} ms {cac * 1e3:>12.1f} ms {dec / cac:>7.1f} {nbytes / 1e6:>6.1f} MB")
    print(f"cache: {entries} entries, {size / 1e6:.0f} MB on disk; frames identical to decoding in every clip")
    ratios = {}
    for name in RESOLUTIONS:
        dec = statistics.median(r[2] for r in rows if r[0] == name)
        cac = statistics.median(r[3] for r in rows if r[0] == name)
        ratios[name] = dec / cac
        print(f"{name}: decoded {dec * 1e3:.1f} ms/clip, cached {cac * 1e3:.1f} ms/clip ({args.frames} frames)")
    print("cached/decoded speed-up per clip: " + ", ".join(f"{n} {r:.1f}x" for n, r in ratios.items()))


if __name__ == "__main__":
    main()
