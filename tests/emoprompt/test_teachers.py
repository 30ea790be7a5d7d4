"""OpenAITeacher (the official ``openai`` client) against a real local OpenAI-compatible server.

The server (``chat_server.py``) is scripted per test: the client's own transport, retries,
``Retry-After`` handling and timeouts run as they would against a remote endpoint.
"""

from __future__ import annotations

import base64
import io
import logging
import socket
import time

import pytest
from PIL import Image

from emollm_plugin.emoprompt.teachers import (
    VIDEO_NOTE,
    OpenAITeacher,
    TeacherError,
    TeacherReply,
    TeacherRequest,
)

from .chat_server import Reply, chat_body

KEY = "sk-test-9f8e7d6c5b4a"


@pytest.fixture
def key_env(monkeypatch) -> str:
    monkeypatch.setenv("EMOLLM_TEST_KEY", KEY)
    return "EMOLLM_TEST_KEY"


def make_teacher(api, key_env: str | None, **kwargs) -> OpenAITeacher:
    options = {"timeout": 2.0, "max_retries": 2, "concurrency": 2}
    options.update(kwargs)
    return OpenAITeacher(api.base_url, "teacher-model", api_key_env=key_env, **options)


def red(size: int = 8) -> Image.Image:
    return Image.new("RGB", (size, size), (220, 20, 20))


def test_normal_reply_sends_image_key_and_reads_usage(chat_server, key_env):
    api = chat_server(lambda body, i: Reply(body=chat_body("Bright smile.\nAnswer: joy", 42, 7)))
    with make_teacher(api, key_env) as teacher:
        reply = teacher.complete(TeacherRequest("Why joy?", [red()], max_tokens=64, temperature=0.0))
    assert reply == TeacherReply("Bright smile.\nAnswer: joy", 42, 7)
    (hit,) = api.hits
    assert hit.path == "/v1/chat/completions"
    assert hit.headers["authorization"] == f"Bearer {KEY}"
    assert hit.body["model"] == "teacher-model" and hit.body["max_tokens"] == 64
    parts = hit.body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (8, 8)
    assert parts[1]["text"] == "Why joy?"


def test_video_frames_follow_a_note(chat_server, key_env):
    api = chat_server(lambda body, i: Reply(body=chat_body("ok")))
    with make_teacher(api, key_env) as teacher:
        teacher.complete(TeacherRequest("What happens?", [red(), red(), red()], video=True))
    parts = api.hits[0].body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "image_url", "text"]
    assert parts[0]["text"] == VIDEO_NOTE.format(n=3)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_and_overload_are_retried_after_retry_after(chat_server, key_env, caplog, status):
    caplog.set_level(logging.DEBUG)

    def respond(body, i):
        if i == 0:
            return Reply(status, {"error": {"message": f"slow down, {KEY}"}}, {"Retry-After": "1"})
        return Reply(body=chat_body("fine"))

    api = chat_server(respond)
    with make_teacher(api, key_env) as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "fine"
    assert len(api.hits) == 2
    # the client's own back-off before a first retry is at most 0.5 s; the server asked for 1 s
    assert api.hits[1].at - api.hits[0].at >= 0.95
    assert "Retrying request" in caplog.text
    assert KEY not in caplog.text


def test_retries_run_out_with_a_clear_error(chat_server, key_env):
    api = chat_server(lambda body, i: Reply(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"}))
    with make_teacher(api, key_env, max_retries=2) as teacher, pytest.raises(TeacherError) as info:
        teacher.complete(TeacherRequest("q"))
    assert len(api.hits) == 3
    assert "HTTP 503; gave up after up to 2 retries" in str(info.value) and "overloaded" in str(info.value)


def test_timeout_is_retried_without_waiting_for_the_slow_reply(chat_server, key_env):
    api = chat_server(lambda body, i: Reply(body=chat_body("late"), delay=3.0) if i == 0 else Reply(body=chat_body("ok")))
    with make_teacher(api, key_env, timeout=0.3) as teacher:
        start = time.monotonic()
        assert teacher.complete(TeacherRequest("q")).text == "ok"
        assert time.monotonic() - start < 2.0
    assert len(api.hits) == 2


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "check that $EMOLLM_TEST_KEY holds a valid key"), (403, "lacks access"), (404, "check --base-url")],
)
def test_auth_and_not_found_errors_are_not_retried_and_name_the_fix(chat_server, key_env, caplog, status, hint):
    caplog.set_level(logging.DEBUG)
    api = chat_server(lambda body, i: Reply(status, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    with make_teacher(api, key_env, max_retries=3) as teacher, pytest.raises(TeacherError) as info:
        teacher.complete(TeacherRequest("q"))
    assert len(api.hits) == 1
    message = str(info.value)
    assert f"HTTP {status}" in message and hint in message and "not retried" in message
    assert KEY not in message and "***" in message  # the echoed key is scrubbed
    assert KEY not in repr(teacher) and "$EMOLLM_TEST_KEY (set)" in repr(teacher)
    assert KEY not in caplog.text


def test_a_body_that_is_not_a_chat_completion_fails_clearly(chat_server, key_env):
    for body in ("{not json", {"object": "chat.completion"}):
        api = chat_server(lambda b, i, body=body: Reply(200, body))
        with make_teacher(api, key_env) as teacher, pytest.raises(TeacherError, match="malformed response"):
            teacher.complete(TeacherRequest("q"))
        assert len(api.hits) == 1


def test_no_key_sends_no_authorization(chat_server, monkeypatch, caplog):
    monkeypatch.delenv("EMOLLM_ABSENT_KEY", raising=False)
    api = chat_server(lambda body, i: Reply(body=chat_body("ok")))
    with caplog.at_level(logging.WARNING), make_teacher(api, "EMOLLM_ABSENT_KEY") as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "ok"
    assert "authorization" not in api.hits[0].headers
    assert "$EMOLLM_ABSENT_KEY is empty or unset" in caplog.text
    with make_teacher(api, None) as teacher:  # --api-key-env '': no key, and no warning
        teacher.complete(TeacherRequest("q"))
    assert "authorization" not in api.hits[1].headers


def test_connection_refused_gives_up_with_clear_error(key_env):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    teacher = OpenAITeacher(f"http://127.0.0.1:{port}/v1", "m", api_key_env=key_env, max_retries=1, timeout=1.0)
    with teacher, pytest.raises(TeacherError, match="connection error after 1 retries.*is the server running"):
        teacher.complete(TeacherRequest("q"))


def test_batch_keeps_order_bounds_concurrency_and_returns_errors(chat_server, key_env):
    def respond(body, i):
        prompt = body["messages"][-1]["content"][-1]["text"]
        if prompt == "bad":
            return Reply(400, {"error": {"message": "bad request"}})
        return Reply(body=chat_body(f"re:{prompt}"), delay=0.1)

    api = chat_server(respond)
    prompts = ["a", "b", "bad", "c", "d", "e"]
    with make_teacher(api, key_env, concurrency=2) as teacher:
        replies = teacher.complete_batch([TeacherRequest(p) for p in prompts])
    assert isinstance(replies[2], TeacherError) and "HTTP 400" in str(replies[2]) and "bad request" in str(replies[2])
    assert [r.text for i, r in enumerate(replies) if i != 2] == ["re:a", "re:b", "re:c", "re:d", "re:e"]
    assert api.max_in_flight == 2
