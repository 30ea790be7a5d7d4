"""Fixtures for the EmoPrompt tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .chat_server import ChatServer, Reply


@pytest.fixture
def chat_server() -> Iterator[Callable[[Callable[[dict | None, int], Reply]], ChatServer]]:
    """Factory: ``chat_server(respond)`` starts a server; all are shut down after the test."""
    servers: list[ChatServer] = []

    def start(respond: Callable[[dict | None, int], Reply]) -> ChatServer:
        server = ChatServer(respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
