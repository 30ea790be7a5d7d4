"""Teachers that write EmoPrompt rationales: any OpenAI-compatible chat endpoint, or a local LLaVA.

A teacher turns a :class:`TeacherRequest` (prompt text plus the sample's image or video frames)
into a :class:`TeacherReply` (text and token counts). Rationale generation only needs that, so
GPT-4o, a vLLM or Ollama server, ``emollm serve`` and an in-process LLaVA checkpoint are
interchangeable.

The API key is read from an environment variable whose *name* the user gives; the value is kept
inside the HTTP client's headers only, never logged, never put in an error message or a repr.
"""

from __future__ import annotations

import base64
import email.utils
import io
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

#: Told to the teacher before the frames of a video, so it reads them as one clip in time order.
VIDEO_NOTE = "The following {n} images are frames sampled uniformly, in time order, from one video."

#: Status codes worth another try: rate limits and server-side failures.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


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


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    return max(0.0, (when - current).total_seconds())


def parse_chat_response(data: object) -> TeacherReply:
    """Text and usage of a chat-completions response body; ValueError when it is not one."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no 'choices' in the response")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ValueError("choices[0] has no 'message' object")
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None:
        content = message.get("refusal") or ""
    if not isinstance(content, str):
        raise ValueError(f"message content must be a string, got {type(content).__name__}")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return TeacherReply(
        text=content,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


class OpenAITeacher:
    """A teacher behind an OpenAI-compatible ``/chat/completions`` endpoint (GPT-4o, vLLM, Ollama, ``emollm serve``).

    Retries timeouts, connection errors, 408/409/429 (honouring ``Retry-After``) and 5xx with
    exponential backoff and jitter; a malformed body counts as a failed attempt; other 4xx fail
    at once (a bad key or a bad request does not get better by asking again). At most
    ``concurrency`` requests are in flight, however many threads call :meth:`complete`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        concurrency: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        max_image_side: int | None = 1024,
        extra_body: dict | None = None,
    ) -> None:
        import httpx

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
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.max_image_side = max_image_side
        self.extra_body = dict(extra_body or {})
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif api_key_env:
            log.warning("$%s is empty or unset: sending requests without an API key", api_key_env)
        self._has_key = bool(key)
        self._secret = key  # only for scrubbing messages; never shown
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

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
        if isinstance(request, TeacherRequest):
            body = {
                "model": self.model,
                "messages": request_to_messages(request, self.max_image_side),
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
            }
        else:
            body = {"model": self.model, "messages": request}
        body.update(self.extra_body)
        with self._slots:
            return self._post_with_retries(body)

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

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        return random.uniform(delay / 2, delay)

    def _post_with_retries(self, body: dict) -> TeacherReply:
        import httpx

        last = "no attempt made"
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            wait: float | None = None
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout:g} s"
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__}: {self._scrub(str(exc))})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return parse_chat_response(response.json())
                    except ValueError as exc:  # JSONDecodeError is a ValueError
                        last = f"malformed response ({self._scrub(str(exc))}): {self._snippet(response)}"
                elif status in RETRY_STATUS:
                    last = f"HTTP {status}: {self._snippet(response)}"
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    if retry_after is not None:
                        wait = min(retry_after, self.max_retry_after)
                else:
                    raise TeacherError(self._fatal_message(status, response))
            if attempt + 1 < attempts:
                wait = self._backoff(attempt) if wait is None else wait
                log.warning(
                    "teacher %s: attempt %d/%d failed (%s); retrying in %.2f s",
                    self.url, attempt + 1, attempts, last, wait,
                )
                time.sleep(wait)
        raise TeacherError(f"{self.url}: gave up after {attempts} attempts; last error: {last}")

    def _snippet(self, response: Any, limit: int = 300) -> str:
        try:
            text = response.text
        except Exception:  # undecodable body
            text = "<undecodable body>"
        text = " ".join(text.split())
        return self._scrub(text[:limit] + ("..." if len(text) > limit else ""))

    def _fatal_message(self, status: int, response: Any) -> str:
        hint = {
            401: f"the API key was refused; check that ${self.api_key_env} holds a valid key"
            if self.api_key_env
            else "the server wants an API key; pass --api-key-env NAME of a variable holding it",
            403: "the key lacks access to this model or endpoint",
            404: f"no such endpoint or model; check --base-url ({self.base_url}) and --model ({self.model})",
        }.get(status, "the request was refused; fix it before retrying")
        return f"{self.url}: HTTP {status} ({hint}); not retried. Server said: {self._snippet(response)}"
