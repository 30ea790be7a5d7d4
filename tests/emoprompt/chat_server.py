"""A scripted OpenAI-compatible chat server on 127.0.0.1 for the teacher and rationale tests.

A real HTTP server on a real socket, answering ``POST /v1/chat/completions`` as the test scripts
it (a completion, a 429 with ``Retry-After``, a 401, a slow reply...), so the official ``openai``
client inside the teacher runs its real transport, timeouts, retries and headers against it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict -> JSON; str/bytes sent as they are
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def chat_body(text: str, prompt_tokens: int = 10, completion_tokens: int = 5) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


@dataclass
class Hit:
    path: str
    headers: dict  # names in lower case
    body: dict | None
    at: float


class ChatServer:
    """Answers each POST with ``respond(body, hit_index) -> Reply`` and records every hit."""

    def __init__(self, respond: Callable[[dict | None, int], Reply]) -> None:
        self.respond = respond
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = None
                with api.lock:
                    index = len(api.hits)
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    api.hits.append(Hit(self.path, headers, body, time.monotonic()))
                    api.in_flight += 1
                    api.max_in_flight = max(api.max_in_flight, api.in_flight)
                try:
                    reply = api.respond(body, index)
                    if reply.delay:
                        time.sleep(reply.delay)
                    payload = reply.body
                    if isinstance(payload, dict | list):
                        payload = json.dumps(payload)
                    data = payload.encode() if isinstance(payload, str) else (payload or b"")
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)
                finally:
                    with api.lock:
                        api.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def user_text(body: dict | None) -> str:
    """All text parts of the request's user message."""
    if not body:
        return ""
    parts = body["messages"][-1]["content"]
    if isinstance(parts, str):
        return parts
    return "\n".join(p["text"] for p in parts if p.get("type") == "text")
