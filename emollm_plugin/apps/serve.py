"""``emollm serve``: an OpenAI-compatible chat server and a demo page over an EmoLLM (or any LLaVA) checkpoint.

Routes (Starlette on uvicorn):

- ``POST /v1/chat/completions``: the chat-completions protocol for what a vision chat model can do:
  system, user and assistant turns (a multi-turn conversation is put into the checkpoint's own
  template turn by turn), one image or one video in any user turn (an ``image_url`` part holding a
  base64 ``data:image/...`` URL; several images in one turn are the frames of one video, in order;
  or a ``data:video/...`` URL, in an ``image_url`` or ``video_url`` part, whose frames are sampled
  as training did), ``stream`` (server-sent events, with ``stream_options.include_usage``),
  ``max_tokens``/``max_completion_tokens`` and ``temperature``. ``usage.prompt_tokens`` counts every
  position the model reads (template, text and image features) with the model's tokenizer.
- ``GET /v1/models``: the one model served; a request naming another model gets 404.
- ``GET /``: the demo page; ``GET /v1/emobench/tasks``, ``/v1/emobench/question`` and ``POST
  /v1/emobench/parse`` give the page EmoBench's questions and the label parser the benchmark uses.

Guarantees against bad requests: a body is read only with a valid ``Content-Length`` up to the cap
(negative or malformed: 400, missing: 411, over the cap: 413, all before reading), within a time
limit (a client that sends slowly gets 408), JSON checked against a schema (400 naming the field);
a prompt longer than the model's context is refused with 400 before any generation (its length in
characters is checked before it is tokenised). A slow or refused client never holds up others.

Concurrent requests are answered together: a single worker thread owns the model, takes what has
queued (up to a batch cap), waits a short window for requests its recent clients are about to send,
and runs one batched ``generate``, streaming each row's tokens to its own client; rows stop at their
own ``max_tokens``, so every answer equals what the request would get alone (greedy decoding). It listens on 127.0.0.1 by default; ``--api-key-env NAME`` makes
every ``/v1`` route require ``Authorization: Bearer <value of $NAME>`` (the key is never logged).
Remote ``http(s)://`` URLs are refused: the server never fetches from the network.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import io
import json
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal, Protocol

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emollm_plugin.apps.predict import parse_label, task_options, task_question
from emollm_plugin.emobench.media import MediaError, load_frames
from emollm_plugin.emobench.tasks import MODALITIES, TASK_SPECS, TASKS
from emollm_plugin.llava_glue.inference import Chat

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_TOKENS_LIMIT = 4096
DEFAULT_MAX_TOKENS = 256
#: A prompt longer than context x this many characters cannot fit (no tokenizer piece is longer),
#: so it is refused before tokenising.
MAX_CHARS_PER_TOKEN = 16
MAX_FRAMES = 64
LOOPBACK = ("127.0.0.1", "localhost", "::1")
IMAGE_PLACEHOLDER = "<image>"


class Runner(Protocol):
    """What the server needs of :class:`~emollm_plugin.llava_glue.inference.EmoLLMRunner`."""

    tokenizer: Any
    stop_token_ids: list[int]
    context_len: int
    num_frames: int
    max_fps: float | None

    def generate(self, prompts: list, media: list, max_new_tokens: int = 128, temperature: float = 0.0,
                 streamer: Any = None, stopping_criteria: Any = None) -> list[str]: ...

    def build_prompt(self, text: str | Chat, has_media: bool) -> str: ...

    def prompt_length(self, prompt: str | Chat, media: list[Image.Image] | None) -> int: ...


class RequestError(ValueError):
    """A request the server refuses: HTTP status, OpenAI error type and the offending field."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 kind: str = "invalid_request_error", close: bool = False) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.kind = kind
        self.close = close  # the body was not read: the connection cannot carry another request


@dataclass(frozen=True)
class Limits:
    """The server's bounds; the defaults suit one GPU."""

    max_body_bytes: int = MAX_BODY_BYTES
    read_timeout_s: float = 30.0
    max_batch: int = 8
    batch_window_s: float = 0.1
    max_queue: int = 256


# --------------------------------------------------------------------------- request schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImageURL(_Strict):
    url: str
    detail: str | None = None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


class VideoPart(_Strict):
    type: Literal["video_url"]
    video_url: ImageURL


Part = Annotated[TextPart | ImagePart | VideoPart, Field(discriminator="type")]


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[Part] | None = None


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatRequest(_Strict):
    """The chat-completions fields the server reads; others (``user``, ``seed``, ...) are ignored."""

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    n: Literal[1] = 1


class ParseRequest(_Strict):
    task: Literal["emo_c", "emo_o", "intent", "hate", "humor", "sarcasm"]
    answer: str
    options: list[str] | None = None


_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}


def validation_message(exc: ValidationError) -> tuple[str, str | None]:
    """One line naming the first few bad fields, and the first field's dotted path."""
    parts: list[str] = []
    first = None
    for error in exc.errors():
        # union members add their type ("str", "list[...]") to the location; the field path is what helps
        loc = [str(x) for x in error["loc"] if not (isinstance(x, str) and ("[" in x or x in _TYPE_NAMES))]
        where = ".".join(loc) or "body"
        first = first or where
        line = f"{where}: {error['msg']}"
        if line not in parts:
            parts.append(line)
    shown = parts[:3]
    more = len(parts) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else ""), first


# --------------------------------------------------------------------------- media and conversation


def _data_url(url: str, where: str) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of a base64 ``data:`` URL; RequestError for anything else."""
    if not url.startswith("data:"):
        raise RequestError(f"{where}: only base64 data URLs (data:image/...;base64,...) are accepted; "
                           "the server does not fetch remote URLs", where)
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise RequestError(f"{where}: the data URL must be base64-encoded (data:image/jpeg;base64,...)", where)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: invalid base64 in the data URL", where) from None
    return header[len("data:"):-len(";base64")].split(";")[0].strip().lower(), raw


def decode_image(raw: bytes, where: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise RequestError(f"{where}: the data URL does not hold a readable image", where) from None


def decode_video(raw: bytes, mime: str, where: str, num_frames: int, max_fps: float | None) -> list[Image.Image]:
    """The frames training would sample from this clip (the shared sampler, via a temporary file)."""
    suffix = "." + (mime.partition("/")[2] or "mp4").replace("quicktime", "mov").replace("x-matroska", "mkv")
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(raw)
        handle.flush()
        try:
            return load_frames(handle.name, num_frames=num_frames, max_fps=max_fps)
        except MediaError as exc:
            reason = str(exc).replace(handle.name, "the video")
            raise RequestError(f"{where}: {reason}", where) from None


@dataclass
class Conversation:
    """A request turned into what the runner takes: the turns, the media and where it goes."""

    chat: Chat
    media: list[Image.Image] | None
    chars: int


def _media_of(part: ImagePart | VideoPart, where: str, num_frames: int,
              max_fps: float | None) -> tuple[str, list[Image.Image]]:
    url = part.image_url.url if isinstance(part, ImagePart) else part.video_url.url
    mime, raw = _data_url(url, where)
    if mime.startswith("video/"):
        return "video", decode_video(raw, mime, where, num_frames, max_fps)
    if isinstance(part, VideoPart):
        raise RequestError(f"{where}: a video_url must hold a data:video/... URL, got {mime or 'no type'}", where)
    return "image", [decode_image(raw, where)]


def to_conversation(request: ChatRequest, num_frames: int, max_fps: float | None = None) -> Conversation:
    """Turns in template order (system text leads the first user turn), with the one image or video."""
    system: list[str] = []
    turns: list[tuple[str, list[str]]] = []
    media: list[Image.Image] | None = None
    media_turn = 0
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        parts = [message.content or ""] if not isinstance(message.content, list) else message.content
        texts = [p if isinstance(p, str) else p.text for p in parts if isinstance(p, str | TextPart)]
        if any(IMAGE_PLACEHOLDER in text for text in texts):
            raise RequestError(f"{where}: the text contains {IMAGE_PLACEHOLDER!r}, which the model reserves for the "
                               "picture; attach images as image_url parts instead", f"{where}.content")
        visual = [(j, p) for j, p in enumerate(parts) if isinstance(p, ImagePart | VideoPart)]
        role = "system" if message.role in ("system", "developer") else message.role
        if visual and role != "user":
            raise RequestError(f"{where}: only user messages can hold images or videos", f"{where}.content")
        if role == "system":
            system.extend(texts)
            continue
        if not turns and role == "assistant":
            raise RequestError(f"{where}: the conversation must start with a user message (after any system "
                               "message)", f"{where}.role")
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(texts)
        else:
            turns.append((role, list(texts)))
        if not visual:
            continue
        if media is not None:
            raise RequestError(f"{where}: one image or one video per conversation (the model takes one); this "
                               "message adds another", f"{where}.content")
        loaded = [_media_of(p, f"{where}.content[{j}]", num_frames, max_fps) for j, p in visual]
        kinds = {kind for kind, _ in loaded}
        if "video" in kinds and len(loaded) > 1:
            raise RequestError(f"{where}: send one video, or images as the frames of one video, not both",
                               f"{where}.content")
        media = [frame for _, frames in loaded for frame in frames]
        if len(media) > MAX_FRAMES:
            raise RequestError(f"{where}: {len(media)} images; at most {MAX_FRAMES} frames per video",
                               f"{where}.content")
        media_turn = len(turns) - 1
    if not turns or turns[-1][0] != "user":
        raise RequestError("the last message must come from the user", "messages")
    joined = ["\n".join(t for t in texts if t.strip()).strip() for _, texts in turns]
    lead = "\n".join(t for t in system if t.strip()).strip()
    if lead:
        joined[0] = f"{lead}\n{joined[0]}".strip()
    if not joined[-1] and not (media is not None and media_turn == len(joined) - 1):
        raise RequestError("the last user message has no text", "messages")
    return Conversation(Chat(tuple(joined), media_turn), media, sum(len(t) for t in joined))


# --------------------------------------------------------------------------- batched generation


@dataclass
class Job:
    """One admitted request on its way through the worker; ``notify`` is thread-safe."""

    conversation: Conversation
    max_tokens: int
    temperature: float
    notify: Callable[[tuple], None]
    stream: bool = False  # decode and send the answer token by token
    cancelled: bool = False
    submitted: float = field(default_factory=time.monotonic)
    prompt_tokens: int = 0
    ids: list[int] = field(default_factory=list)
    generated: int = 0
    sent: str = ""
    done: bool = False


class Batcher:
    """The one thread that touches the model: gathers queued jobs and runs them as one batch.

    Events sent to a job: ``("start", prompt_tokens)``, ``("delta", text)``, then
    ``("done", text, completion_tokens, finish_reason)`` or ``("error", RequestError)``.
    """

    def __init__(self, runner: Runner, limits: Limits) -> None:
        self.runner = runner
        self.limits = limits
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.stop_ids = set(runner.stop_token_ids)
        self.thread = threading.Thread(target=self._loop, name="emollm-batcher", daemon=True)
        self.batches: list[int] = []  # sizes of the batches run, for the bench and the tests
        self._last_size = 0
        self._last_end = 0.0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=30)

    def submit(self, job: Job) -> None:
        if self.queue.qsize() >= self.limits.max_queue:
            raise RequestError(f"server busy: {self.limits.max_queue} requests already queued; retry shortly",
                               status=503, kind="server_busy")
        self.queue.put(job)

    # -- worker side
    def _collect(self) -> list[Job] | None:
        """The next batch: everything queued, plus, within the window, the requests expected to arrive.

        Clients of the batch just answered tend to send their next request at once; requests that
        queued while it ran belong to other clients. Waiting (at most ``batch_window_s``) until the
        two groups are together keeps concurrent clients in one batch instead of alternating
        half-full ones, while a lone client, expected by no one, never waits.
        """
        first = self.queue.get()
        if first is None:
            return None
        jobs = [first]
        deadline = time.monotonic() + self.limits.batch_window_s
        while len(jobs) < self.limits.max_batch:
            waiting = sum(job.submitted <= self._last_end for job in jobs)
            expected = min(self.limits.max_batch, self._last_size + waiting)
            remaining = deadline - time.monotonic()
            try:
                if len(jobs) < expected and remaining > 0:
                    job = self.queue.get(timeout=remaining)
                else:
                    job = self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self.queue.put(None)
                break
            jobs.append(job)
        return jobs

    def _loop(self) -> None:
        while (jobs := self._collect()) is not None:
            admitted = [job for job in jobs if not job.cancelled and self._admit(job)]
            for temperature in sorted({job.temperature for job in admitted}):
                self._run([job for job in admitted if job.temperature == temperature], temperature)
            self._last_size, self._last_end = len(jobs), time.monotonic()

    def _admit(self, job: Job) -> bool:
        """Exact prompt length (with image features) against the context; tell the job it started."""
        try:
            length = self.runner.prompt_length(job.conversation.chat, job.conversation.media)
        except Exception as exc:  # a broken image the model cannot take must not stop the worker
            log.exception("measuring a prompt failed")
            job.notify(("error", RequestError(f"cannot prepare the input: {type(exc).__name__}: {exc}",
                                              status=500, kind="server_error")))
            return False
        context = self.runner.context_len
        if length + job.max_tokens > context:
            job.notify(("error", RequestError(
                f"the prompt is {length} tokens (with the image) and max_tokens is {job.max_tokens}, but the model's "
                f"context is {context} tokens; shorten the conversation or lower max_tokens", "messages")))
            return False
        job.prompt_tokens = length
        job.notify(("start", length))
        return True

    def _text(self, job: Job) -> str:
        return self.runner.tokenizer.decode(job.ids, skip_special_tokens=True).strip()

    def _emit(self, job: Job, final: bool) -> None:
        """Send the new part of the answer; hold back trailing whitespace and half-decoded characters."""
        text = self._text(job)
        stable = text if final else text.rstrip("\ufffd").rstrip()
        if stable.startswith(job.sent) and len(stable) > len(job.sent):
            job.notify(("delta", stable[len(job.sent):]))
            job.sent = stable

    def _finish(self, job: Job, reason: str) -> None:
        if job.done:
            return
        job.done = True
        if job.stream:
            self._emit(job, final=True)
        job.notify(("done", self._text(job), job.generated, reason))

    def _run(self, jobs: list[Job], temperature: float) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        batcher = self

        class RowStreamer:
            """Hugging Face calls ``put`` with the new token of every row at each step."""

            def put(self, value: torch.Tensor) -> None:
                if value.dim() > 1:  # the prompt (empty: generation starts from embeddings)
                    return
                for job, token in zip(jobs, value.tolist(), strict=True):
                    if job.done:
                        continue
                    job.generated += 1
                    if token in batcher.stop_ids:
                        batcher._finish(job, "stop")
                        continue
                    job.ids.append(token)
                    if job.generated >= job.max_tokens:
                        batcher._finish(job, "length")
                    elif job.stream and not job.cancelled:
                        batcher._emit(job, final=False)

            def end(self) -> None:
                pass

        class RowsDone(StoppingCriteria):
            """A row stops at its own max_tokens or when its client left."""

            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
                flags = [job.done or job.cancelled for job in jobs]
                return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

        self.batches.append(len(jobs))
        try:
            self.runner.generate([job.conversation.chat for job in jobs], [job.conversation.media for job in jobs],
                                 max_new_tokens=max(job.max_tokens for job in jobs), temperature=temperature,
                                 streamer=RowStreamer(), stopping_criteria=StoppingCriteriaList([RowsDone()]))
        except Exception as exc:
            log.exception("generation failed")
            for job in jobs:
                if not job.done:
                    job.done = True
                    job.notify(("error", RequestError(f"generation failed: {type(exc).__name__}: {exc}",
                                                      status=500, kind="server_error")))
            return
        for job in jobs:
            self._finish(job, "stop")


# --------------------------------------------------------------------------- HTTP


def _notifier(loop: asyncio.AbstractEventLoop, events: asyncio.Queue) -> Callable[[tuple], None]:
    """Hand worker events to the request's event loop; a loop already closed (shutdown) drops them."""

    def notify(event: tuple) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(events.put_nowait, event)

    return notify


def error_response(exc: RequestError):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": str(exc), "type": exc.kind, "param": exc.param, "code": exc.status}},
                        status_code=exc.status, headers={"Connection": "close"} if exc.close else None)


async def read_body(request, limits: Limits) -> bytes:
    """The body, only with a valid Content-Length (or chunked) up to the cap, within the read timeout."""
    length_header = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if length_header is None and not chunked:
        raise RequestError("a Content-Length header is required", status=411, close=True)
    if length_header is not None:
        if not length_header.strip().isdigit():
            raise RequestError(f"invalid Content-Length {length_header!r}", status=400, close=True)
        if int(length_header) > limits.max_body_bytes:
            raise RequestError(f"request body over {limits.max_body_bytes / 2**20:g} MiB; send fewer or "
                               "smaller images", status=413, close=True)
    chunks, size = [], 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise RequestError(f"request body over {limits.max_body_bytes / 2**20:g} MiB", status=413, close=True)
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), timeout=limits.read_timeout_s)
    except TimeoutError:
        raise RequestError(f"the request body did not arrive within {limits.read_timeout_s:g} s", status=408,
                           close=True) from None
    return b"".join(chunks)


class ChatService:
    """The routes' state: the runner's batcher, the served name, the key and the limits."""

    def __init__(self, runner: Runner, model_name: str, api_key: str | None = None,
                 limits: Limits | None = None) -> None:
        self.runner = runner
        self.model_name = model_name
        self.api_key = api_key
        self.limits = limits or Limits()
        self.batcher = Batcher(runner, self.limits)
        self.created = int(time.time())
        self.max_chars = runner.context_len * MAX_CHARS_PER_TOKEN

    # -- checks
    def authorise(self, request) -> None:
        if not self.api_key:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode()):
            raise RequestError("missing or wrong API key (Authorization: Bearer ...)", status=401,
                               kind="authentication_error")

    def parse(self, raw: bytes) -> tuple[ChatRequest, Conversation]:
        """JSON, schema, model name, media and the character cap: everything that needs no model."""
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(f"the body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        try:
            request = ChatRequest.model_validate(body)
        except ValidationError as exc:
            message, param = validation_message(exc)
            raise RequestError(message, param) from None
        if request.model is not None and request.model != self.model_name:
            raise RequestError(f"model {request.model!r} is not served here; this server serves "
                               f"{self.model_name!r} (see /v1/models)", "model", status=404, kind="model_not_found")
        chars = sum(len(m.content) if isinstance(m.content, str) else
                    sum(len(p.text) for p in m.content or [] if isinstance(p, TextPart)) for m in request.messages)
        if chars > self.max_chars:
            raise RequestError(f"the prompt is {chars} characters, more than the model's context of "
                               f"{self.runner.context_len} tokens can hold; shorten it", "messages")
        conversation = to_conversation(request, self.runner.num_frames, self.runner.max_fps)
        return request, conversation

    # -- routes
    async def chat(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, StreamingResponse

        try:
            self.authorise(request)
            raw = await read_body(request, self.limits)
            parsed, conversation = await run_in_threadpool(self.parse, raw)
            max_tokens = parsed.max_completion_tokens or parsed.max_tokens or DEFAULT_MAX_TOKENS
            loop = asyncio.get_running_loop()
            events: asyncio.Queue[tuple] = asyncio.Queue()
            job = Job(conversation, max_tokens, parsed.temperature, notify=_notifier(loop, events),
                      stream=parsed.stream)
            self.batcher.submit(job)
            first = await events.get()
            if first[0] == "error":
                raise first[1]
        except RequestError as exc:
            return error_response(exc)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if parsed.stream:
            usage = bool(parsed.stream_options and parsed.stream_options.include_usage)
            stream = self._stream(job, events, completion_id, created, usage)
            return StreamingResponse(stream, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            while (event := await events.get())[0] == "delta":
                pass
        except asyncio.CancelledError:
            job.cancelled = True
            raise
        if event[0] == "error":
            return error_response(event[1])
        _, text, completion_tokens, reason = event
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
            "usage": self._usage(job.prompt_tokens, completion_tokens),
        })

    @staticmethod
    def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    async def _stream(self, job: Job, events: asyncio.Queue, completion_id: str, created: int,
                      include_usage: bool) -> AsyncIterator[str]:
        def chunk(delta: dict, reason: str | None = None, **extra: Any) -> str:
            payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                       "model": self.model_name,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": reason}], **extra}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                event = await events.get()
                if event[0] == "delta":
                    yield chunk({"content": event[1]})
                    continue
                if event[0] == "error":
                    error = event[1]
                    body = {"message": str(error), "type": error.kind, "param": error.param, "code": error.status}
                    yield f"data: {json.dumps({'error': body})}\n\n"
                    return
                _, _, completion_tokens, reason = event
                yield chunk({}, reason)
                if include_usage:
                    payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                               "model": self.model_name, "choices": [],
                               "usage": self._usage(job.prompt_tokens, completion_tokens)}
                    yield f"data: {json.dumps(payload)}\n\n"
                yield "data: [DONE]\n\n"
                return
        finally:
            job.cancelled = True  # a client that left mid-answer frees its row

    async def models(self, request):
        from starlette.responses import JSONResponse

        try:
            self.authorise(request)
        except RequestError as exc:
            return error_response(exc)
        entry = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "emollm"}
        if "model_id" in request.path_params:
            if request.path_params["model_id"] != self.model_name:
                return error_response(RequestError(f"model {request.path_params['model_id']!r} is not served here",
                                                   "model", status=404, kind="model_not_found"))
            return JSONResponse(entry)
        return JSONResponse({"object": "list", "data": [entry]})

    async def tasks(self, request):
        from starlette.responses import JSONResponse

        try:
            self.authorise(request)
        except RequestError as exc:
            return error_response(exc)
        listing = []
        for name in TASKS:
            spec = TASK_SPECS[name]
            listing.append({"name": name, "title": spec.title, "answer_kind": spec.answer_kind,
                            "options": list(task_options(name)),
                            "questions": {m: task_question(name, m) for m in MODALITIES}})
        return JSONResponse({"tasks": listing})

    async def question(self, request):
        from starlette.responses import JSONResponse

        try:
            self.authorise(request)
        except RequestError as exc:
            return error_response(exc)
        params = request.query_params
        task, modality = params.get("task", ""), params.get("modality", "image")
        if task not in TASKS or modality not in MODALITIES:
            return error_response(RequestError(f"task must be one of {', '.join(TASKS)} and modality one of "
                                               f"{', '.join(MODALITIES)}", "task"))
        return JSONResponse({"question": task_question(task, modality, None, params.get("text") or None)})

    async def parse_answer(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        try:
            self.authorise(request)
            raw = await read_body(request, Limits(max_body_bytes=1024 * 1024, read_timeout_s=self.limits.read_timeout_s))
            try:
                body = ParseRequest.model_validate_json(raw)
            except ValidationError as exc:
                message, param = validation_message(exc)
                raise RequestError(message, param) from None
        except RequestError as exc:
            return error_response(exc)
        label = await run_in_threadpool(parse_label, body.task, body.answer, body.options)
        return JSONResponse({"task": body.task, "label": label, "options": list(task_options(body.task, body.options))})

    async def page(self, request):
        from starlette.responses import HTMLResponse

        html = resources.files("emollm_plugin.apps").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    async def not_found(self, request, exc):
        return error_response(RequestError(f"no route {request.method} {request.url.path}; see / for the page, "
                                           "/v1/models and POST /v1/chat/completions", status=exc.status_code,
                                           kind="not_found"))


def create_app(service: ChatService):
    """The Starlette app; the batcher thread runs while the app does (its lifespan)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    @asynccontextmanager
    async def lifespan(app):
        service.batcher.start()
        try:
            yield
        finally:
            await asyncio.to_thread(service.batcher.stop)

    routes = [
        Route("/", service.page, methods=["GET"]),
        Route("/v1/chat/completions", service.chat, methods=["POST"]),
        Route("/chat/completions", service.chat, methods=["POST"]),
        Route("/v1/models", service.models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", service.models, methods=["GET"]),
        Route("/v1/emobench/tasks", service.tasks, methods=["GET"]),
        Route("/v1/emobench/question", service.question, methods=["GET"]),
        Route("/v1/emobench/parse", service.parse_answer, methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: service.not_found})


def bind(host: str, port: int):
    """A listening socket (IPv6 when the host is one); ``port=0`` picks a free port. OSError when taken."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(service: ChatService, log_level: str = "info"):
    """A uvicorn server for the service; run it with ``server.run(sockets=[bind(host, port)])``."""
    import uvicorn

    config = uvicorn.Config(create_app(service), log_level=log_level, timeout_keep_alive=5,
                            limit_concurrency=max(64, service.limits.max_queue), server_header=False)
    return uvicorn.Server(config)


@contextlib.contextmanager
def running_in_thread(service: ChatService, host: str = "127.0.0.1", log_level: str = "warning") -> Iterator[str]:
    """The service on uvicorn in a background thread, on a free port of ``host``: yields its base URL
    (``http://host:port``) and stops the server on exit. For benches and tests in one process."""
    server = make_server(service, log_level=log_level)
    sock = bind(host, 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"emollm serve: the server on {host} stopped before it started (see its log)")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def api_key_from_env(name: str | None) -> str | None:
    """The key in ``$name``; ValueError when the variable is named but empty (never echoes the value)."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"${name} is empty or unset")
    return value
