"""What the conformance cases share: the stack under test (``Network``), a socket factory that closes what it
opened, a sigio waiter, and the send/receive loops of Mbed's test helpers (blocking and sigio-driven)."""

from __future__ import annotations

import random
import socket as pysocket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from netsocket import (
    NetworkInterface,
    NetworkStack,
    NsapiError,
    SocketAddress,
    TCPSocket,
    UDPSocket,
)
from netsocket.socket import InternetSocket
from tests.conformance.stacks import Capabilities, StackEntry
from tests.servers import LoopbackServers

ECHO_SIZES = [*range(1, 11), *range(100, 1201, 100)]
"""Mbed's echo packet sizes: 1..10 and 100..1200 step 100 (22 sizes)."""

SOCKET_TIMEOUT_MS = 10_000
"""Every socket the suite opens gets this timeout, so a broken stack fails a case instead of hanging it."""

EVENT_WAIT_S = 10.0
"""How long a sigio-driven loop waits for one callback before failing (Mbed: 20 s)."""


def payload(size: int, seed: int = 0) -> bytes:
    """Mbed's ``fill_tx_buffer_ascii``: random characters ``'0'..'Z'``, reproducible from ``seed``."""
    rng = random.Random(seed * 100_003 + size)
    return bytes(rng.randint(ord("0"), ord("Z")) for _ in range(size))


def free_port() -> int:
    """A TCP/UDP port free on 127.0.0.1 right now (for a stack's bind or server socket)."""
    with pysocket.socket(pysocket.AF_INET, pysocket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Network:
    """The connected stack under test and the servers as it reaches them."""

    def __init__(self, entry: StackEntry, interface: NetworkInterface, servers: LoopbackServers) -> None:
        self.entry = entry
        self.name = entry.name
        self.interface = interface
        self.caps: Capabilities = entry.caps
        self.servers = servers

    @property
    def stack(self) -> NetworkStack:
        return self.interface.get_stack()

    def route(self, address: tuple[str, int]) -> SocketAddress:
        return self.entry.route(*address)

    @property
    def echo_tcp(self) -> SocketAddress:
        return self.route(self.servers.echo_tcp.address)

    @property
    def echo_udp(self) -> SocketAddress:
        return self.route(self.servers.echo_udp.address)

    @property
    def echo_udp_other(self) -> SocketAddress:
        return self.route(self.servers.echo_udp_other.address)

    @property
    def echo_tcp6(self) -> SocketAddress:
        """The TCP echo server on ::1 (the IPv6 cases)."""
        return self.route(self.servers.echo_tcp6.address)

    @property
    def echo_udp6(self) -> SocketAddress:
        """The UDP echo server on ::1 (the IPv6 cases)."""
        return self.route(self.servers.echo_udp6.address)

    @property
    def discard_tcp(self) -> SocketAddress:
        return self.route(self.servers.discard_tcp.address)

    @property
    def discard_udp(self) -> SocketAddress:
        return self.route(self.servers.discard_udp.address)

    @property
    def chargen_tcp(self) -> SocketAddress:
        return self.route(self.servers.chargen_tcp.address)

    @property
    def daytime_tcp(self) -> SocketAddress:
        return self.route(self.servers.daytime_tcp.address)

    @property
    def reset_tcp(self) -> SocketAddress:
        return self.route(self.servers.reset_tcp.address)

    @property
    def stalled_tcp(self) -> SocketAddress:
        return self.route(self.servers.stalled_tcp.address)

    @property
    def tls_echo_tcp(self) -> SocketAddress:
        return self.route(self.servers.tls_echo_tcp.address)

    @property
    def tls_discard_tcp(self) -> SocketAddress:
        return self.route(self.servers.tls_discard_tcp.address)

    @property
    def tls_daytime_tcp(self) -> SocketAddress:
        return self.route(self.servers.tls_daytime_tcp.address)

    @property
    def http(self) -> SocketAddress:
        return self.route(self.servers.http.address)

    def reach(self, port: int) -> tuple[str, int]:
        """Where a host client connects to reach a server socket on ``port`` of the stack."""
        return self.entry.reach(port)

    def open_sockets(self) -> int | None:
        probe = self.entry.open_sockets
        return None if probe is None else probe(self.stack)

    @contextmanager
    def fresh_interface(self) -> Iterator[NetworkInterface]:
        """A new, disconnected interface of the same kind, released afterwards."""
        interface = self.entry.make_interface(self.servers)
        try:
            yield interface
        finally:
            self.entry.release(interface)


class Sockets:
    """Opens sockets on the stack under test (with the suite's timeout) and closes them all at teardown."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self._opened: list[InternetSocket] = []

    def track(self, sock: InternetSocket) -> None:
        self._opened.append(sock)

    def tcp(self, connect_to: SocketAddress | None = None) -> TCPSocket:
        sock = TCPSocket()
        assert sock.open(self._network.interface) == NsapiError.OK
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        self.track(sock)
        if connect_to is not None:
            result = sock.connect(connect_to)
            assert result == NsapiError.OK, f"connect to {connect_to} gave {result}"
        return sock

    def udp(self) -> UDPSocket:
        sock = UDPSocket()
        assert sock.open(self._network.interface) == NsapiError.OK
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        self.track(sock)
        return sock

    def close_all(self) -> None:
        for sock in self._opened:
            if sock.is_open:
                sock.close()
        self._opened.clear()


class Sigio:
    """A ``sigio`` callback that sets an Event; non-blocking loops wait on it instead of polling."""

    def __init__(self, sock: InternetSocket) -> None:
        self.event = threading.Event()
        self.calls = 0
        sock.sigio(self._fire)

    def _fire(self) -> None:
        self.calls += 1
        self.event.set()

    def arm(self) -> None:
        """Call before the socket call whose WOULD_BLOCK the next ``wait`` covers."""
        self.event.clear()

    def wait(self, what: str) -> None:
        assert self.event.wait(EVENT_WAIT_S), f"no sigio within {EVENT_WAIT_S} s while waiting to {what}"


def recv_exactly(sock: TCPSocket, size: int, chunk: int = 1220) -> bytes:
    """Blocking: receive until ``size`` bytes arrived; every recv must give data (never more than asked)."""
    out = bytearray()
    buffer = bytearray(chunk)
    while len(out) < size:
        view = memoryview(buffer)[: min(chunk, size - len(out))]
        result = sock.recv(view)
        assert result > 0, f"recv gave {result!s} after {len(out)} of {size} bytes"
        assert result <= len(view)
        out += view[:result]
    return bytes(out)


def send_nonblocking(sock: TCPSocket, data: bytes, sigio: Sigio) -> None:
    """Non-blocking: send all of ``data``; on WOULD_BLOCK wait for sigio. Partial sends are allowed."""
    sent = 0
    while sent < len(data):
        sigio.arm()
        result = sock.send(data[sent:])
        if result == NsapiError.WOULD_BLOCK:
            sigio.wait("send")
            continue
        assert result > 0, f"non-blocking send gave {result!s}"
        sent += result


def recv_nonblocking(sock: TCPSocket, size: int, sigio: Sigio, chunk: int = 1220) -> bytes:
    """Non-blocking: receive ``size`` bytes; each recv gives data or WOULD_BLOCK (then wait for sigio)."""
    out = bytearray()
    buffer = bytearray(chunk)
    while len(out) < size:
        view = memoryview(buffer)[: min(chunk, size - len(out))]
        sigio.arm()
        result = sock.recv(view)
        if result == NsapiError.WOULD_BLOCK:
            sigio.wait("receive")
            continue
        assert 0 < result <= len(view), f"non-blocking recv gave {result!s} after {len(out)} of {size} bytes"
        out += view[:result]
    return bytes(out)


def timed(call: Callable[[], int]) -> tuple[int, float]:
    """``(result, seconds)`` of one call."""
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start
