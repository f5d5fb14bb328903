"""Soak (issue 12): 10 000 open/close cycles and 1 000 connect/echo/close cycles on every stack (the host's, the
emulated W5500, the emulated ESP on each firmware profile) leave threads, file descriptors and traced memory where
they were. The emulators run in their fast modes (ESP: no baud pacing, timescale 0.01; W5500: INTn wired)."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from netsocket import NetworkInterface, NsapiError, SocketAddress, TCPSocket, UDPSocket
from tests.servers import TcpServer

_log = logging.getLogger(__name__)
OPEN_CLOSE_CYCLES = 10_000
ECHO_CYCLES = 1_000
MEMORY_LIMIT = 256 * 1024
"""Traced memory may move by this much over a whole soak (a leak of one small object per cycle would be MBs)."""
PAYLOAD = bytes(range(256)) * 4


@dataclass
class Stack:
    interface: NetworkInterface
    close: Callable[[], None]


def _host() -> Stack:
    from netsocket.drivers.host import HostInterface

    interface = HostInterface()
    assert interface.connect() == NsapiError.OK

    def close() -> None:
        interface.disconnect()

    return Stack(interface, close)


def _w5500() -> Stack:
    from netsocket.drivers.w5500 import W5500Interface
    from netsocket.mocks.w5500 import FakeSpiDev

    fake = FakeSpiDev()
    interface = W5500Interface(fake, interrupt=fake)
    interface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    assert interface.connect() == NsapiError.OK

    def close() -> None:
        interface.close()
        fake.close()

    return Stack(interface, close)


def _esp(profile: str) -> Callable[[], Stack]:
    def make() -> Stack:
        from netsocket.drivers.esp_at import ESP8266Interface

        from tests.conformance.stacks import WifiWorld

        interface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&pace=0&name=soak-{profile}")
        world = WifiWorld()
        assert interface.connect(world.secure_ssid, world.secure_pass, world.secure_security) == NsapiError.OK
        return Stack(interface, interface.close)

    return make


STACKS = {
    "host": _host,
    "w5500": _w5500,
    "esp-nonos17": _esp("nonos17"),
    "esp-at22_8266": _esp("at22_8266"),
    "esp-at3_esp32": _esp("at3_esp32"),
}


def _echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


@pytest.fixture(scope="module")
def echo_server() -> Iterator[TcpServer]:
    with TcpServer("soak-echo", _echo) as server:
        yield server


@pytest.fixture(params=list(STACKS), ids=list(STACKS))
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    made = STACKS[request.param]()
    yield made
    made.close()


class Resources:
    """Threads, file descriptors and traced memory at the start of a soak, and the check that they came back."""

    def __init__(self) -> None:
        _settle()
        gc.collect()
        self.threads = set(threading.enumerate())
        self.fds = _fd_count()
        tracemalloc.start()
        self.memory = tracemalloc.get_traced_memory()[0]

    def check(self, what: str) -> str:
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - self.memory
        tracemalloc.stop()
        _settle()
        for thread in set(threading.enumerate()) - self.threads:
            thread.join(5.0)
        extra = [t.name for t in set(threading.enumerate()) - self.threads if t.is_alive()]
        assert not extra, f"{what}: threads left behind: {extra}"
        fds = _fd_wait(self.fds)
        # Fewer is no leak: a descriptor an earlier test left to the garbage collector may close meanwhile.
        assert fds <= self.fds, f"{what}: {fds - self.fds} more file descriptors than before"
        assert grown < MEMORY_LIMIT, f"{what}: traced memory grew by {grown} bytes"
        return f"{what}: threads, fds ({fds}) flat, traced memory {grown:+d} bytes"


def _settle() -> None:
    """Let the echo server's handler threads finish with their last clients (they close the server's end)."""
    for thread in threading.enumerate():
        if thread.name.endswith("-conn"):
            thread.join(5.0)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _fd_wait(expected: int, timeout: float = 5.0) -> int:
    """The process's descriptor count once it is back to ``expected``, or what it is when ``timeout`` passes: an
    emulator's bridge thread closes the host side of the last connection a moment after the driver's close returns
    (a descriptor still open after that is a leak)."""
    deadline = time.monotonic() + timeout
    while (fds := _fd_count()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return fds


def _open_close(stack: Stack, cycles: int) -> None:
    for i in range(cycles):
        sock: TCPSocket | UDPSocket = TCPSocket() if i % 2 else UDPSocket()
        assert sock.open(stack.interface) == NsapiError.OK, f"open #{i}"
        assert sock.close() == NsapiError.OK, f"close #{i}"


def _echo_cycles(stack: Stack, server: TcpServer, cycles: int) -> None:
    buffer = bytearray(len(PAYLOAD))
    for i in range(cycles):
        sock = TCPSocket()
        assert sock.open(stack.interface) == NsapiError.OK, f"open #{i}"
        sock.set_timeout(5000)
        assert sock.connect(SocketAddress(*server.address)) == NsapiError.OK, f"connect #{i}"
        assert sock.send(PAYLOAD) == len(PAYLOAD), f"send #{i}"
        got = bytearray()
        while len(got) < len(PAYLOAD):
            count = sock.recv(buffer)
            assert count > 0, f"recv #{i} gave {count!s}"
            got += buffer[:count]
        assert got == PAYLOAD, f"echo #{i} damaged"
        assert sock.close() == NsapiError.OK, f"close #{i}"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors through /proc")
@pytest.mark.slow
def test_open_close_soak(stack: Stack) -> None:
    _open_close(stack, 100)  # warm-up: first-use allocations (caches, interned names) are not leaks
    resources = Resources()
    _open_close(stack, OPEN_CLOSE_CYCLES)
    _log.info(resources.check(f"{OPEN_CLOSE_CYCLES} open/close cycles"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors through /proc")
@pytest.mark.slow
def test_connect_echo_close_soak(stack: Stack, echo_server: TcpServer) -> None:
    _echo_cycles(stack, echo_server, 20)
    resources = Resources()
    _echo_cycles(stack, echo_server, ECHO_CYCLES)
    _log.info(resources.check(f"{ECHO_CYCLES} connect/echo/close cycles"))
