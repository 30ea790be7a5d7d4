"""The frame cache behind ``load_frames``: hits, misses, stale entries, corrupt entries, concurrent
writers, eviction, the off switch, and ``emollm data frames`` / ``--workers``."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.emobench import frame_cache
from emollm_plugin.emobench.media import decode_frames, frame_options, load_frame_array, load_frames
from emollm_plugin.emobench.synth import write_video


def clip_array(seed: int, frames: int = 12, size: int = 32) -> np.ndarray:
    """A clip whose frames all differ (a moving bright square over a seeded colour)."""
    rng = np.random.default_rng(seed)
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    clip[:] = rng.integers(30, 200, 3, dtype=np.uint8)
    for t in range(frames):
        clip[t, 4:12, (2 * t) % (size - 8) : (2 * t) % (size - 8) + 8] = 250
    return clip


def make_clip(path: Path, seed: int = 0, frames: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, clip_array(seed, frames))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh cache folder and a decode log for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(frame_cache.ENV_DIR, str(folder))
    monkeypatch.setenv(frame_cache.ENV_LOG, str(tmp_path / "decodes.jsonl"))
    monkeypatch.delenv(frame_cache.ENV_MAX, raising=False)
    return folder


def decodes(tmp_path: Path) -> list[str]:
    log = tmp_path / "decodes.jsonl"
    return [json.loads(line)["path"] for line in log.read_text().splitlines()] if log.exists() else []


def entries(folder: Path) -> list[Path]:
    return sorted((folder / frame_cache.LAYOUT).glob("*/*.npy"))


def test_miss_then_hit_returns_the_decoded_frames_without_decoding(cache, tmp_path):
    clip = make_clip(tmp_path / "a.mp4")
    first = load_frame_array(clip, num_frames=4)
    assert len(decodes(tmp_path)) == 1 and len(entries(cache)) == 1
    second = load_frame_array(clip, num_frames=4)
    assert len(decodes(tmp_path)) == 1, "a hit must not decode"
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, decode_frames(clip, num_frames=4))
    images = load_frames(clip, num_frames=4)
    assert [im.size for im in images] == [(32, 32)] * 4
    np.testing.assert_array_equal(np.stack([np.asarray(im) for im in images]), first)
    # a shared cache: entries get the umask's mode like any new file, not a temp file's 0600
    umask = os.umask(0o022)
    os.umask(umask)
    assert [entry.stat().st_mode & 0o777 for entry in entries(cache)] == [0o666 & ~umask]


def test_each_sampling_option_has_its_own_entry(cache, tmp_path):
    clip = make_clip(tmp_path / "a.mp4")
    four = load_frame_array(clip, num_frames=4)
    two = load_frame_array(clip, num_frames=2)
    capped = load_frame_array(clip, num_frames=4, max_fps=1.0)  # 12 frames at 8 fps: 1.5 s -> 1 frame
    assert (four.shape[0], two.shape[0], capped.shape[0]) == (4, 2, 1)
    assert len(entries(cache)) == 3 and len(decodes(tmp_path)) == 3
    np.testing.assert_array_equal(load_frame_array(clip, num_frames=2), two)
    assert len(decodes(tmp_path)) == 3


def test_a_changed_file_is_decoded_again_never_served_stale(cache, tmp_path):
    clip = make_clip(tmp_path / "a.mp4", seed=1)
    old = load_frame_array(clip, num_frames=4)
    make_clip(clip, seed=2)  # same path, new content (and size / mtime)
    new = load_frame_array(clip, num_frames=4)
    assert len(decodes(tmp_path)) == 2
    assert not np.array_equal(old, new)
    np.testing.assert_array_equal(new, decode_frames(clip, num_frames=4))  # the 3rd decode
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched only: still a new key
    load_frame_array(clip, num_frames=4)
    assert len(decodes(tmp_path)) == 4


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "pickled", "wrong_shape"],
)
def test_a_corrupt_entry_is_ignored_and_rewritten(cache, tmp_path, damage):
    clip = make_clip(tmp_path / "a.mp4")
    good = load_frame_array(clip, num_frames=4)
    (entry,) = entries(cache)
    if damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:200])
    elif damage == "garbage":
        entry.write_bytes(b"not an npy file at all")
    elif damage == "pickled":
        np.save(entry, np.array([{"frames": 1}], dtype=object), allow_pickle=True)
    else:
        np.save(entry, np.zeros((4, 32, 32), dtype=np.uint8))
    before = frame_cache.STATS["corrupt"]
    again = load_frame_array(clip, num_frames=4)
    np.testing.assert_array_equal(again, good)
    assert frame_cache.STATS["corrupt"] == before + 1
    assert len(decodes(tmp_path)) == 2
    np.testing.assert_array_equal(np.load(entry, allow_pickle=False), good)  # rewritten whole


def test_off_switch_decodes_every_time_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(frame_cache.ENV_LOG, str(tmp_path / "decodes.jsonl"))
    clip = make_clip(tmp_path / "a.mp4")
    for value in ("off", "0", "OFF"):
        monkeypatch.setenv(frame_cache.ENV_DIR, value)
        assert frame_cache.cache_dir() is None
        load_frame_array(clip, num_frames=2)
    assert len(decodes(tmp_path)) == 3
    assert not list(tmp_path.rglob("*.npy"))


def test_default_location_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(frame_cache.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert frame_cache.cache_dir() == tmp_path / "xdg" / "emollm" / "frames"


def test_size_cap_parses_units():
    assert frame_cache.parse_size("500M") == 500 << 20
    assert frame_cache.parse_size("32G") == 32 << 30
    assert frame_cache.parse_size("1.5k") == 1536
    assert frame_cache.parse_size("2GiB") == 2 << 30
    assert frame_cache.parse_size("1000") == 1000
    with pytest.raises(ValueError, match="EMOLLM_FRAME_CACHE_MAX"):
        frame_cache.parse_size("lots")


def test_least_recently_used_entries_are_evicted_over_the_cap(cache, tmp_path, monkeypatch):
    clips = [make_clip(tmp_path / f"{name}.mp4", seed=i) for i, name in enumerate("abc")]
    arrays = [load_frame_array(c, num_frames=4) for c in clips[:2]]
    size = arrays[0].nbytes + 128  # one entry, header included
    monkeypatch.setenv(frame_cache.ENV_MAX, str(int(size * 2.5)))
    a_entry, b_entry = (frame_cache.entry_path(c, frame_options(4, None)) for c in clips[:2])
    os.utime(a_entry, (1_000, 1_000))  # a is older than b ...
    os.utime(b_entry, (2_000, 2_000))
    load_frame_array(clips[0], num_frames=4)  # ... until a hit makes a the most recent
    load_frame_array(clips[2], num_frames=4)  # 3 entries > 2.5: sweep to <= 2.25 -> drop one
    assert a_entry.exists() and not b_entry.exists()
    assert len(entries(cache)) == 2
    assert frame_cache.usage(cache)[1] <= size * 2.5


def _hammer(path: str, cache_dir: str, start, rounds: int) -> None:
    os.environ[frame_cache.ENV_DIR] = cache_dir
    frames = decode_frames(path, num_frames=6)
    start.wait()
    for _ in range(rounds):
        frame_cache.put(path, frame_options(6, None), frames)


def test_two_processes_writing_one_key_never_expose_a_partial_entry(cache, tmp_path):
    clip = make_clip(tmp_path / "a.mp4", frames=12)
    expected = decode_frames(clip, num_frames=6)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_hammer, args=(str(clip), str(cache), start, 150)) for _ in range(2)]
    for writer in writers:
        writer.start()
    start.set()
    corrupt_before = frame_cache.STATS["corrupt"]
    reads = 0
    while any(w.is_alive() for w in writers):
        got = frame_cache.get(clip, frame_options(6, None))
        if got is not None:
            np.testing.assert_array_equal(got, expected)
            reads += 1
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert frame_cache.STATS["corrupt"] == corrupt_before, "a reader saw a partly written entry"
    assert reads > 0
    assert len(entries(cache)) == 1
    assert not list((cache / frame_cache.LAYOUT).glob("*/*.tmp")), "temporary files must not be left behind"
    np.testing.assert_array_equal(load_frame_array(clip, num_frames=6), expected)


def test_fill_decodes_each_clip_once_resumes_and_matches_one_worker(cache, tmp_path):
    clips = [make_clip(tmp_path / "media" / f"c{i}.mp4", seed=i) for i in range(5)]
    broken = tmp_path / "media" / "broken.mp4"
    broken.write_bytes(b"not a video")
    paths = [*clips, broken, tmp_path / "media" / "missing.mp4"]
    report = frame_cache.fill(paths[:2], num_frames=3, workers=1, progress=False)
    assert (report.cached, report.decoded, report.problems) == (0, 2, [])
    # A stale temporary file, as a killed writer leaves it, is not an entry.
    (cache / frame_cache.LAYOUT / "zz").mkdir(parents=True)
    (cache / frame_cache.LAYOUT / "zz" / ".x.tmp").write_bytes(b"\x93NUMPY partial")
    resumed = frame_cache.fill(paths, num_frames=3, workers=2, progress=False)
    assert (resumed.clips, resumed.cached, resumed.decoded) == (7, 2, 3)
    assert [p.split(":")[0] for p in resumed.problems] == [str(broken), str(paths[-1])]
    assert len(decodes(tmp_path)) == 2 + 3 + 1  # the broken clip was tried, the missing one never opened
    for clip in clips:
        np.testing.assert_array_equal(load_frame_array(clip, num_frames=3), decode_frames(clip, num_frames=3))
    again = frame_cache.fill(paths, num_frames=3, workers=2, progress=False)
    assert (again.cached, again.decoded, again.problems) == (5, 0, resumed.problems)
