"""``emollm data frames`` fills the frame cache and resumes; ``--workers`` reaches build and validate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emollm_plugin.cli import main
from emollm_plugin.emobench import frame_cache
from emollm_plugin.emobench.media import decode_frames, load_frame_array
from emollm_plugin.emobench.synth import make_clip, synthesize, write_video
from tests.emobench.sources.test_meld import write_meld


def test_frames_fills_the_cache_then_skips_what_is_there(tmp_path, monkeypatch, capsys):
    bench = synthesize(tmp_path / "bench", per_task=2, test_per_task=1, frames=4)
    cache, log = tmp_path / "cache", tmp_path / "decodes.jsonl"
    monkeypatch.setenv(frame_cache.ENV_DIR, str(cache))
    monkeypatch.setenv(frame_cache.ENV_LOG, str(log))
    videos = frame_cache.video_paths(bench)
    assert len(videos) >= 6 and all(v.suffix == ".mp4" for v in videos)

    argv = ["data", "frames", "--emobench-dir", str(bench), "--num-frames", "3", "--workers", "2", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{len(videos)} videos: 0 already cached, {len(videos)} decoded now, 0 unreadable" in out
    assert len(log.read_text().splitlines()) == len(videos)

    first = videos[0]
    np.testing.assert_array_equal(load_frame_array(first, num_frames=3), decode_frames(first, num_frames=3))
    decoded_so_far = len(log.read_text().splitlines())
    assert main(argv) == 0  # a rerun (after a kill, or a finished run) decodes nothing
    assert f"{len(videos)} already cached, 0 decoded now" in capsys.readouterr().out
    assert len(log.read_text().splitlines()) == decoded_so_far


def test_frames_reports_bad_videos_and_exits_1(tmp_path, monkeypatch, capsys):
    bench = synthesize(tmp_path / "bench", per_task=2, test_per_task=1, frames=4)
    monkeypatch.setenv(frame_cache.ENV_DIR, str(tmp_path / "cache"))
    broken = frame_cache.video_paths(bench)[0]
    broken.write_bytes(b"not a video")
    assert main(["data", "frames", "--emobench-dir", str(bench), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"bad video: {broken}: cannot decode video" in out and "1 unreadable" in out


def test_frames_refuses_when_the_cache_is_off(tmp_path, monkeypatch, capsys):
    bench = synthesize(tmp_path / "bench", per_task=1, test_per_task=1, frames=2)
    monkeypatch.setenv(frame_cache.ENV_DIR, "off")
    assert main(["data", "frames", "--emobench-dir", str(bench), "--no-progress"]) == 2
    assert "the frame cache is off" in capsys.readouterr().err


def test_validate_and_build_take_workers(tmp_path, monkeypatch, capsys):
    bench = synthesize(tmp_path / "bench", per_task=2, test_per_task=1, frames=3)
    monkeypatch.setenv(frame_cache.ENV_DIR, "off")
    next((bench / "media").rglob("*.mp4")).write_bytes(b"garbage")
    reports = []
    for workers in ("1", "2"):
        quarantine = tmp_path / f"q{workers}.jsonl"
        assert main(["data", "validate", str(bench), "--workers", workers, "--no-progress",
                     "--quarantine", str(quarantine)]) == 0
        reports.append([json.loads(line) for line in quarantine.read_text().splitlines()])
        capsys.readouterr()
    assert reports[0] == reports[1] and len(reports[0]) >= 1
    with pytest.raises(SystemExit):
        main(["data", "validate", str(bench), "--workers", "0"])

    root = write_meld(tmp_path / "meld")  # placeholder clips fail the decode check, the same way
    write_video(root / "MELD.Raw" / "train" / "train_splits" / "dia0_utt0.mp4",
                make_clip(0, np.random.default_rng(0), frames=4, size=32))  # one real clip
    skipped = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        code = main(["data", "build", "--source", "meld", "--root", str(root), "--out", str(out),
                     "--check-media", "decode", "--workers", workers, "--no-progress"])
        skipped.append((code, (out / "skipped" / "meld.jsonl").read_text() if (out / "skipped").exists() else ""))
        capsys.readouterr()
    assert skipped[0] == skipped[1]
    assert skipped[0][0] == 0 and skipped[0][1].count("cannot decode video") >= 3
