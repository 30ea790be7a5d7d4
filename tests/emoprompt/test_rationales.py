"""Rationale generation end to end against a local teacher server, resume, summary, and to-llava."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.cli import main as emollm
from emollm_plugin.emobench.records import Record, write_records
from emollm_plugin.emobench.tasks import LABEL_SETS, build_question
from emollm_plugin.emoprompt.exemplars import select_exemplars
from emollm_plugin.emoprompt.rationales import (
    RATIONALE_PROMPT,
    check_template,
    generate_rationales,
    judge,
    load_accepted,
    read_cache,
    teacher_prompt,
)
from emollm_plugin.emoprompt.teachers import OpenAITeacher, TeacherRequest

from .chat_server import Reply, chat_body, user_text

EKMAN = list(LABEL_SETS["ekman6"])

#: id -> (task, modality, answer, how the teacher behaves)
PLAN = {
    "r0": ("emo_c", "image", "joy", "good"),
    "r1": ("emo_c", "image", "sadness", "late"),  # wrong first, right on the retry
    "r2": ("emo_c", "image", "anger", "bad"),  # always wrong
    "r3": ("emo_c", "image", "fear", "noline"),  # right, but no answer line
    "r4": ("hate", "video", "no", "good"),
    "r5": ("sarcasm", "image", "yes", "good"),  # its media file is missing
}


def write_video(path: Path, frames: int = 8) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_dataset(root: Path, with_test_record: bool = False) -> tuple[Path, list[Record]]:
    """Records + media under ``root/data`` (media paths relative to that folder)."""
    data = root / "data"
    (data / "media").mkdir(parents=True)
    records = []
    for rid, (task, modality, answer, _) in PLAN.items():
        options = EKMAN if task == "emo_c" else []
        suffix = "mp4" if modality == "video" else "png"
        media = f"media/{rid}.{suffix}"
        if rid != "r5":
            if modality == "video":
                write_video(data / media)
            else:
                Image.new("RGB", (16, 16), (10 * len(records), 80, 160)).save(data / media)
        text = f"sample {rid}"
        records.append(Record(rid, task, modality, media, build_question(task, modality, options, text), answer,
                              "synthetic", "train", options, text))
    if with_test_record:
        records.append(Record("t0", "emo_c", "image", "media/r0.png", build_question("emo_c", "image", EKMAN),
                              "joy", "synthetic", "test", EKMAN))
    path = data / "train.jsonl"
    write_records(path, records)
    return path, records


def wrong(answer: str) -> str:
    return {"yes": "no", "no": "yes"}.get(answer, "surprise")


def record_id(body: dict | None) -> str:
    return re.search(r"sample (r\d+)", user_text(body)).group(1)


def teacher_server(chat_server):
    """A teacher that reads the ground truth from the prompt and follows PLAN."""
    seen: Counter = Counter()

    def respond(body, index):
        rid = record_id(body)
        seen[rid] += 1
        answer = re.search(r"The correct answer is: (.+)", user_text(body)).group(1).strip()
        behaviour = PLAN[rid][3]
        if behaviour == "bad" or (behaviour == "late" and seen[rid] == 1):
            text = f"The scene suggests otherwise.\nAnswer: {wrong(answer)}"
        elif behaviour == "noline":
            text = f"Wide eyes and a raised hand show {answer}."
        else:
            text = f"The face and the caption both point to it.\nAnswer: {answer}"
        return Reply(body=chat_body(text, prompt_tokens=10, completion_tokens=5))

    return chat_server(respond)


def make_teacher(url: str, **kwargs) -> OpenAITeacher:
    options = {"api_key_env": None, "timeout": 5.0, "max_retries": 1, "concurrency": 2}
    options.update(kwargs)
    return OpenAITeacher(url, "teacher", **options)


def hits_per_id(api) -> Counter:
    return Counter(record_id(h.body) for h in api.hits)


def run(records, api_url, out, root, **kwargs):
    with make_teacher(api_url) as teacher:
        return generate_rationales(records, teacher, out, root / "data", progress=False, num_frames=4, **kwargs)


def test_generate_accepts_rejects_retries_and_counts(tmp_path, chat_server):
    _, records = write_dataset(tmp_path)
    api = teacher_server(chat_server)
    summary = run(records, api.base_url, tmp_path / "out", tmp_path, max_attempts=3)

    latest, entries, bad = read_cache(tmp_path / "out" / "rationales.jsonl")
    assert bad == 0 and len(entries) == 6
    status = {rid: (e["status"], e["attempts"]) for rid, e in latest.items()}
    assert status == {"r0": ("accepted", 1), "r1": ("accepted", 2), "r2": ("rejected", 3),
                      "r3": ("accepted", 1), "r4": ("accepted", 1), "r5": ("failed", 0)}
    assert hits_per_id(api) == {"r0": 1, "r1": 2, "r2": 3, "r3": 1, "r4": 1}
    assert "media" in latest["r5"]["error"] and "r5.png" in latest["r5"]["error"]
    # a retry is sampled hotter, so it can differ from the rejected first try
    r1_temps = [h.body["temperature"] for h in api.hits if record_id(h.body) == "r1"]
    assert r1_temps == [0.2, 0.8]
    # no answer line but the right answer: accepted with the canonical line appended
    assert latest["r3"]["normalised"] is True
    assert latest["r3"]["rationale"] == "Wide eyes and a raised hand show fear.\nAnswer: fear"
    assert latest["r0"]["rationale"].endswith("\nAnswer: joy") and latest["r0"]["normalised"] is False
    assert latest["r2"]["parsed"] == "surprise" and latest["r2"]["accepted"] is False
    # the video went as a note + 4 frames
    (video_hit,) = [h for h in api.hits if record_id(h.body) == "r4"]
    kinds = [p["type"] for p in video_hit.body["messages"][-1]["content"]]
    assert kinds == ["text"] + ["image_url"] * 4 + ["text"]

    emo_c = summary["tasks"]["emo_c"]
    assert (emo_c["accepted"], emo_c["rejected"], emo_c["failed"]) == (3, 1, 0)
    assert emo_c["rejection_rate"] == 0.25 and emo_c["normalised"] == 1
    assert summary["example_errors"] == [latest["r5"]["id"] + ": " + latest["r5"]["error"]]
    assert emo_c["attempts"] == 7 and emo_c["attempt_rejection_rate"] == pytest.approx(4 / 7, abs=1e-4)
    assert summary["tasks"]["sarcasm"]["failed"] == 1
    total_hits = len(api.hits)
    assert summary["total"]["prompt_tokens"] == 10 * total_hits
    assert summary["total"]["completion_tokens"] == 5 * total_hits
    assert summary["this_run"]["processed"] == 6 and summary["pending"] == 1
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["total"] == summary["total"]


def test_resume_never_repeats_finished_records(tmp_path, chat_server):
    _, records = write_dataset(tmp_path)
    api = teacher_server(chat_server)
    out = tmp_path / "out"
    run(records[:2], api.base_url, out, tmp_path, max_attempts=3)  # a --limit 2 run
    assert hits_per_id(api) == {"r0": 1, "r1": 2}

    before = len(api.hits)
    summary = run(records, api.base_url, out, tmp_path, max_attempts=3)
    again = Counter(record_id(h.body) for h in api.hits[before:])
    assert again == {"r2": 3, "r3": 1, "r4": 1}  # r0, r1 accepted earlier: not asked again
    assert summary["this_run"]["skipped_done"] == 2
    assert summary["total"]["prompt_tokens"] == 10 * len(api.hits)  # tokens of both runs

    before = len(api.hits)
    run(records, api.base_url, out, tmp_path, max_attempts=3)
    assert len(api.hits) == before  # only r5 (failed: media) was retried, and its media still fails

    summary = run(records, api.base_url, out, tmp_path, max_attempts=2, retry_rejected=True)
    assert Counter(record_id(h.body) for h in api.hits[before:]) == {"r2": 2}
    assert summary["tasks"]["emo_c"]["rejected"] == 1


class CrashingTeacher:
    """Delegates to a real teacher, then dies like a killed process on the n-th batch."""

    def __init__(self, inner: OpenAITeacher, crash_on: int) -> None:
        self.inner, self.crash_on, self.calls = inner, crash_on, 0
        self.concurrency = inner.concurrency

    def complete(self, request: TeacherRequest):
        return self.inner.complete(request)

    def complete_batch(self, requests):
        self.calls += 1
        if self.calls == self.crash_on:
            raise KeyboardInterrupt
        return self.inner.complete_batch(requests)


def test_crash_mid_run_then_resume(tmp_path, chat_server):
    _, records = write_dataset(tmp_path)
    api = teacher_server(chat_server)
    out = tmp_path / "out"
    with make_teacher(api.base_url) as inner, pytest.raises(KeyboardInterrupt):
        generate_rationales(records, CrashingTeacher(inner, crash_on=2), out, tmp_path / "data",
                            chunk_size=2, progress=False, num_frames=4)
    latest, _, _ = read_cache(out / "rationales.jsonl")
    assert set(latest) == {"r0"}  # r1 was waiting for its retry when the process died
    assert json.loads((out / "summary.json").read_text())["tasks"]["emo_c"]["accepted"] == 1
    with (out / "rationales.jsonl").open("a") as handle:
        handle.write('{"id": "r1", "task": "emo_c", "acc')  # a line cut by the crash

    before = len(api.hits)
    summary = run(records, api.base_url, out, tmp_path, max_attempts=3)
    again = Counter(record_id(h.body) for h in api.hits[before:])
    assert again == {"r1": 1, "r2": 3, "r3": 1, "r4": 1}  # not r0; r1 from scratch (the server already erred once)
    assert summary["unreadable_lines"] == 1
    assert summary["tasks"]["emo_c"]["accepted"] == 3


def test_dead_server_fails_records_and_a_rerun_recovers(tmp_path, chat_server):
    _, records = write_dataset(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    summary = run(records, dead, tmp_path / "out", tmp_path, max_attempts=2)
    assert summary["total"]["failed"] == 6 and summary["total"]["accepted"] == 0
    latest, _, _ = read_cache(tmp_path / "out" / "rationales.jsonl")
    assert "connection error" in latest["r0"]["error"]

    api = teacher_server(chat_server)
    summary = run(records, api.base_url, tmp_path / "out", tmp_path, max_attempts=2)
    assert summary["total"]["accepted"] == 4 and summary["total"]["rejected"] == 1
    assert summary["total"]["failed"] == 1  # r5: media


def test_judge_normalises_answer_lines():
    record = Record("x", "emo_c", "image", "a.png", "q", "fear", "s", "train", EKMAN)
    verdict = judge(record, "Wide eyes, hands up.\n**Answer:** Fear.")
    assert verdict.accepted and verdict.normalised
    assert verdict.rationale == "Wide eyes, hands up.\nAnswer: fear"
    assert judge(record, "Wide eyes.\nAnswer: fear").normalised is False
    assert not judge(record, "Answer: fear").accepted  # no reasoning at all
    rejected = judge(record, "Smiling.\nAnswer: joy")
    assert not rejected.accepted and rejected.parsed == "joy" and rejected.rationale == "Smiling.\nAnswer: joy"
    assert not judge(record, "I cannot tell.").accepted
    free = "Wide eyes and a raised hand show fear."
    assert judge(record, free).accepted
    strict = judge(record, free, require_answer_line=True)
    assert not strict.accepted and strict.reason == "no final answer line"


def test_prompt_carries_ground_truth_and_text():
    record = Record("x", "hate", "image", "a.png", "Is the given image hateful? Answer yes or no.", "no", "s",
                    "train", [], "we  love\nall of you")
    prompt = teacher_prompt(record)
    assert "The correct answer is: no" in prompt and 'text is: "we love all of you"' in prompt
    assert prompt.rstrip().endswith("Answer: no")
    with pytest.raises(ValueError, match="must contain"):
        check_template("Explain {question}")
    with pytest.raises(ValueError, match="unknown field"):
        check_template("{answer} {colour}")
    assert check_template(RATIONALE_PROMPT) == RATIONALE_PROMPT


def test_cli_generate_then_to_llava(tmp_path, chat_server, capsys):
    data, records = write_dataset(tmp_path, with_test_record=True)
    api = teacher_server(chat_server)
    out = tmp_path / "out"
    code = emollm(["emoprompt", "generate", "--data", str(data), "--out", str(out), "--base-url", api.base_url,
                   "--model", "teacher", "--api-key-env", "", "--max-attempts", "2", "--num-frames", "4",
                   "--max-retries", "0", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped records of other splits (1 test)" in printed
    assert re.search(r"emo_c\s+3\s+1\s+0\s+25\.0%", printed)
    assert "t0" not in hits_per_id(api)
    assert set(load_accepted(out)) == {"r0", "r1", "r3", "r4"}

    llava = tmp_path / "llava.json"
    assert emollm(["emoprompt", "to-llava", "--data", str(data), "--rationales", str(out), "--out", str(llava)]) == 0
    printed = capsys.readouterr().out
    items = {item["id"]: item for item in json.loads(llava.read_text())}
    assert set(items) == {"r0", "r1", "r2", "r3", "r4", "r5"}
    r0 = items["r0"]
    # the same fields as `emollm data build`'s llava/train.json (one emitter: records.llava_entry)
    assert set(r0) == {"id", "image", "conversations", "task", "options", "source"}
    assert r0["options"] == list(records[0].options) and r0["source"] == records[0].source
    assert items["r4"]["options"] == ["yes", "no"]  # a yes/no task is scored against yes/no
    assert Path(r0["image"]).is_absolute() and Path(r0["image"]).is_file()
    assert r0["conversations"][0] == {"from": "human", "value": "<image>\n" + records[0].question}
    assert r0["conversations"][1]["from"] == "gpt" and r0["conversations"][1]["value"].endswith("\nAnswer: joy")
    assert "video" in items["r4"] and Path(items["r4"]["video"]).is_file()
    assert items["r2"]["conversations"][1]["value"] == "anger"  # rejected: falls back to the answer
    assert items["r5"]["conversations"][1]["value"] == "yes"
    assert "2 records had no accepted rationale" in printed

    emollm(["emoprompt", "to-llava", "--data", str(data), "--out", str(llava), "--answer-only",
            "--relative-to", str(data.parent)])
    items = {item["id"]: item for item in json.loads(llava.read_text())}
    assert items["r0"]["image"] == "media/r0.png"
    assert [items[r]["conversations"][1]["value"] for r in ("r0", "r1", "r4")] == ["joy", "sadness", "no"]

    # --k puts demonstrations into the question, never the sample's own
    emollm(["emoprompt", "to-llava", "--data", str(data), "--rationales", str(out), "--out", str(llava),
            "--k", "2", "--seed", "1"])
    items = {item["id"]: item for item in json.loads(llava.read_text())}
    chosen = {e.id for e in select_exemplars(load_accepted(out).values(), 2, 1, "emo_c")}
    assert len(chosen) == 2
    for rid in ("r0", "r1", "r2", "r3"):
        human = items[rid]["conversations"][0]["value"]
        question = next(r.question for r in records if r.id == rid)
        assert human.startswith("<image>\nHere are examples") and human.endswith("Now answer:\n" + question)
        demos = human.split("Now answer:")[0]
        assert f"sample {rid}" not in demos  # never its own target
        assert demos.count("Example ") == (1 if rid in chosen else 2)
    assert "Here are examples" not in items["r4"]["conversations"][0]["value"]  # its only exemplar is itself


def test_cli_errors_are_clear(tmp_path, capsys):
    code = emollm(["emoprompt", "to-llava", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "x.json"),
                   "--answer-only"])
    assert code == 2 and "records file not found" in capsys.readouterr().err
    data, _ = write_dataset(tmp_path)
    code = emollm(["emoprompt", "to-llava", "--data", str(data), "--rationales", str(tmp_path / "nothing"),
                   "--out", str(tmp_path / "x.json")])
    assert code == 2 and "emollm emoprompt generate" in capsys.readouterr().err
