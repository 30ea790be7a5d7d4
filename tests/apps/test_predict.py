"""``emollm predict`` on a folder of mixed images and clips with the tiny trained model: answers and
labels, a corrupt file reported and skipped, and a resumed run (also after a kill cut a line short)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.apps.predict import collect_media, parse_label, read_done, record_key, task_question
from emollm_plugin.emobench.tasks import LABEL_SETS
from tests.conftest import REPO

EMOLLM = [sys.executable, "-m", "emollm_plugin.cli"]


def predict(model: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*EMOLLM, "predict", "--model", str(model), "--task", "hate", "--num-frames", "2",
                           "--no-progress", *args], cwd=REPO, capture_output=True, text=True, timeout=900)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def folder(trained, tmp_path) -> Path:
    """Two images (PNG, JPEG) and two clips, one in a subfolder, a corrupt image, a note, a hidden file."""
    _, emobench = trained
    source = emobench / "media" / "synth" / "test"
    root = tmp_path / "mine"
    (root / "clips").mkdir(parents=True)
    shutil.copy(sorted((source / "hate").glob("*.png"))[0], root / "meme.png")
    with Image.open(sorted((source / "emo_c").glob("*.png"))[0]) as image:
        image.convert("RGB").save(root / "face.jpg", quality=95)
    shutil.copy(sorted((source / "hate").glob("*.mp4"))[0], root / "clips" / "a.mp4")
    shutil.copy(sorted((source / "humor").glob("*.mp4"))[0], root / "b.mp4")
    good = (root / "meme.png").read_bytes()
    (root / "broken.png").write_bytes(good[: len(good) // 2])  # truncated mid-file
    (root / "notes.txt").write_text("not media")
    (root / ".thumbs").mkdir()
    shutil.copy(root / "meme.png", root / ".thumbs" / "meme.png")
    return root


def test_collect_media_expands_folders_and_names_what_it_skips(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/2.mp4", "a/1.png", "z.jpg", "a/readme.md", "a/.hidden/3.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    files, problems = collect_media([tmp_path / "a", tmp_path / "z.jpg", tmp_path / "a" / "1.png",
                                     tmp_path / "a" / "readme.md", tmp_path / "empty", tmp_path / "gone.png"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/1.png", "a/2.mp4", "z.jpg"]
    assert [p.split(": ", 1)[1] for p in problems] == [
        "not an image or video file name (suffix .md); skipped",
        "no image or video files in this folder",
        "no such file or folder",
    ]


def test_read_done_drops_a_line_cut_short_and_can_retry_unreadable_files(tmp_path):
    out = tmp_path / "preds.jsonl"
    answered = {"file": str(tmp_path / "a.png"), "task": "hate", "question": "q?", "answer": "no"}
    unreadable = {"file": str(tmp_path / "b.png"), "task": "hate", "question": "q?", "answer": None, "error": "bad"}
    body = json.dumps(answered) + "\nnot json\n" + json.dumps(unreadable) + "\n"
    out.write_text(body + json.dumps(answered)[:20])
    done, notes = read_done(out)
    assert done == {record_key(tmp_path / "a.png", "hate", "q?"), record_key(tmp_path / "b.png", "hate", "q?")}
    assert "removed an unfinished last line" in notes[0] and ":2: not a prediction record" in notes[1]
    assert out.read_text() == body
    done, notes = read_done(out, retry_unreadable=True)
    assert done == {record_key(tmp_path / "a.png", "hate", "q?")} and "1 unreadable file(s) will be tried" in notes[-1]
    assert out.read_text() == json.dumps(answered) + "\nnot json\n"


def test_questions_and_labels_follow_emobench():
    assert task_question("emo_o", "video") == "What is the emotion depicted in the given video? Answer with a single word."
    assert ", ".join(LABEL_SETS["mintrec20"]) in task_question("intent", "image")
    assert task_question("hate", "image", text="so  true") .endswith('The accompanying text is: "so true".')
    assert parse_label("emo_o", "They look happy.") == "joy"  # read against Ekman-7 with the lexicon
    assert parse_label("emo_c", "Answer: fear", ["fear", "awe"]) == "fear"
    assert parse_label("hate", "yes and no") is None


def test_predict_a_mixed_folder_then_resume(trained, folder, tmp_path):
    model, _ = trained
    out = tmp_path / "preds.jsonl"
    first = predict(model, str(folder), str(folder / "notes.txt"), "--out", str(out), "--batch-size", "3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"skipped {folder / 'broken.png'}: cannot decode image" in first.stderr
    assert "notes.txt: not an image or video file name" in first.stderr
    assert "4 answered" in first.stderr and "1 unreadable (skipped)" in first.stderr
    records = lines(out)
    assert [Path(r["file"]).relative_to(folder).as_posix() for r in records] == [
        "b.mp4", "broken.png", "clips/a.mp4", "face.jpg", "meme.png"]
    broken = records.pop(1)
    assert broken["answer"] is None and broken["label"] is None and "cannot decode image" in broken["error"]
    for record in records:
        assert "error" not in record
        assert record["modality"] == ("video" if record["file"].endswith(".mp4") else "image")
        assert record["frames"] == (2 if record["modality"] == "video" else 1)
        assert record["question"] == task_question("hate", record["modality"])
        assert record["label"] == parse_label("hate", record["answer"])
        assert record["task"] == "hate" and record["model"] == str(model)

    again = predict(model, str(folder), "--out", str(out))  # nothing to do: the model is not even loaded
    assert again.returncode == 0 and "all 5 file(s) already in" in again.stderr
    assert lines(out) == [records[0], broken, *records[1:]]

    # a kill cut the last line short and a new file arrived; retry the unreadable one, one file at a time
    text = out.read_text()
    out.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 10])
    shutil.copy(folder / "meme.png", folder / "clips" / "meme2.png")
    resumed = predict(model, str(folder), "--out", str(out), "--batch-size", "1", "--retry-unreadable")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "removed an unfinished last line" in resumed.stderr and "1 unreadable file(s) will be tried" in resumed.stderr
    assert "2 answered" in resumed.stderr and "1 unreadable" in resumed.stderr and "3 already done" in resumed.stderr
    final = lines(out)
    assert [Path(r["file"]).name for r in final] == ["b.mp4", "a.mp4", "face.jpg", "broken.png", "meme2.png", "meme.png"]
    named = {Path(r["file"]).name: r for r in final}
    assert named["meme.png"] == records[-1]  # answered again, alone: the same answer as in a batch of 3
    assert named["meme2.png"]["answer"] == records[-1]["answer"]
