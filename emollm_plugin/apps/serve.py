"""``emollm serve``: an OpenAI-compatible chat endpoint over an EmoLLM (or any LLaVA) checkpoint.

``POST /v1/chat/completions`` accepts one user turn (an optional system message is put before
it) with text parts and images as base64 ``data:`` URLs: one image is an image, several are the
frames of one video, in order. ``GET /v1/models`` lists the one model served. Replies are the
standard chat-completion JSON with ``usage`` token counts (text tokens; the image tokens the model
adds are not counted). Errors are JSON ``{"error": {...}}`` with 400 for bad requests.

It listens on 127.0.0.1 by default. On another interface, set ``--api-key-env NAME`` so requests
must carry ``Authorization: Bearer $NAME``. Remote ``http(s)://`` image URLs are refused: the
server never fetches from the network. Requests are answered one at a time (the model is not
thread-safe); built on the standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_TOKENS_LIMIT = 4096
DEFAULT_MAX_TOKENS = 256
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Generator(Protocol):
    """What the server needs: the runner's batched ``generate``."""

    def generate(self, prompts: list[str], media: list[list[Any] | None], max_new_tokens: int = 128,
                 temperature: float = 0.0) -> list[str]: ...


class RequestError(ValueError):
    """A request the server refuses; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


# --------------------------------------------------------------------------- request parsing


def decode_data_url(url: str, where: str):
    """A PIL image from a ``data:image/...;base64,`` URL."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(url, str) or not url.startswith("data:"):
        raise RequestError(f"{where}: only base64 data URLs (data:image/...;base64,...) are accepted; "
                           "the server does not fetch remote URLs", where)
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise RequestError(f"{where}: the data URL must be base64-encoded (data:image/jpeg;base64,...)", where)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: invalid base64 in the data URL", where) from None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise RequestError(f"{where}: the data URL does not hold a readable image", where) from None


def _message_parts(message: dict, index: int) -> tuple[list[str], list]:
    where = f"messages[{index}].content"
    content = message.get("content")
    if isinstance(content, str):
        return [content], []
    if not isinstance(content, list):
        raise RequestError(f"{where} must be a string or a list of content parts", where)
    texts, images = [], []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise RequestError(f"{at} must be an object", at)
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise RequestError(f"{at}.text must be a string", at)
            texts.append(part["text"])
        elif kind == "image_url":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else image_url
            images.append(decode_data_url(url, f"{at}.image_url"))
        else:
            raise RequestError(f"{at}: unsupported content part type {kind!r} (use 'text' or 'image_url')", at)
    return texts, images


def parse_chat_request(body: object) -> dict:
    """``{"prompt", "images", "max_tokens", "temperature"}`` from a chat-completions body, or RequestError."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if body.get("stream"):
        raise RequestError("streaming is not supported; send stream=false", "stream")
    if body.get("n", 1) != 1:
        raise RequestError("only n=1 is supported", "n")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", "messages")
    system: list[str] = []
    user: list[tuple[list[str], list]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(f"messages[{i}] must be an object", f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            texts, images = _message_parts(message, i)
            if images:
                raise RequestError(f"messages[{i}]: a system message cannot hold images", f"messages[{i}]")
            system.extend(texts)
        elif role == "user":
            user.append(_message_parts(message, i))
        elif role == "assistant":
            raise RequestError("multi-turn conversations are not supported: send one user message "
                               "(optionally after a system message)", f"messages[{i}]")
        else:
            raise RequestError(f"messages[{i}]: unknown role {role!r}", f"messages[{i}].role")
    if len(user) != 1:
        raise RequestError(f"expected exactly one user message, got {len(user)}", "messages")
    texts, images = user[0]
    prompt = "\n".join(t for t in [*system, *texts] if t.strip()).strip()
    if not prompt:
        raise RequestError("the user message has no text", "messages")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens", DEFAULT_MAX_TOKENS))
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise RequestError(f"max_tokens must be an integer in [1, {MAX_TOKENS_LIMIT}]", "max_tokens")
    temperature = body.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise RequestError("temperature must be a number in [0, 2]", "temperature")
    return {"prompt": prompt, "images": images, "max_tokens": max_tokens, "temperature": float(temperature)}


# --------------------------------------------------------------------------- server


def _count(runner: object, text: str) -> int:
    try:
        return int(runner.count_tokens(text))
    except Exception:  # a tokenizer hiccup must not turn a good answer into an error
        return len(text.split())


class ChatServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that holds the runner; generation is serialised by a lock."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], runner: Generator, model_name: str, api_key: str | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, ChatHandler)
        self.runner = runner
        self.model_name = model_name
        self.api_key = api_key
        self.generate_lock = threading.Lock()
        self.created = int(time.time())

    def chat(self, body: object) -> dict:
        request = parse_chat_request(body)
        images = request["images"] or None
        with self.generate_lock:
            text = self.runner.generate([request["prompt"]], [images], max_new_tokens=request["max_tokens"],
                                        temperature=request["temperature"])[0]
        prompt_tokens = _count(self.runner, request["prompt"])
        completion_tokens = _count(self.runner, text)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if completion_tokens >= request["max_tokens"] else "stop",
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def models(self) -> dict:
        return {"object": "list",
                "data": [{"id": self.model_name, "object": "model", "created": self.created, "owned_by": "emollm"}]}


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": param, "code": status}})

    def _authorised(self) -> bool:
        if not self.server.api_key:
            return True
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.api_key}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self._error(401, "missing or wrong API key (Authorization: Bearer ...)", kind="authentication_error")
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._authorised():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, self.server.models())
        else:
            self._error(404, f"no route GET {self.path}; try /v1/models or POST /v1/chat/completions", kind="not_found")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._drain()
            self._error(404, f"no route POST {self.path}; use /v1/chat/completions", kind="not_found")
            return
        if not self._authorised():
            self._drain()
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(411, "a Content-Length header is required")
            self.close_connection = True
            return
        if length > MAX_BODY_BYTES:
            self._error(413, f"request body over {MAX_BODY_BYTES // (1024 * 1024)} MiB; send fewer or smaller images")
            self.close_connection = True
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._error(400, f"the body is not valid JSON ({exc})")
            return
        try:
            self._send(200, self.server.chat(body))
        except RequestError as exc:
            self._error(exc.status, str(exc), exc.param)
        except Exception as exc:
            log.exception("generation failed")
            self._error(500, f"generation failed: {type(exc).__name__}: {exc}", kind="server_error")

    def _drain(self) -> None:
        try:
            length = min(int(self.headers.get("Content-Length", "0")), MAX_BODY_BYTES)
        except ValueError:
            length = 0
        if length:
            self.rfile.read(length)


def make_server(runner: Generator, host: str = "127.0.0.1", port: int = 8000, model_name: str = "emollm",
                api_key: str | None = None) -> ChatServer:
    """A ready (not yet serving) server; call ``serve_forever()``. ``port=0`` picks a free port."""
    if not callable(getattr(runner, "generate", None)):
        raise TypeError("runner must have a generate(prompts, media, max_new_tokens, temperature) method")
    return ChatServer((host, port), runner, model_name, api_key)
