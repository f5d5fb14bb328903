"""Fixtures for the ESP-AT emulator tests; every test must leave no emulator, thread or socket behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from netsocket.mocks.esp_at import running_emulators

from .helpers import PROFILES, AtPort, pty_emulator


@pytest.fixture(autouse=True)
def no_leaked_emulators() -> Iterator[None]:
    yield
    assert running_emulators() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("espemu:")]


@pytest.fixture(params=PROFILES)
def at(request: pytest.FixtureRequest) -> Iterator[AtPort]:
    """A booted module of each profile on a pty, echo off."""
    with pty_emulator(request.param) as port:
        port.boot()
        yield port
