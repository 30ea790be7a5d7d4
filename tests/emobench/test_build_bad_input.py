"""``emollm data build`` on hostile input: over-long file names, links out of --root, two builds at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emollm_plugin.cli import main
from emollm_plugin.emobench.build import LOCK_NAME
from emollm_plugin.emobench.records import read_records

from .sources.helpers import write_image

HEADER = "[image_filename]\t[valence]\t[arousal]" + "".join(f"\t[p{i}]" for i in range(7))


def build(capsys: pytest.CaptureFixture, source: str, root: Path, out: Path) -> tuple[int, str]:
    code = main(["data", "build", "--source", source, "--root", str(root), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def skips(out: Path, source: str) -> dict[str, str]:
    lines = (out / "skipped" / f"{source}.jsonl").read_text().splitlines()
    return {entry["key"]: entry["reason"] for entry in map(json.loads, lines)}


def test_a_file_name_over_the_limit_is_one_skip_not_the_end_of_the_build(tmp_path, capsys):
    top = tmp_path / "Emotion6"
    for name in ("joy/1.jpg", "anger/2.jpg"):
        write_image(top / "images" / name)
    long_name = "joy/" + "x" * 300 + ".jpg"  # one component over NAME_MAX (255 bytes): stat fails, ENAMETOOLONG
    votes = "\t5\t5\t0\t0\t0\t1\t0\t0\t0"
    lines = [HEADER, f"joy/1.jpg{votes}", f"{long_name}{votes}", "anger/2.jpg\t5\t5\t1\t0\t0\t0\t0\t0\t0"]
    (top / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    code, output = build(capsys, "emotion6_votes", tmp_path, tmp_path / "out")
    assert code == 0, output
    assert len(read_records(tmp_path / "out" / "records" / "emotion6_votes.jsonl")) == 4  # emo_c + emo_o each
    reason = skips(tmp_path / "out", "emotion6_votes")[long_name]
    assert reason.startswith("media file cannot be read: Emotion6/images/joy/xxx") and "File name too long" in reason


def test_a_link_out_of_the_root_is_refused_like_dotdot(tmp_path, capsys):
    root = tmp_path / "Emotion6"
    for name in ("joy/1.jpg", "anger/2.jpg"):
        write_image(root / "images" / name)
    secret = tmp_path / "elsewhere" / "secret.jpg"
    write_image(secret)
    (root / "images" / "fear").mkdir()
    (root / "images" / "fear" / "3.jpg").symlink_to(secret)
    write_image(root / "images" / "sadness" / "inside.jpg")
    (root / "images" / "surprise").mkdir()
    (root / "images" / "surprise" / "4.jpg").symlink_to(root / "images" / "sadness" / "inside.jpg")  # stays inside
    code, output = build(capsys, "emotion6", root, tmp_path / "out")
    assert code == 0, output
    media = {record.media for record in read_records(tmp_path / "out" / "records" / "emotion6.jsonl")}
    assert media == {f"media/emotion6/images/{name}" for name in
                     ("joy/1.jpg", "anger/2.jpg", "sadness/inside.jpg", "surprise/4.jpg")}
    reason = skips(tmp_path / "out", "emotion6")["images/fear/3.jpg"]
    assert f"is a link to {secret}, outside the dataset root" in reason


def test_a_second_build_into_the_same_out_is_refused_while_the_first_runs(tmp_path, capsys):
    from filelock import FileLock

    root = tmp_path / "Emotion6"
    write_image(root / "images" / "joy" / "1.jpg")
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / LOCK_NAME)):  # what a running `emollm data build --out OUT` holds
        code, output = build(capsys, "emotion6", root, out)
    assert code == 1
    assert f"{out} is being written by another `emollm data build`" in output and "another --out" in output
    assert not (out / "records").exists(), "the refused build must not write"
    code, output = build(capsys, "emotion6", root, out)  # once the first has finished
    assert code == 0, output
    ids = [record.id for record in read_records(out / "records" / "emotion6.jsonl")]
    assert len(ids) == len(set(ids)) == 2


def test_a_build_refused_for_its_root_leaves_no_out_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, output = build(capsys, "emotion6", tmp_path / "empty", tmp_path / "out")
    assert code == 1 and "is empty" in output
    assert not (tmp_path / "out").exists()
