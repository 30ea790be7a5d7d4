"""OpenAITeacher against a real local HTTP server."""

from __future__ import annotations

import base64
import io
import logging
import time

import pytest
from PIL import Image

from emollm_plugin.emoprompt.teachers import (
    VIDEO_NOTE,
    OpenAITeacher,
    TeacherError,
    TeacherReply,
    TeacherRequest,
    parse_retry_after,
)

from .fakeapi import Reply, chat_body

KEY = "sk-test-9f8e7d6c5b4a"


@pytest.fixture
def key_env(monkeypatch) -> str:
    monkeypatch.setenv("EMOLLM_TEST_KEY", KEY)
    return "EMOLLM_TEST_KEY"


def make_teacher(api, key_env: str, **kwargs) -> OpenAITeacher:
    options = {"timeout": 2.0, "max_retries": 2, "concurrency": 2, "backoff_base": 0.01, "backoff_max": 0.05}
    options.update(kwargs)
    return OpenAITeacher(api.base_url, "teacher-model", api_key_env=key_env, **options)


def red(size: int = 8) -> Image.Image:
    return Image.new("RGB", (size, size), (220, 20, 20))


def test_normal_reply_sends_image_key_and_reads_usage(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(body=chat_body("Bright smile.\nAnswer: joy", 42, 7)))
    with make_teacher(api, key_env) as teacher:
        reply = teacher.complete(TeacherRequest("Why joy?", [red()], max_tokens=64, temperature=0.0))
    assert reply == TeacherReply("Bright smile.\nAnswer: joy", 42, 7)
    (hit,) = api.hits
    assert hit.path == "/v1/chat/completions"
    assert hit.headers["Authorization"] == f"Bearer {KEY}"
    assert hit.body["model"] == "teacher-model" and hit.body["max_tokens"] == 64
    parts = hit.body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (8, 8)
    assert parts[1]["text"] == "Why joy?"


def test_video_frames_follow_a_note(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(body=chat_body("ok")))
    with make_teacher(api, key_env) as teacher:
        teacher.complete(TeacherRequest("What happens?", [red(), red(), red()], video=True))
    parts = api.hits[0].body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url", "image_url", "text"]
    assert parts[0]["text"] == VIDEO_NOTE.format(n=3)


def test_429_honours_retry_after_then_succeeds(fake_api, key_env):
    def respond(body, i):
        if i == 0:
            return Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.4"})
        return Reply(body=chat_body("fine"))

    api = fake_api(respond)
    with make_teacher(api, key_env) as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "fine"
    assert len(api.hits) == 2
    # backoff alone would wait <= 0.05 s; the second request waited for Retry-After
    assert api.hits[1].at - api.hits[0].at >= 0.35


def test_500_then_success(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(500, {"error": "boom"}) if i == 0 else Reply(body=chat_body("fine")))
    with make_teacher(api, key_env) as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "fine"
    assert len(api.hits) == 2


def test_timeout_then_success(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(body=chat_body("late"), delay=1.0) if i == 0 else Reply(body=chat_body("fine")))
    with make_teacher(api, key_env, timeout=0.3) as teacher:
        start = time.monotonic()
        assert teacher.complete(TeacherRequest("q")).text == "fine"
    assert len(api.hits) == 2
    assert time.monotonic() - start < 1.0  # did not wait for the slow reply


def test_malformed_json_fails_after_all_retries(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(200, "{not json"))
    with make_teacher(api, key_env, max_retries=2) as teacher, pytest.raises(TeacherError, match="malformed"):
        teacher.complete(TeacherRequest("q"))
    assert len(api.hits) == 3


def test_missing_choices_counts_as_failed_attempt(fake_api, key_env):
    api = fake_api(lambda body, i: Reply(body={"object": "chat.completion"}) if i == 0 else Reply(body=chat_body("ok")))
    with make_teacher(api, key_env) as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "ok"
    assert len(api.hits) == 2


def test_401_is_not_retried_and_key_never_leaks(fake_api, key_env, caplog):
    caplog.set_level(logging.DEBUG)
    api = fake_api(lambda body, i: Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    with make_teacher(api, key_env) as teacher, pytest.raises(TeacherError) as info:
        teacher.complete(TeacherRequest("q"))
    assert len(api.hits) == 1
    message = str(info.value)
    assert "401" in message and "$EMOLLM_TEST_KEY" in message
    assert KEY not in message and "***" in message  # the echoed key is scrubbed
    assert KEY not in repr(teacher)
    assert KEY not in caplog.text


def test_retry_logs_do_not_contain_the_key(fake_api, key_env, caplog):
    caplog.set_level(logging.DEBUG)
    api = fake_api(lambda body, i: Reply(503, f"overloaded {KEY}") if i < 2 else Reply(body=chat_body("ok")))
    with make_teacher(api, key_env) as teacher:
        assert teacher.complete(TeacherRequest("q")).text == "ok"
    assert "retrying" in caplog.text
    assert KEY not in caplog.text


def test_no_key_sends_no_authorization(fake_api, monkeypatch):
    monkeypatch.delenv("EMOLLM_ABSENT_KEY", raising=False)
    api = fake_api(lambda body, i: Reply(body=chat_body("ok")))
    with OpenAITeacher(api.base_url, "m", api_key_env="EMOLLM_ABSENT_KEY") as teacher:
        teacher.complete(TeacherRequest("q"))
    assert "Authorization" not in api.hits[0].headers


def test_connection_refused_gives_up_with_clear_error(key_env):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    teacher = OpenAITeacher(f"http://127.0.0.1:{port}/v1", "m", api_key_env=key_env, max_retries=1,
                            backoff_base=0.01, timeout=1.0)
    with teacher, pytest.raises(TeacherError, match="gave up after 2 attempts.*connection error"):
        teacher.complete(TeacherRequest("q"))


def test_batch_keeps_order_bounds_concurrency_and_returns_errors(fake_api, key_env):
    def respond(body, i):
        prompt = body["messages"][-1]["content"][-1]["text"]
        if prompt == "bad":
            return Reply(400, {"error": {"message": "bad request"}})
        return Reply(body=chat_body(f"re:{prompt}"), delay=0.1)

    api = fake_api(respond)
    prompts = ["a", "b", "bad", "c", "d", "e"]
    with make_teacher(api, key_env, concurrency=2) as teacher:
        replies = teacher.complete_batch([TeacherRequest(p) for p in prompts])
    assert isinstance(replies[2], TeacherError) and "400" in str(replies[2])
    assert [r.text for i, r in enumerate(replies) if i != 2] == ["re:a", "re:b", "re:c", "re:d", "re:e"]
    assert api.max_in_flight == 2


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
