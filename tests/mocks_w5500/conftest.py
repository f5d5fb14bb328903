"""Fixtures for the W5500 emulator tests: an emulator per test, closed afterwards, and a leak check."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from netsocket.mocks.w5500 import FakeSpiDev, open_emulators

from .spi import Wire


@pytest.fixture(autouse=True)
def no_leaked_emulators() -> Iterator[None]:
    yield
    leaked = open_emulators()
    for emulator in leaked:
        emulator.close()
    assert not leaked, "a test left a W5500 emulator open"
    assert not [t for t in threading.enumerate() if t.name == "w5500-emulator"]


@pytest.fixture
def spi() -> Iterator[FakeSpiDev]:
    with FakeSpiDev() as device:
        yield device


@pytest.fixture
def wire(spi: FakeSpiDev) -> Wire:
    return Wire(spi)


@pytest.fixture
def lan_wire(wire: Wire) -> Wire:
    """A chip with a static address on the default emulated LAN and short retransmission timeouts."""
    wire.configure("192.168.77.50")
    wire.set_timeouts()
    return wire


@pytest.fixture
def tcp_server() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    yield server
    server.close()
