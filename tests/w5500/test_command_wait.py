"""A socket whose Sn_CR the chip is slow to take (here: never takes) holds up only itself: the stack lock is not
held while the driver waits for Sn_CR to read 0, so another socket's calls and the service thread go on (issue 12:
no lock held across a wait that another lock-holder may need)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiError, SocketAddress, TCPSocket
from tests.reliability._flood import FloodServer, stream
from tests.servers import TcpServer

COMMAND_TIMEOUT_S = 1.0
"""The driver's bound on one Sn_CR wait, raised from 0.1 s so that being stuck behind it cannot pass unseen."""


class WatchedBus:
    """The emulator's bus, setting ``stuck`` once the chip holds a command it will not take."""

    def __init__(self, fake: FakeSpiDev) -> None:
        self.fake = fake
        self.bufsiz = fake.bufsiz
        self.stuck = threading.Event()

    def xfer2(self, values: Sequence[int]) -> list[int]:
        reply = self.fake.xfer2(values)
        if any(s.cr_stuck for s in self.fake.emulator.chip.sockets):
            self.stuck.set()
        return reply


@pytest.fixture
def two_downloads() -> Iterator[tuple[FakeSpiDev, WatchedBus, TCPSocket, TCPSocket]]:
    fake = FakeSpiDev()
    bus = WatchedBus(fake)
    iface = W5500Interface(bus, interrupt=fake)
    iface.chip.command_timeout = COMMAND_TIMEOUT_S
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    servers = [FloodServer(stream(seed, 200_000)).__enter__() for seed in (1, 2)]
    sockets = [TCPSocket(), TCPSocket()]
    try:
        assert iface.connect() == NsapiError.OK
        for sock, server in zip(sockets, servers, strict=True):
            assert sock.open(iface) == NsapiError.OK
            sock.set_timeout(3000)
            assert sock.connect(SocketAddress(*server.server.address)) == NsapiError.OK
        yield fake, bus, sockets[0], sockets[1]
    finally:
        for sock in sockets:
            sock.close()
        for server in servers:
            server.__exit__()
        iface.close()
        fake.close()


def test_a_stuck_command_on_one_socket_does_not_hold_up_another(
    two_downloads: tuple[FakeSpiDev, WatchedBus, TCPSocket, TCPSocket],
) -> None:
    fake, bus, stuck_sock, other = two_downloads
    buffer = bytearray(4096)
    assert other.recv(buffer) > 0 and stuck_sock.recv(buffer) > 0  # both connections carry data
    fake.faults.stuck_cr.add(0)  # the first socket opened is hardware socket 0: its next command never runs
    outcome: dict[str, object] = {}

    def read_stuck() -> None:
        started = time.monotonic()
        outcome["result"] = stuck_sock.recv(bytearray(4096))
        outcome["took"] = time.monotonic() - started

    reader = threading.Thread(target=read_stuck, name="stuck-reader", daemon=True)
    reader.start()
    assert bus.stuck.wait(5.0), "the stuck socket never issued its RECV"
    started = time.monotonic()
    result = other.recv(buffer)
    took = time.monotonic() - started
    assert result > 0, f"the other socket gave {result!s}"
    assert took < 0.25, f"the other socket's recv waited {took:.2f} s behind a stuck Sn_CR on socket 0"
    # Reading on needs the service thread (INTn, RECV notifications as the chip's ring refills): it goes on too.
    got = 0
    while got < 50_000:
        count = other.recv(buffer)
        assert count > 0, f"the other socket gave {count!s} after {got} bytes"
        got += count
    assert reader.is_alive(), "50 KB on the other socket took as long as the stuck command's whole wait"
    reader.join(COMMAND_TIMEOUT_S + 3.0)
    assert not reader.is_alive()
    # The stuck socket itself gives DEVICE_ERROR once the bounded wait ends, not before and not much after.
    assert outcome["result"] == NsapiError.DEVICE_ERROR
    assert COMMAND_TIMEOUT_S - 0.05 <= outcome["took"] < COMMAND_TIMEOUT_S + 1.0  # type: ignore[operator]
    assert other.recv(buffer) > 0  # and the other socket goes on


@pytest.mark.parametrize("wired", [True, False], ids=["intn", "polling"])
def test_a_chip_slow_to_take_every_command_still_echoes_intact(wired: bool, tcp_echo: TcpServer) -> None:
    """Every Sn_CR reads back set three times before 0, so every command takes the path that releases the stack
    lock; a sender and a receiver thread on one socket (SEND and RECV waiting on each other) and the service thread
    still move 300 KB through an echo server intact."""
    fake = FakeSpiDev()
    fake.faults.cr_busy_reads = 3
    iface = W5500Interface(fake, interrupt=fake if wired else None)
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    data = stream(9, 300_000)
    try:
        assert iface.connect() == NsapiError.OK
        with TCPSocket() as sock:
            assert sock.open(iface) == NsapiError.OK
            sock.set_timeout(3000)
            assert sock.connect(SocketAddress(*tcp_echo.address)) == NsapiError.OK
            sent: list[int] = []
            sender = threading.Thread(target=lambda: sent.append(sock.send(data)), name="sender", daemon=True)
            sender.start()
            echoed, buffer = bytearray(), bytearray(8192)
            while len(echoed) < len(data):
                count = sock.recv(buffer)
                assert count > 0, f"recv gave {count!s} after {len(echoed)} bytes"
                echoed += buffer[:count]
            sender.join(10.0)
            assert sent == [len(data)]
            assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    finally:
        iface.close()
        fake.close()
