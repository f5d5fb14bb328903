"""Fixtures for the W5500 driver tests: emulated chips (closed afterwards), loopback echo servers, interfaces."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev, LanConfig

from netsocket import NsapiConnectionStatus, NsapiError, SocketAddress
from tests.servers import TcpServer, UdpServer

STATIC_IP = "192.168.77.50"


def _echo(conn: socket.socket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


@pytest.fixture
def tcp_echo() -> Iterator[TcpServer]:
    with TcpServer("echo", _echo) as server:
        yield server


@pytest.fixture
def udp_echo() -> Iterator[UdpServer]:
    with UdpServer("udp-echo", lambda data, sender: data) as server:
        yield server


class StatusLog:
    """Status callbacks as a list, with a wait for a given status (no polling)."""

    def __init__(self) -> None:
        self.statuses: list[NsapiConnectionStatus] = []
        self._cond = threading.Condition()

    def __call__(self, event: object, status: int) -> None:
        with self._cond:
            self.statuses.append(NsapiConnectionStatus(status))
            self._cond.notify_all()

    def wait_for(self, status: NsapiConnectionStatus, count: int = 1, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.statuses.count(status) >= count, timeout)


MakeInterface = Callable[..., tuple[W5500Interface, FakeSpiDev]]


@pytest.fixture
def make_interface() -> Iterator[MakeInterface]:
    """``make_interface(static=True, lan=None, **interface_options)``: a connected interface on a new emulator."""
    made: list[tuple[W5500Interface, FakeSpiDev]] = []

    def make(static: bool = True, lan: LanConfig | None = None, connect: bool = True, **options: Any) -> Any:
        fake = FakeSpiDev(lan=lan) if lan is not None else FakeSpiDev()
        interface = W5500Interface(fake, **options)
        made.append((interface, fake))
        if static:
            interface.set_network(
                SocketAddress(STATIC_IP), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1")
            )
        if connect:
            assert interface.connect() == NsapiError.OK
        return interface, fake

    yield make
    for interface, fake in made:
        interface.close()
        fake.close()
