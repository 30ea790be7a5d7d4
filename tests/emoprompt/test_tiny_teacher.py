"""EmoPrompt with a real tiny EmoLLM as the teacher: through `emollm serve` (the OpenAI protocol)
and in-process, a killed run resumed, the output turned into LLaVA data and exemplars used by
the EmoBench tasks."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from emollm_plugin.emoprompt.exemplars import EXEMPLAR_HEADER
from tests.conftest import REPO

EMOLLM = [sys.executable, "-m", "emollm_plugin.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained):
    model, _ = trained
    port = free_port()
    process = subprocess.Popen([*EMOLLM, "serve", "--model-path", str(model), "--port", str(port), "--model-name", "emollm"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as reply:
                assert reply.status == 200
                break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail("emollm serve did not come up:\n" + (process.stdout.read() or "")[-3000:])
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


def summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


def cached(folder) -> list[dict]:
    """Entries of the rationale cache; a line a kill cut short is skipped, as the generator does."""
    entries = []
    for line in (folder / "rationales.jsonl").read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def test_rationales_through_emollm_serve(trained, server, tmp_path):
    _, emobench = trained
    out = tmp_path / "served"
    result = subprocess.run(
        [*EMOLLM, "emoprompt", "generate", "--data", str(emobench / "records" / "synth.jsonl"), "--out", str(out),
         "--teacher", "openai", "--base-url", server, "--model", "emollm", "--api-key-env", "EMOLLM_TEST_KEY",
         "--limit", "6", "--max-attempts", "2", "--num-frames", "2", "--no-progress"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "EMOLLM_TEST_KEY": "not-a-secret"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    totals = summary(out)["total"]
    assert totals["accepted"] + totals["rejected"] == 6 and totals["failed"] == 0
    assert totals["prompt_tokens"] > 0 and totals["completion_tokens"] > 0
    assert "not-a-secret" not in result.stdout + result.stderr


def test_local_teacher_killed_run_resumes_then_feeds_training_and_eval(trained, tmp_path):
    model, emobench = trained
    out = tmp_path / "local"
    records = emobench / "records" / "synth.jsonl"
    command = [*EMOLLM, "emoprompt", "generate", "--data", str(records), "--out", str(out), "--teacher", "local",
               "--model-path", str(model), "--num-frames", "2", "--batch-size", "1", "--max-attempts", "1",
               "--limit", "48", "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 300
    while not (out / "rationales.jsonl").exists() or len(cached(out)) < 1:
        assert process.poll() is None, "generation ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {entry["id"] for entry in cached(out)}
    assert 1 <= len(done_before) < 48, "the kill must land mid-run"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    entries = cached(out)
    ids = [entry["id"] for entry in entries]
    assert len(set(ids)) == 48 and len(ids) == 48, "no record asked twice, none lost"
    assert f"{len(done_before)} already done" in rerun.stdout

    llava = tmp_path / "train.json"
    subprocess.run([*EMOLLM, "emoprompt", "to-llava", "--data", str(records), "--rationales", str(out),
                    "--out", str(llava)], check=True, capture_output=True, timeout=120)
    items = json.loads(llava.read_text())
    accepted = {e["id"]: e for e in entries if e.get("status") == "accepted"}
    assert len(items) == 72, "every train-split record (12 per task x 6 tasks), rationale or not"
    for item in items:
        target = item["conversations"][1]["value"]
        if item["id"] in accepted:
            assert target.endswith("Answer: " + accepted[item["id"]]["answer"])
        assert item["conversations"][0]["value"].startswith("<image>\n")

    # A 12-step tiny model is a poor teacher (all 12 rejected when measured), which is why the
    # exemplar half below uses a scripted teacher.


def scripted_teacher(body: dict | None, index: int):
    """An OpenAI-compatible teacher that reasons towards the answer its prompt gives it."""
    from tests.emoprompt.chat_server import Reply, chat_body

    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    answer = re.search(r"The correct answer is: (.+)", text).group(1).strip()
    return Reply(body=chat_body(f"The colours and the shape carry the cue. Answer: {answer}"))


def test_exemplars_from_accepted_rationales_reach_emollm_prompts(trained, chat_server, tmp_path):
    model, emobench = trained
    api = chat_server(scripted_teacher)
    out = tmp_path / "scripted"
    subprocess.run(
        [*EMOLLM, "emoprompt", "generate", "--data", str(emobench / "records" / "synth.jsonl"), "--out", str(out),
         "--teacher", "openai", "--base-url", api.base_url, "--model", "scripted", "--api-key-env", "NO_KEY",
         "--limit", "12", "--no-progress"],
        check=True, capture_output=True, timeout=300,
    )
    assert summary(out)["total"]["accepted"] == 12
    exemplars = tmp_path / "exemplars.json"
    subprocess.run([*EMOLLM, "emoprompt", "exemplars", "--rationales", str(out), "--k", "1", "--out",
                    str(exemplars)], check=True, capture_output=True, timeout=120)
    chosen = json.loads(exemplars.read_text())
    task = "emo_c"  # the first 12 records of the file are emo_c's
    assert chosen[task], chosen
    eval_dir = tmp_path / "eval"
    subprocess.run([*EMOLLM, "eval", "--model", "emollm", "--model_args", f"pretrained={model},num_frames=2",
                    "--tasks", f"emobench_{task}", "--emobench-dir", str(emobench), "--output", str(eval_dir),
                    "--limit", "2", "--k", "1", "--exemplars", str(exemplars)],
                   capture_output=True, text=True, timeout=600)
    samples = next(eval_dir.rglob(f"*samples_emobench_{task}.jsonl")).read_text().splitlines()
    prompts = [json.loads(line)["input"] for line in samples]
    assert len(prompts) == 2 and all(p.startswith(EXEMPLAR_HEADER) for p in prompts)
    assert all(chosen[task][0]["reasoning"] in p for p in prompts)
