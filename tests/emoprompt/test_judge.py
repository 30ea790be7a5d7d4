"""The judge against a real local OpenAI-compatible server (tests/emoprompt/chat_server.py), then offline from its cache.

Scores in the comments are computed by hand from the scripted replies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.emoprompt.judge import (
    Judge,
    JudgeCache,
    JudgeSample,
    cache_key,
    load_prompts,
    parse_score,
    summarize,
)

from .chat_server import Reply, chat_body, user_text

#: (task, id, label, answer) -> scripted (recognition reply, reasoning reply)
SCRIPT = {
    "s1": ("The answer names joy.\nScore: 1", "A bare label, no cue.\nScore: 0"),
    "s2": ("Correct.\nScore: 1", "The smile is visible and supports joy.\nScore: 2"),
    "s3": ("Anger is not sadness.\nScore: 0", "I would rather not say."),  # no score line: a failure
    "s4": ("Yes matches.\nScore: 1", "Partly supported.\nScore: 1"),
}
SAMPLES = [
    ("emo_c", "s1", "joy", "Answer: joy"),
    ("emo_c", "s2", "joy", "The smile and raised cheeks show joy.\nAnswer: joy"),
    ("emo_c", "s3", "sadness", "Answer: anger"),
    ("hate", "s4", "yes", "yes"),
]
# emo_c: recognition (1 + 1 + 0) / 3 = 2/3; reasoning (0 + 1 + 0) / 3 = 1/3 (s3 failed: 0);
#        combined ((1+0)/2 + (1+1)/2 + (0+0)/2) / 3 = 1/2
# hate:  recognition 1, reasoning 1/2, combined 3/4
EXPECTED = {
    "emo_c": {"n": 3, "recognition": 2 / 3, "reasoning": 1 / 3, "combined": 0.5,
              "failures": {"recognition": 0, "reasoning": 1}},
    "hate": {"n": 1, "recognition": 1.0, "reasoning": 0.5, "combined": 0.75,
             "failures": {"recognition": 0, "reasoning": 0}},
}


def script(body: dict | None, index: int) -> Reply:
    text = user_text(body)
    kind = 1 if "grading the reasoning" in text else 0
    for sid, replies in SCRIPT.items():
        answer = next(a for _, i, _, a in SAMPLES if i == sid)
        if f"<<<\n{answer}\n>>>" in text:
            return Reply(body=chat_body(replies[kind]) | {"model": "fake-judge-v1"})
    return Reply(status=400, body={"error": {"message": "unknown sample"}})


def samples(media: Path | None = None) -> list[JudgeSample]:
    return [
        JudgeSample(task, sid, f"Question {sid}?", label, answer, task_title=task,
                    media_path=str(media) if media else None)
        for task, sid, label, answer in SAMPLES
    ]


def scores(verdicts) -> dict:
    out = summarize(verdicts)
    return {task: {k: v for k, v in s.items() if k != "failed"} for task, s in out.items()}


def assert_expected(result: dict) -> None:
    assert result.keys() == EXPECTED.keys()
    for task, expected in EXPECTED.items():
        got = result[task]
        assert (got["n"], got["failures"]) == (expected["n"], expected["failures"])
        for key in ("recognition", "reasoning", "combined"):
            assert got[key] == pytest.approx(expected[key]), (task, key)


def test_parse_score() -> None:
    assert parse_score("fine\nScore: 1", "recognition") == 1.0
    assert parse_score("**Score:** 2", "reasoning") == 1.0
    assert parse_score("score = 1", "reasoning") == 0.5
    assert parse_score("Score: 0 at first. Score: 1", "recognition") == 1.0  # the last one
    assert parse_score("Score: 2", "recognition") is None  # out of range
    assert parse_score("Score: 3", "reasoning") is None
    assert parse_score("looks right", "recognition") is None
    assert parse_score(None, "reasoning") is None


def test_prompts_ship_as_files_with_their_hashes() -> None:
    prompts = load_prompts()
    assert {p.path.name for p in prompts.values()} == {"judge_recognition.txt", "judge_reasoning.txt"}
    sample = samples()[1]
    text = prompts["reasoning"].render(sample)
    assert "Correct label: joy" in text and "<<<\nThe smile and raised cheeks" in text
    assert len({p.sha256 for p in prompts.values()}) == 2


def test_judged_scores_then_the_same_offline_from_the_cache(chat_server, tmp_path: Path, monkeypatch) -> None:
    image = tmp_path / "face.png"
    Image.new("RGB", (16, 16), (240, 200, 20)).save(image)
    monkeypatch.setenv("JUDGE_KEY", "sk-test-123")
    server = chat_server(script)
    cache_file = tmp_path / "cache.jsonl"

    cache = JudgeCache(cache_file)
    judge = Judge(server.base_url, "judge-model", cache, api_key_env="JUDGE_KEY", max_retries=0, timeout=10)
    first = judge.judge_all(samples(image))
    cache.close()
    assert_expected(scores(first))
    assert (judge.stats.calls, judge.stats.hits) == (8, 0)
    assert judge.stats.served_models == {"fake-judge-v1"}
    (failure,) = [v for v in first if not v.ok]
    assert (failure.id, failure.kind) == ("s3", "reasoning") and "no valid 'Score:' line" in failure.error

    # what went over the wire: temperature 0, the model, the key, the image before the prompt
    assert len(server.hits) == 8
    hit = server.hits[0]
    assert hit.path == "/v1/chat/completions"
    assert hit.body["temperature"] == 0 and hit.body["model"] == "judge-model"
    assert hit.headers.get("authorization") == "Bearer sk-test-123"
    parts = hit.body["messages"][-1]["content"]
    assert parts[0]["type"] == "image_url" and parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    # every reply is cached, the unreadable one too (it is what the judge said)
    lines = [json.loads(line) for line in cache_file.read_text().splitlines()]
    assert len(lines) == 8 and {line["reply"] for line in lines} >= {"I would rather not say."}
    assert all("sk-test-123" not in line for line in cache_file.read_text().splitlines())

    # the server is gone: the same numbers from the cache, no request made
    server.close()
    cache = JudgeCache(cache_file)
    offline = Judge(server.base_url, "judge-model", cache, api_key_env="JUDGE_KEY", max_retries=0, timeout=2)
    second = offline.judge_all(samples(image))
    assert scores(second) == scores(first)
    assert (offline.stats.calls, offline.stats.hits, offline.stats.hit_rate) == (8, 8, 1.0)
    assert [v.score for v in second] == [v.score for v in first]


def test_transport_failures_count_and_are_not_cached(chat_server, tmp_path: Path) -> None:
    def flaky(body: dict | None, index: int) -> Reply:
        if "<<<\nyes\n>>>" in user_text(body):
            return Reply(status=500, body={"error": {"message": "overloaded"}})
        return script(body, index)

    server = chat_server(flaky)
    cache = JudgeCache(tmp_path / "cache.jsonl")
    judge = Judge(server.base_url, "judge-model", cache, max_retries=0, timeout=10)
    verdicts = judge.judge_all(samples())
    cache.close()
    result = summarize(verdicts)
    # hate s4: both judgments failed (HTTP 500) and score 0, but s4 stays in the mean
    assert result["hate"]["n"] == 1 and result["hate"]["combined"] == 0.0
    assert result["hate"]["failures"] == {"recognition": 1, "reasoning": 1}
    assert all("InternalServerError" in item["error"] for item in result["hate"]["failed"])
    assert result["emo_c"]["combined"] == pytest.approx(0.5)
    assert len(cache.entries) == 6  # the two failed calls left nothing to replay
    # no api_key_env: no Authorization header at all (not a made-up bearer token)
    assert server.hits and all("authorization" not in hit.headers for hit in server.hits)


def test_a_changed_prompt_or_model_is_a_new_key(tmp_path: Path) -> None:
    prompts = load_prompts()
    sample = samples()[0]
    base = cache_key(prompts["recognition"], sample, "m", "none")
    folder = tmp_path / "prompts"
    folder.mkdir()
    for prompt in prompts.values():
        (folder / prompt.path.name).write_text(prompt.text + "\nBe strict.\n")
    edited = load_prompts(folder)
    assert cache_key(edited["recognition"], sample, "m", "none") != base
    assert cache_key(prompts["recognition"], sample, "other-model", "none") != base
    assert cache_key(prompts["recognition"], sample, "m", "image") != base
    other_answer = JudgeSample(sample.task, sample.id, sample.question, sample.label, "Answer: fear")
    assert cache_key(prompts["recognition"], other_answer, "m", "none") != base
    assert cache_key(prompts["recognition"], sample, "m", "none") == base


@pytest.mark.slow
def test_emollm_judge_on_a_real_run_then_offline(chat_server, tmp_path_factory) -> None:
    """`emollm judge` over lmms-eval's output of a real run, then rerun with the server stopped."""
    from tests.emobench_fixtures import session_runs

    run = session_runs(tmp_path_factory.mktemp("eval_runs"))["good"]
    assert run.returncode == 0, run.output[-2000:]

    def answer_all(body: dict | None, index: int) -> Reply:
        text = user_text(body)
        if "grading the reasoning" in text:
            return Reply(body=chat_body("No cue is stated.\nScore: 0"))
        # the dummy model answers "joy yes greet": right where the label is joy, yes or greet
        label = text.split("Correct label: ", 1)[1].split("\n", 1)[0]
        return Reply(body=chat_body(f"Score: {int(label in ('joy', 'yes', 'greet'))}"))

    server = chat_server(answer_all)
    cache = tmp_path_factory.mktemp("judge") / "cache.jsonl"
    command = [sys.executable, "-m", "emollm_plugin.cli", "judge", str(run.out), "--base-url", server.base_url,
               "--model", "judge-model", "--cache", str(cache)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert f"judge: judge-model at {server.base_url}" in first.stdout
    assert "0/48 judgments from the cache (hit rate 0.0%)" in first.stdout
    # recognition = the dummy's accuracy per task (EXPECTED_ACCURACY); reasoning 0; combined = half
    assert "emo_c        4         50.0        0.0      25.0         0" in first.stdout
    assert "hate         4         25.0        0.0      12.5         0" in first.stdout
    report = json.loads((run.out / "judge.json").read_text())
    assert report["tasks"]["sarcasm"]["recognition"] == pytest.approx(0.75)

    server.close()
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "48/48 judgments from the cache (hit rate 100.0%)" in second.stdout
    table = lambda out: out[out.index("task "):]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)
    assert json.loads((run.out / "judge.json").read_text())["tasks"] == report["tasks"]


@pytest.mark.slow
def test_emollm_serve_as_the_judge_then_offline(trained, tmp_path_factory) -> None:
    """The real `emollm serve` over the tiny checkpoint judges a run; the rerun without it is identical.

    A tiny model cannot grade: its replies have no ``Score:`` line, so every judgment is a counted
    failure (the command says so and exits 1), and the cache replays exactly those replies.
    """
    import select
    import time

    from tests.emobench_fixtures import session_runs

    checkpoint, _ = trained
    run = session_runs(tmp_path_factory.mktemp("eval_runs"))["good"]
    serve = subprocess.Popen(
        [sys.executable, "-m", "emollm_plugin.cli", "serve", "--model-path", str(checkpoint), "--port", "0",
         "--model-name", "tiny-judge"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url, deadline, seen = None, time.monotonic() + 300, []
        while url is None and time.monotonic() < deadline and serve.poll() is None:
            if select.select([serve.stdout], [], [], 1.0)[0]:
                line = serve.stdout.readline()
                seen.append(line)
                if " and http://" in line and "/v1 " in line:
                    url = line.split(" and ", 1)[1].split(" ", 1)[0]
        assert url, "".join(seen)[-2000:]
        folder = tmp_path_factory.mktemp("judge")
        cache, out = folder / "cache.jsonl", folder / "judge.json"
        command = [sys.executable, "-m", "emollm_plugin.cli", "judge", str(run.out), "--base-url", url,
                   "--model", "tiny-judge", "--cache", str(cache), "--tasks", "emo_c,hate", "--limit", "1",
                   "--out", str(out)]
        first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    assert "judge: tiny-judge at " in first.stdout and "server reports: tiny-judge" in first.stdout, first.stderr
    assert "0/4 judgments from the cache" in first.stdout
    assert len(cache.read_text().splitlines()) == 4  # four replies came back and were cached
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)  # the server is gone
    assert "4/4 judgments from the cache (hit rate 100.0%)" in second.stdout
    assert second.returncode == first.returncode
    table = lambda out: out[out.index("task "):]  # noqa: E731
    assert table(second.stdout) == table(first.stdout)
    report = json.loads(out.read_text())
    assert {task: s["n"] for task, s in report["tasks"].items()} == {"emo_c": 1, "hate": 1}
