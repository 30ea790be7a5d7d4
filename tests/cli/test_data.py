"""``emollm data {synth,build,validate,views,sources}`` through the real ``emollm`` entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.cli import main
from emollm_plugin.emobench.records import read_records
from emollm_plugin.emobench.synth import make_image, write_image


def emollm(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["data", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "bench"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(out),
                "--per-task",
                "2",
                "--test-per-task",
                "1",
                "--frames",
                "2",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    return out


def emotion6_release(root: Path) -> Path:
    """A tiny Emotion6 in its release layout: images/<category>/<n>.jpg."""
    rng = np.random.default_rng(0)
    for i, category in enumerate(("anger", "joy", "fear")):
        for n in (1, 2):
            write_image(root / "images" / category / f"{n}.jpg", make_image(i, rng, size=32))
    return root


def test_synth_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = emollm(
        capsys,
        "synth",
        "--out",
        str(tmp_path / "s"),
        "--per-task",
        "2",
        "--test-per-task",
        "1",
        "--frames",
        "2",
    )
    assert code == 0
    assert "18 records (test 6, train 12)" in out and "sarcasm" in out
    assert (tmp_path / "s" / "llava" / "train.json").is_file()


def test_synth_rejects_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = emollm(capsys, "synth", "--out", str(tmp_path / "s"), "--size", "40")
    assert code == 2 and "multiple of 32" in err


def test_validate_exit_codes_and_quarantine(
    synth_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code, out, _ = emollm(
        capsys, "validate", str(synth_out), "--strict", "--num-frames", "2", "--no-progress"
    )
    assert code == 0 and "18 records" in out and "OK" in out

    broken = tmp_path / "broken"
    shutil.copytree(synth_out, broken)
    record = read_records(broken / "records" / "synth.jsonl")[0]
    (broken / record.media).unlink()
    quarantine = tmp_path / "q.jsonl"
    code, out, _ = emollm(capsys, "validate", str(broken), "--no-progress")
    assert code == 0 and "1 problems in 1 records" in out and "--quarantine" in out
    code, out, _ = emollm(
        capsys, "validate", str(broken), "--strict", "--no-progress", "--quarantine", str(quarantine)
    )
    assert code == 1
    assert f"{record.id!r}" in out and "not found" in out
    assert [json.loads(x)["id"] for x in quarantine.read_text().splitlines()] == [record.id]

    code, _, err = emollm(capsys, "validate", str(tmp_path / "absent"))
    assert code == 2 and "no such" in err


def test_build_a_real_source_then_rerun(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = emotion6_release(tmp_path / "Emotion6")
    out = tmp_path / "bench"
    code, stdout, err = emollm(
        capsys, "build", "--source", "emotion6", "--root", str(root), "--out", str(out), "--no-progress"
    )
    assert code == 0, err
    # six images, one emo_c and one emo_o question each
    assert "emotion6: 12 records" in stdout and "(12 new, 0 from an earlier run, 0 skipped)" in stdout
    records = read_records(out / "records" / "emotion6.jsonl")
    assert {r.task for r in records} == {"emo_c", "emo_o"}
    assert all((out / r.media).is_file() and r.media.startswith("media/emotion6/images/") for r in records)
    code, stdout, _ = emollm(
        capsys, "build", "--source", "emotion6", "--root", str(root), "--out", str(out), "--no-progress"
    )
    assert code == 0 and "(0 new, 12 from an earlier run, 0 skipped)" in stdout
    assert len(read_records(out / "records" / "emotion6.jsonl")) == 12
    code, stdout, _ = emollm(capsys, "validate", str(out), "--strict", "--no-progress")
    assert code == 0, stdout


def test_build_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = emollm(
        capsys,
        "build",
        "--source",
        "emotion6",
        "--root",
        str(empty),
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert code == 1 and "is empty" in err and "emotion6" in err
    code, _, err = emollm(
        capsys, "build", "--source", "nope", "--root", str(empty), "--out", str(tmp_path / "o")
    )
    assert code == 1 and "unknown EmoBench source 'nope'" in err and "meld" in err


def test_interrupted_build_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emollm_plugin.emobench import build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_source", interrupted)
    code, _, err = emollm(
        capsys, "build", "--source", "emotion6", "--root", str(tmp_path), "--out", str(tmp_path)
    )
    assert code == 130 and "rerun the same command to resume" in err


def test_views_regenerates_derived_files(
    synth_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(synth_out, copy)
    shutil.rmtree(copy / "test")
    (copy / "summary.json").unlink()
    code, out, _ = emollm(capsys, "views", str(copy))
    assert code == 0 and "18 records" in out
    assert (copy / "test" / "emo_c.jsonl").read_text() == (synth_out / "test" / "emo_c.jsonl").read_text()
    assert emollm(capsys, "views", str(tmp_path / "nothing"))[0] == 2


def test_listing_the_adapters(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = emollm(capsys, "sources")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "emotion6" in lines and "meld" in lines
    assert "emo_c" in lines["meld"] and "video" in lines["meld"]


def test_adapter_listing_without_the_package(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "emollm_plugin.emobench.sources", None)  # import now fails
    code, _, err = emollm(capsys, "sources")
    assert code == 1 and "source adapters (emollm_plugin.emobench.sources) are not available" in err


def test_help_explains_the_layout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emollm_plugin.cli", "data", "build", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "records/<source>.jsonl" in result.stdout and "--check-media" in result.stdout
    assert "Resumable" in result.stdout


def test_a_non_utf8_byte_is_reported_by_line_and_never_crashes_a_reader(
    synth_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from emollm_plugin.emobench.records import iter_jsonl

    broken = tmp_path / "latin1"
    shutil.copytree(synth_out, broken)
    records = broken / "records" / "synth.jsonl"
    lines = records.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"question": "', b'"question": "caf\xe9 ', 1)  # a Latin-1 byte on line 2
    records.write_bytes(b"".join(lines))

    code, out, _ = emollm(capsys, "validate", str(broken), "--strict", "--no-progress", "--num-frames", "2")
    assert code == 1
    assert f"{records}:2: not UTF-8 text (byte 0xe9" in out
    assert "1 problems in 1 records" in out

    code, out, err = emollm(capsys, "views", str(broken))  # the other 17 records still make the views
    assert code == 0 and "Traceback" not in err
    assert "17 records" in out and f"{records}:2: not UTF-8 text" in out
    items = list(iter_jsonl(records))
    assert len(items) == 18 and "not UTF-8 text" in str(items[1][1])


@pytest.mark.parametrize("verb", ["build", "validate"])
def test_zero_frames_is_refused_when_parsed(verb: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = (["build", "--source", "emotion6", "--root", str(tmp_path), "--out", str(tmp_path / "o"),
             "--check-media", "decode"] if verb == "build" else ["validate", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        main(["data", *argv, "--num-frames", "0"])
    assert exit_info.value.code == 2
    assert "argument --num-frames: must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
