"""Teachers that write EmoPrompt rationales: any OpenAI-compatible chat endpoint, or a local LLaVA.

A teacher turns a :class:`TeacherRequest` (prompt text plus the sample's image or video frames)
into a :class:`TeacherReply` (text and token counts). Rationale generation only needs that, so
GPT-4o, a vLLM or Ollama server, ``emollm serve`` and an in-process LLaVA checkpoint are
interchangeable.

The OpenAI-compatible teacher is the official ``openai`` client: its retries (timeouts, connection
errors, 408/409/429 and 5xx, honouring ``Retry-After``) and timeouts, plus a bound on requests in
flight that is ours. The API key is read from an environment variable whose *name* the user gives;
the value goes to the client only, never into a log line, an error message or a repr.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

#: Told to the teacher before the frames of a video, so it reads them as one clip in time order.
VIDEO_NOTE = "The following {n} images are frames sampled uniformly, in time order, from one video."

class TeacherError(RuntimeError):
    """A request the teacher could not answer (after its retries); the message says why and what to do."""


@dataclass(frozen=True)
class TeacherReply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class TeacherRequest:
    """One question for a teacher: text, and 0, 1 (image) or T (video frames) images."""

    prompt: str
    images: list[Image.Image] = field(default_factory=list)
    video: bool = False
    system: str | None = None
    max_tokens: int = 256
    temperature: float = 0.2


@runtime_checkable
class Teacher(Protocol):
    """What rationale generation needs from a teacher."""

    def complete(self, request: TeacherRequest) -> TeacherReply: ...

    def complete_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply | TeacherError]:
        """One reply per request, in order; a request that failed gives its error instead of raising."""
        ...


# --------------------------------------------------------------------------- images


def encode_image(image: Image.Image, max_side: int | None = None, quality: int = 90) -> str:
    """A ``data:image/jpeg;base64,...`` URL, the form chat APIs accept inline."""
    image = image.convert("RGB")
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def request_to_messages(request: TeacherRequest, max_image_side: int | None = None) -> list[dict]:
    """OpenAI chat ``messages`` for a request: media first (video note before its frames), then text."""
    parts: list[dict[str, Any]] = []
    if request.video and request.images:
        parts.append({"type": "text", "text": VIDEO_NOTE.format(n=len(request.images))})
    for image in request.images:
        parts.append({"type": "image_url", "image_url": {"url": encode_image(image, max_image_side)}})
    parts.append({"type": "text", "text": request.prompt})
    messages: list[dict] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": parts})
    return messages


# --------------------------------------------------------------------------- OpenAI-compatible


def reply_from_completion(completion: Any) -> TeacherReply:
    """Text and token usage of a chat completion; ValueError when it holds no message."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ValueError("no 'choices' in the response")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise ValueError("choices[0] has no 'message'")
    content = message.content
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None:
        content = getattr(message, "refusal", None) or ""
    if not isinstance(content, str):
        raise ValueError(f"message content must be a string, got {type(content).__name__}")
    usage = completion.usage
    return TeacherReply(
        text=content,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )


def connect(
    base_url: str, api_key_env: str | None, timeout: float, max_retries: int
) -> tuple[Any, dict | None, str]:
    """The official ``openai`` client for an OpenAI-compatible endpoint: ``(client, extra_headers, key)``.

    The key is read from ``$api_key_env`` (a warning when that is empty). Without a key, pass
    ``extra_headers`` with every request: it omits the Authorization header, which the client would
    otherwise insist on. Return the key only to scrub it from messages; never show it.
    """
    import openai

    key = os.environ.get(api_key_env, "") if api_key_env else ""
    if not key and api_key_env:
        log.warning("$%s is empty or unset: sending requests to %s without an API key", api_key_env, base_url)
    client = openai.OpenAI(base_url=base_url, api_key=key or "unused", timeout=timeout, max_retries=max_retries)
    return client, (None if key else {"Authorization": openai.Omit()}), key


class OpenAITeacher:
    """A teacher behind an OpenAI-compatible ``/chat/completions`` endpoint (GPT-4o, vLLM, Ollama, ``emollm serve``).

    Requests go through the official ``openai`` client, which retries timeouts, connection errors,
    408/409/429 and 5xx up to ``max_retries`` times, waiting what ``Retry-After`` says (up to two
    minutes) or backing off exponentially. Other errors fail at once with a message that says what
    to fix (401: the key; 403: access; 404: the URL or model name). A body that is not a chat
    completion is a failure too (not retried). At most ``concurrency`` requests are in flight,
    however many threads call :meth:`complete`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        concurrency: int = 4,
        max_image_side: int | None = 1024,
        extra_body: dict | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.max_image_side = max_image_side
        self.extra_body = dict(extra_body or {})
        self._client, self._headers, self._secret = connect(self.base_url, api_key_env, timeout, max_retries)
        self._has_key = bool(self._secret)  # the key itself is only kept for scrubbing messages; never shown
        self._slots = threading.BoundedSemaphore(concurrency)

    def __repr__(self) -> str:
        key = f"${self.api_key_env} (set)" if self._has_key else "none"
        return f"OpenAITeacher(url={self.url!r}, model={self.model!r}, key={key}, concurrency={self.concurrency})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAITeacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API

    def complete(self, request: TeacherRequest | list[dict]) -> TeacherReply:
        """One completion; ``request`` is a :class:`TeacherRequest` or ready-made chat ``messages``."""
        options: dict[str, Any] = {}
        if isinstance(request, TeacherRequest):
            messages = request_to_messages(request, self.max_image_side)
            options = {"max_tokens": request.max_tokens, "temperature": request.temperature}
        else:
            messages = request
        with self._slots:
            completion = self._create(messages, options)
        try:
            return reply_from_completion(completion)
        except ValueError as exc:
            raise TeacherError(f"{self.url}: malformed response ({exc}); is --base-url an OpenAI-compatible API?") from None

    def complete_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply | TeacherError]:
        """All requests, ``concurrency`` at a time; errors are returned in place, not raised."""
        if not requests:
            return []

        def one(request: TeacherRequest) -> TeacherReply | TeacherError:
            try:
                return self.complete(request)
            except TeacherError as exc:
                return exc

        if len(requests) == 1 or self.concurrency == 1:
            return [one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(one, requests))

    # -- internals

    def _create(self, messages: list[dict], options: dict) -> Any:
        """The client call, its exceptions turned into one-line TeacherErrors (the key scrubbed)."""
        import openai

        try:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, extra_headers=self._headers,
                extra_body=self.extra_body or None, **options,
            )
        except openai.APIStatusError as exc:
            raise TeacherError(self._status_message(exc)) from None
        except openai.APITimeoutError:
            raise TeacherError(
                f"{self.url}: timed out after {self.timeout:g} s, {self.max_retries} retries included"
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise TeacherError(
                f"{self.url}: connection error after {self.max_retries} retries "
                f"({type(cause).__name__}: {self._scrub(str(cause))}); is the server running?"
            ) from None
        except ValueError as exc:  # a 200 whose body is not JSON
            raise TeacherError(
                f"{self.url}: malformed response ({self._scrub(str(exc))}); is --base-url an OpenAI-compatible API?"
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _status_message(self, exc: Any) -> str:
        status = exc.status_code
        said = " ".join(self._scrub(str(exc.message)).split())[:300]
        hint = {
            401: f"the API key was refused; check that ${self.api_key_env} holds a valid key"
            if self.api_key_env
            else "the server wants an API key; pass --api-key-env NAME of a variable holding it",
            403: "the key lacks access to this model or endpoint",
            404: f"no such endpoint or model; check --base-url ({self.base_url}) and --model ({self.model})",
        }.get(status)
        if hint:
            return f"{self.url}: HTTP {status} ({hint}); not retried. Server said: {said}"
        if status in (408, 409, 429) or status >= 500:
            return f"{self.url}: HTTP {status}; gave up after up to {self.max_retries} retries. Server said: {said}"
        return f"{self.url}: HTTP {status} (the request was refused; fix it before retrying). Server said: {said}"
