"""Fixtures for the EmoPrompt tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .fakeapi import FakeAPI, Reply


@pytest.fixture
def fake_api() -> Iterator[Callable[[Callable[[dict | None, int], Reply]], FakeAPI]]:
    """Factory: ``fake_api(respond)`` starts a server; all are shut down after the test."""
    servers: list[FakeAPI] = []

    def start(respond: Callable[[dict | None, int], Reply]) -> FakeAPI:
        server = FakeAPI(respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
