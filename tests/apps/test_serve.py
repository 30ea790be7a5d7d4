"""``emollm serve`` on the tiny trained model: the official ``openai`` client against the real command,
the bad-request guarantees over raw sockets, batching checked against unbatched generation, and the
demo page driven in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from emollm_plugin.apps.predict import parse_label, task_question
from emollm_plugin.emobench.tasks import TASKS
from tests.apps.browser import chromium, ink
from tests.conftest import REPO

EMOLLM = [sys.executable, "-m", "emollm_plugin.cli"]
KEY_ENV = "EMOLLM_TEST_SERVE_KEY"
KEY = "sk-test-4f9c2d81e0b7"
NAME = "emollm-tiny"
READ_TIMEOUT = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    url: str
    port: int
    log: Path


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory) -> Iterator[Served]:
    """The real command, with a key from the environment and a short body read timeout."""
    model, _ = trained
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*EMOLLM, "serve", "--model-path", str(model), "--port", str(port), "--num-frames", "2",
             "--model-name", NAME, "--api-key-env", KEY_ENV, "--read-timeout", str(READ_TIMEOUT)],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, KEY_ENV: KEY},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while True:
        try:
            if httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail("emollm serve did not come up:\n" + log.read_text()[-3000:])
        time.sleep(0.5)
    yield Served(url, port, log)
    process.terminate()
    process.wait(timeout=30)


def client(server: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=120)


def data_url(path: Path) -> str:
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".mp4": "video/mp4"}[path.suffix]
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode()


def media(emobench: Path, task: str, modality: str) -> Path:
    suffix = ".png" if modality == "image" else ".mp4"
    return sorted((emobench / "media" / "synth" / "test" / task).glob(f"*{suffix}"))[0]


def user_turn(question: str, *paths: Path, part: str = "image_url") -> dict:
    parts = [{"type": part, part: {"url": data_url(p)}} for p in paths]
    return {"role": "user", "content": [*parts, {"type": "text", "text": question}]}


QUESTION = task_question("hate", "image")


# --------------------------------------------------------------------------- the openai client


def test_openai_client_sync_and_stream_give_the_same_answer(server, trained):
    _, emobench = trained
    messages = [user_turn(QUESTION, media(emobench, "hate", "image"))]
    with client(server) as api:
        reply = api.chat.completions.create(model=NAME, messages=messages, max_tokens=24)
        chunks = list(api.chat.completions.create(model=NAME, messages=messages, max_tokens=24, stream=True,
                                                  stream_options={"include_usage": True}))
        text_only = api.chat.completions.create(model=NAME, messages=[{"role": "user", "content": QUESTION}],
                                                max_tokens=24)
    answer = reply.choices[0].message.content
    assert reply.model == NAME and reply.object == "chat.completion"
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [reply.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump() == reply.usage.model_dump()
    usage = reply.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    # the template and the image features count, not only the user's words
    assert text_only.usage.prompt_tokens > len(QUESTION.split()) + 20
    assert usage.prompt_tokens > text_only.usage.prompt_tokens + 8


def test_two_turn_conversations_with_the_image_in_either_turn(server, trained):
    _, emobench = trained
    image = media(emobench, "hate", "image")
    with client(server) as api:
        first = api.chat.completions.create(model=NAME, messages=[user_turn(QUESTION, image)], max_tokens=16)
        history = [user_turn(QUESTION, image), {"role": "assistant", "content": first.choices[0].message.content},
                   {"role": "user", "content": "Are you sure? Answer yes or no."}]
        second = api.chat.completions.create(model=NAME, messages=history, max_tokens=16)
        later = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello."},
                 {"role": "assistant", "content": "Hello."}, user_turn(QUESTION, image)]
        third = list(api.chat.completions.create(model=NAME, messages=later, max_tokens=16, stream=True))
        with pytest.raises(openai.BadRequestError, match="one image or one video per conversation"):
            api.chat.completions.create(model=NAME, messages=[*history[:2], user_turn("and this?", image)])
        with pytest.raises(openai.BadRequestError, match="last message must come from the user"):
            api.chat.completions.create(model=NAME, messages=history[:2])
    assert second.usage.prompt_tokens > first.usage.prompt_tokens + 4
    assert third[-1].choices[0].finish_reason in ("stop", "length")


def test_a_video_as_a_clip_or_as_frames(server, trained):
    _, emobench = trained
    clip = media(emobench, "hate", "video")
    frames = sorted((emobench / "media" / "synth" / "test" / "emo_c").glob("*.png"))[:2]
    question = task_question("hate", "video")
    with client(server) as api:
        as_clip = api.chat.completions.create(model=NAME, messages=[user_turn(question, clip)], max_tokens=8)
        as_video_part = api.chat.completions.create(
            model=NAME, messages=[user_turn(question, clip, part="video_url")], max_tokens=8)
        as_frames = api.chat.completions.create(model=NAME, messages=[user_turn(question, *frames)], max_tokens=8)
        image = api.chat.completions.create(model=NAME, messages=[user_turn(question, frames[0])], max_tokens=8)
    assert as_clip.choices[0].message.content == as_video_part.choices[0].message.content
    assert as_clip.usage.prompt_tokens == as_video_part.usage.prompt_tokens == as_frames.usage.prompt_tokens
    assert as_frames.usage.prompt_tokens > image.usage.prompt_tokens  # two frames take more room than one image
    broken = "data:video/mp4;base64," + base64.b64encode(b"not a video at all" * 10).decode()
    response = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, json={
        "model": NAME, "messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": broken}}, {"type": "text", "text": "q"}]}]})
    assert response.status_code == 400 and "cannot decode video" in response.json()["error"]["message"]


def test_the_model_name_is_checked(server):
    with client(server) as api:
        assert [m.id for m in api.models.list()] == [NAME]
        assert api.models.retrieve(NAME).id == NAME
        with pytest.raises(openai.NotFoundError, match="not served here"):
            api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        ({"messages": []}, 400, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, 400, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "a"}], "n": 2}, 400, "n: Input should be 1"),
        ({"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "a"}], "temperature": 7}, 400, "temperature"),
        ({"messages": [{"role": "user", "content": "a <image> b"}]}, 400, "reserves for the picture"),
        ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]}, 400,
         "must start with a user message"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]}]}, 400, "remote URLs"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!"}}]}]}, 400, "invalid base64"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]}, 400, "readable image"),
        ({"model": "other", "messages": [{"role": "user", "content": "a"}]}, 404, "not served here"),
    ],
)
def test_bad_bodies_get_clear_json_errors(server, payload, status, fragment):
    kwargs = {"content": payload} if isinstance(payload, bytes) else {"json": payload}
    response = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error["message"]
    assert error["code"] == status and error["type"] in ("invalid_request_error", "model_not_found")


def test_the_api_key_is_required(server):
    assert httpx.get(server.url + "/v1/models").status_code == 401
    wrong = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": "Bearer nope"},
                       json={"messages": [{"role": "user", "content": "hi"}]})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    assert httpx.get(server.url + "/").status_code == 200  # the page itself is static; its calls carry the key


# --------------------------------------------------------------------------- bad-request guarantees


def raw_exchange(port: int, data: bytes, wait: float = 10.0) -> tuple[float, bytes]:
    """Send raw bytes, return (seconds until the first reply bytes, the reply's status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(data)
        reply = sock.recv(4096)
        return time.monotonic() - started, reply.split(b"\r\n", 1)[0]


def post_head(length: str | None, extra: str = "") -> bytes:
    header = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\n{header}{extra}\r\n").encode()


def test_negative_missing_and_oversized_lengths_are_refused_at_once(server):
    for length, status in (("-1", b"400"), (None, b"411"), ("abc", b"400"), (str(64 * 2**20 + 1), b"413")):
        elapsed, line = raw_exchange(server.port, post_head(length) + b'{"messages": []}')
        assert status in line, (length, line)
        assert elapsed < 2, (length, elapsed)


def test_a_slow_client_gets_408_and_holds_up_no_one(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
        slow.sendall(post_head("5000") + b'{"messages": [')  # then nothing more
        started = time.monotonic()
        quick = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
        assert quick.status_code == 200 and time.monotonic() - started < 1.5
        reply = slow.recv(4096)
        waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert READ_TIMEOUT - 0.5 < waited < READ_TIMEOUT + 5


def test_an_over_long_prompt_is_refused_fast_and_the_server_stays_responsive(server, trained):
    headers = {"Authorization": f"Bearer {KEY}"}
    huge = "emotion " * 4_000_000  # 32 M characters: millions of tokens
    started = time.monotonic()
    response = httpx.post(server.url + "/v1/chat/completions", headers=headers, timeout=60,
                          json={"model": NAME, "messages": [{"role": "user", "content": huge}]})
    assert response.status_code == 400 and "characters" in response.json()["error"]["message"]
    assert time.monotonic() - started < 15
    over_context = "emotion " * 3000  # under the character cap, over the 2048-token context
    response = httpx.post(server.url + "/v1/chat/completions", headers=headers, timeout=60,
                          json={"model": NAME, "messages": [{"role": "user", "content": over_context}]})
    assert response.status_code == 400 and "context is 2048 tokens" in response.json()["error"]["message"]
    fits = httpx.post(server.url + "/v1/chat/completions", headers=headers, timeout=60,
                      json={"model": NAME, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
    assert fits.status_code == 200


# --------------------------------------------------------------------------- EmoBench helpers and the page


def test_tasks_questions_and_the_shared_parser(server):
    headers = {"Authorization": f"Bearer {KEY}"}
    tasks = httpx.get(server.url + "/v1/emobench/tasks", headers=headers).json()["tasks"]
    assert [t["name"] for t in tasks] == list(TASKS)
    assert tasks[0]["questions"]["video"] == task_question("emo_c", "video")
    question = httpx.get(server.url + "/v1/emobench/question", headers=headers,
                         params={"task": "hate", "modality": "image", "text": "so  funny"}).json()["question"]
    assert question == task_question("hate", "image", text="so funny")
    for task, answer in (("emo_c", "The colours are warm.\nAnswer: joy"), ("hate", "Yes and no."),
                         ("emo_o", "I feel happy")):
        reply = httpx.post(server.url + "/v1/emobench/parse", headers=headers, json={"task": task, "answer": answer})
        assert reply.json()["label"] == parse_label(task, answer)
    assert httpx.post(server.url + "/v1/emobench/parse", headers=headers,
                      json={"task": "nope", "answer": "x"}).status_code == 400


def test_the_page_streams_an_answer_for_an_uploaded_image(server, trained, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    _, emobench = trained
    image = media(emobench, "hate", "image")
    question = task_question("hate", "image")
    with client(server) as api:
        expected = api.chat.completions.create(model=NAME, messages=[user_turn(question, image)],
                                               max_tokens=256).choices[0].message.content
    with chromium() as page:
        page.get(server.url + "/")
        wait = WebDriverWait(page, 60)
        wait.until(lambda p: p.find_element(By.ID, "apikey").is_displayed())  # the server asked for a key
        page.find_element(By.ID, "apikey").send_keys(KEY)
        page.execute_script("document.getElementById('apikey').dispatchEvent(new Event('change'))")
        wait.until(lambda p: len(p.find_elements(By.CSS_SELECTOR, "#task option")) == len(TASKS))
        wait.until(lambda p: NAME in p.find_element(By.ID, "model").text)
        Select(page.find_element(By.ID, "task")).select_by_value("hate")
        page.find_element(By.ID, "file").send_keys(str(image))
        wait.until(lambda p: p.find_element(By.ID, "question").get_attribute("value") == question
                   and p.find_element(By.ID, "ask").is_enabled())
        blank = page.find_element(By.ID, "answer").screenshot_as_png
        page.find_element(By.ID, "ask").click()
        wait.until(lambda p: p.find_element(By.ID, "result").is_displayed())
        shown = page.find_element(By.ID, "answer").text
        label = page.find_element(By.ID, "label").text
        answer_png = page.find_element(By.ID, "answer").screenshot_as_png
        (tmp_path / "page.png").write_bytes(page.get_screenshot_as_png())
        assert page.find_element(By.ID, "error").text == ""
    assert shown == (expected or "(the model gave an empty answer)")
    parsed = parse_label("hate", expected)
    assert label == (parsed if parsed is not None else "unreadable")
    assert ink(blank) == 0 and ink(answer_png) > 30  # the answer is drawn on the page


def test_the_key_is_never_logged(server):
    text = server.log.read_text()
    assert "POST /v1/chat/completions" in text  # the log is the server's access log
    assert KEY not in text


# --------------------------------------------------------------------------- batching, in process


@pytest.fixture(scope="module")
def runner(trained):
    from emollm_plugin.llava_glue.inference import load_runner

    model, _ = trained
    return load_runner(str(model), num_frames=2)


@pytest.fixture
def in_process(runner):
    """The real app on uvicorn in a thread, over the runner this test also calls directly."""
    from emollm_plugin.apps.serve import ChatService, Limits, running_in_thread

    service = ChatService(runner, NAME, limits=Limits(max_batch=8, batch_window_s=0.2))
    with running_in_thread(service) as url:
        yield url, service


def test_concurrent_requests_run_as_one_batch_with_unbatched_answers(in_process, runner, trained):
    from emollm_plugin.emobench.media import load_frames, load_image

    url, service = in_process
    _, emobench = trained
    records = [json.loads(line) for task in ("hate", "emo_c") for line in
               (emobench / "test" / f"{task}.jsonl").read_text().splitlines()]
    loaded = [[load_image(emobench / r["media"])] if r["modality"] == "image" else
              load_frames(emobench / r["media"], num_frames=2) for r in records]
    alone = [runner.generate([r["question"]], [m], max_new_tokens=12)[0] for r, m in zip(records, loaded, strict=True)]

    def ask(record: dict) -> str:
        body = {"model": NAME, "max_tokens": 12,
                "messages": [user_turn(record["question"], emobench / record["media"])]}
        reply = httpx.post(url + "/v1/chat/completions", json=body, timeout=120)
        reply.raise_for_status()
        return reply.json()["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(len(records)) as pool:
        served = list(pool.map(ask, records))
    assert served == alone
    assert max(service.batcher.batches) > 1, service.batcher.batches


def test_each_row_stops_at_its_own_max_tokens(in_process, runner, trained):
    from emollm_plugin.emobench.media import load_image

    url, _ = in_process
    _, emobench = trained
    image = media(emobench, "hate", "image")
    expected = {n: runner.generate([QUESTION], [[load_image(image)]], max_new_tokens=n)[0] for n in (1, 16)}

    def ask(n: int) -> dict:
        body = {"model": NAME, "max_tokens": n, "messages": [user_turn(QUESTION, image)]}
        return httpx.post(url + "/v1/chat/completions", json=body, timeout=120).json()

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, (1, 16, 1, 16)))
    for n, reply in zip((1, 16, 1, 16), replies, strict=True):
        assert reply["choices"][0]["message"]["content"] == expected[n]
        assert reply["usage"]["completion_tokens"] <= n
    if expected[1] != expected[16]:
        assert replies[0]["choices"][0]["finish_reason"] == "length"
