"""``emollm serve`` over a stand-in for the runner's ``generate``, driven by the plugin's own OpenAITeacher.

The stand-in implements our own runner interface (``EmoLLMRunner.generate``), not an upstream
framework; the tiny-model end-to-end run lives with the runner's tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from emollm_plugin.apps.serve import make_server
from emollm_plugin.emoprompt.teachers import VIDEO_NOTE, OpenAITeacher, TeacherError, TeacherRequest


class StandInRunner:
    """Records what it was given and answers with a summary of it."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def generate(self, prompts, media, max_new_tokens=128, temperature=0.0):
        self.calls.append({"prompts": prompts, "media": media, "max_new_tokens": max_new_tokens,
                           "temperature": temperature})
        if "explode" in prompts[0]:
            raise RuntimeError("model exploded")
        items = media[0] or []
        return [f"saw {len(items)} images. Answer: joy"]


@pytest.fixture
def served(request) -> Iterator[tuple[str, StandInRunner]]:
    runner = StandInRunner()
    key = getattr(request, "param", None)
    server = make_server(runner, "127.0.0.1", 0, model_name="emollm-test", api_key=key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/v1", runner
    server.shutdown()
    server.server_close()


def teacher(url: str, **kwargs) -> OpenAITeacher:
    return OpenAITeacher(url, "emollm-test", api_key_env=kwargs.pop("api_key_env", None), max_retries=0,
                         timeout=10, **kwargs)


def image(colour=(200, 30, 30), size=12) -> Image.Image:
    return Image.new("RGB", (size, size), colour)


def test_chat_completion_with_an_image(served):
    url, runner = served
    with teacher(url) as client:
        reply = client.complete(TeacherRequest("Which emotion?", [image()], max_tokens=32, temperature=0.0))
    assert reply.text == "saw 1 images. Answer: joy"
    assert (reply.prompt_tokens, reply.completion_tokens) == (2, 5)  # words: the stand-in has no tokenizer
    (call,) = runner.calls
    assert call["prompts"] == ["Which emotion?"] and call["max_new_tokens"] == 32
    (frames,) = call["media"]
    assert len(frames) == 1 and frames[0].size == (12, 12)
    assert frames[0].getpixel((6, 6))[0] > 150  # the pixels survived the JPEG round trip


def test_video_frames_arrive_in_order_with_the_note(served):
    url, runner = served
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    with teacher(url) as client:
        reply = client.complete(TeacherRequest("What happens?", [image(c) for c in colours], video=True,
                                               system="Be brief."))
    assert reply.text.startswith("saw 3 images")
    call = runner.calls[0]
    assert call["prompts"] == [f"Be brief.\n{VIDEO_NOTE.format(n=3)}\nWhat happens?"]
    dominant = [max(range(3), key=lambda ch: f.getpixel((6, 6))[ch]) for f in call["media"][0]]
    assert dominant == [0, 1, 2]


def test_text_only_and_models(served):
    url, runner = served
    with teacher(url) as client:
        assert client.complete([{"role": "user", "content": "hello"}]).text == "saw 0 images. Answer: joy"
    assert runner.calls[0]["media"] == [None]
    models = httpx.get(url + "/models").json()
    assert models["data"][0]["id"] == "emollm-test"
    body = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    assert body["object"] == "chat.completion" and body["model"] == "emollm-test"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}, {"type": "text", "text": "q"}]}]},
         "does not fetch remote URLs"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!"}}, {"type": "text", "text": "q"}]}]},
         "invalid base64"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]},
         "readable image"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                       {"role": "user", "content": "c"}]}, "multi-turn"),
        ({"messages": [{"role": "user", "content": "a"}], "stream": True}, "streaming"),
        ({"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "unsupported content part"),
    ],
)
def test_bad_requests_get_400_json(served, payload, fragment):
    url, runner = served
    kwargs = {"content": payload} if isinstance(payload, bytes) else {"json": payload}
    response = httpx.post(url + "/chat/completions", **kwargs)
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
    assert runner.calls == []


def test_unknown_route_and_generation_failure(served):
    url, _ = served
    assert httpx.get(url + "/nothing").status_code == 404
    response = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "explode"}]})
    assert response.status_code == 500 and "model exploded" in response.json()["error"]["message"]


@pytest.mark.parametrize("served", ["s3cret-key"], indirect=True)
def test_api_key_is_enforced_when_set(served, monkeypatch):
    url, runner = served
    with teacher(url) as client, pytest.raises(TeacherError, match="401"):
        client.complete(TeacherRequest("q"))
    monkeypatch.setenv("EMOLLM_SERVE_KEY", "s3cret-key")
    with teacher(url, api_key_env="EMOLLM_SERVE_KEY") as client:
        assert client.complete(TeacherRequest("q")).text.endswith("joy")
    assert len(runner.calls) == 1


def test_make_server_needs_generate():
    with pytest.raises(TypeError, match="generate"):
        make_server(object(), "127.0.0.1", 0)
