"""``--workers N``: decode checks of build and validate in N processes give what one process gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emollm_plugin.emobench import frame_cache
from emollm_plugin.emobench.build import BuildError, build_source
from emollm_plugin.emobench.media import map_in_processes
from emollm_plugin.emobench.synth import synthesize
from emollm_plugin.emobench.validate import validate
from tests.emobench.test_build import GOOD_ROWS, TinySource, make_root

ROWS = [
    *GOOD_ROWS,
    ("vid/broken.mp4", "joy", "train"),
    ("missing/v9.mp4", "fear", "test"),
    ("img/bad.png", "anger", "train"),
    ("vid/v3.mp4", "fear", "train"),
    ("vid/v4.mp4", "anger", "test"),
]


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    """Every check really decodes (a cache hit from the first arm would make the second trivial)."""
    monkeypatch.setenv(frame_cache.ENV_DIR, "off")


def broken_root(tmp_path: Path) -> Path:
    root = make_root(tmp_path / "release", ROWS)
    (root / "vid" / "broken.mp4").write_bytes(b"\x00\x00\x00 ftypisom but nothing else")
    (root / "img" / "bad.png").write_bytes((root / "img" / "a1.png").read_bytes()[:60])
    return root


def build_outputs(out: Path) -> tuple[str, str]:
    return (out / "records" / "tiny.jsonl").read_text(), (out / "skipped" / "tiny.jsonl").read_text()


def test_build_decode_check_with_workers_matches_one_worker(tmp_path):
    root = broken_root(tmp_path)
    one = build_source(TinySource(), root, tmp_path / "one", check_media="decode", progress=False, workers=1)
    two = build_source(TinySource(), root, tmp_path / "two", check_media="decode", progress=False, workers=2)
    assert build_outputs(tmp_path / "one") == build_outputs(tmp_path / "two")
    assert (one.total, len(one.skipped)) == (two.total, len(two.skipped)) == (9, 3)
    reasons = [json.loads(line)["reason"] for line in build_outputs(tmp_path / "two")[1].splitlines()]
    assert "cannot decode video" in reasons[0] and "not found" in reasons[1] and "cannot decode image" in reasons[2]


def test_build_workers_keep_the_records_before_an_adapter_error(tmp_path):
    root = broken_root(tmp_path)
    kept = []
    for n, workers in enumerate((1, 2)):
        out = tmp_path / f"out{n}"
        with pytest.raises(BuildError, match="stopped after 9 samples"):
            build_source(TinySource(crash_after=9), root, out, check_media="decode", progress=False, workers=workers)
        kept.append((out / "records" / "tiny.jsonl.partial").read_text())
    assert kept[0] == kept[1] and len(kept[0].splitlines()) == 7


def test_validate_with_workers_gives_the_same_report(tmp_path):
    out = synthesize(tmp_path / "bench", per_task=2, test_per_task=1, frames=3)
    videos = sorted((out / "media").rglob("*.mp4"))
    videos[0].write_bytes(b"garbage")
    videos[1].unlink()
    one = validate(out, progress=False, echo=False, workers=1)
    two = validate(out, progress=False, echo=False, workers=2)
    assert one.problems == two.problems and len(one.problems) >= 2
    assert (one.records, one.media_checked) == (two.records, two.media_checked)
    assert one.media_checked == len(list((out / "media").rglob("*.*"))) + 1  # + the deleted video


def _square(x: int) -> int:
    return x * x


def test_map_in_processes_keeps_input_order():
    items = list(range(40, 0, -1))
    assert map_in_processes(_square, items, workers=3) == [x * x for x in items]
    with pytest.raises(ValueError, match="--workers"):
        map_in_processes(_square, items, workers=0)
