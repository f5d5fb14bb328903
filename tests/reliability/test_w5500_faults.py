"""Megabytes through the emulated W5500 while things go wrong: the Ethernet link drops at a seeded random point of
a download, or the chip's command register sticks. Every blocking call returns within its deadline (plus a margin);
bytes either arrive intact (SHA-256) or the call gives a negative error; afterwards a new download works."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiConnectionStatus, NsapiError, SocketAddress, TCPSocket
from tests.reliability._flood import FloodServer, stream

TIMEOUT_MS = 3000
MARGIN_S = 1.0
_log = logging.getLogger(__name__)


class StatusLog:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self._cond = threading.Condition()

    def __call__(self, event: object, status: int) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(self, status: NsapiConnectionStatus, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: status in self.statuses, timeout)


@pytest.fixture
def chip() -> Iterator[tuple[W5500Interface, FakeSpiDev, StatusLog]]:
    fake = FakeSpiDev()
    iface = W5500Interface(fake)
    log = StatusLog()
    iface.attach(log)
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    try:
        assert iface.connect() == NsapiError.OK
        yield iface, fake, log
    finally:
        iface.close()
        fake.close()


def timed(context: str, what: str, fn: object, *args: object) -> int:
    start = time.monotonic()
    result: int = fn(*args)  # type: ignore[operator]
    took = time.monotonic() - start
    assert took < TIMEOUT_MS / 1000 + MARGIN_S, f"{context}: {what} took {took:.2f} s (gave {result!s})"
    return result


def download_until_fault(
    iface: W5500Interface, seed: int, context: str, fault: object
) -> tuple[int, int, TCPSocket, FloodServer]:
    """Starts a 2 MB download, calls ``fault()`` after a seeded random number of bytes and reads on; returns
    (bytes intact, the final result, the socket, the server) after checking every byte read."""
    size = 2_000_000
    data = stream(seed, size)
    cut = random.Random(seed).randrange(50_000, size // 2)
    context = f"{context} cut={cut}"
    flood = FloodServer(data).__enter__()
    sock = TCPSocket()
    assert sock.open(iface) == NsapiError.OK
    sock.set_timeout(TIMEOUT_MS)
    assert timed(context, "connect", sock.connect, SocketAddress(*flood.server.address)) == NsapiError.OK
    digest = hashlib.sha256()
    got = 0
    buffer = bytearray(8192)
    faulted = False
    while True:
        if not faulted and got >= cut:
            fault()  # type: ignore[operator]
            faulted = True
        # Up to the cut exactly, then whole buffers: one byte per call after the fault made a 2 MB download take
        # half an hour, which issue 12 took for a deadlock.
        limit = len(buffer) if faulted else min(len(buffer), cut - got)
        result = timed(context, "recv", sock.recv, memoryview(buffer)[:limit])
        if result <= 0:
            break
        digest.update(memoryview(buffer)[:result])
        got += result
    assert faulted, context
    assert digest.digest() == hashlib.sha256(data[:got]).digest(), f"{context}: wrong bytes returned as success"
    _log.info(f"{context}: {got} bytes intact, then recv gave {result!s}")
    return got, result, sock, flood


def fresh_download_works(iface: W5500Interface, seed: int, context: str) -> None:
    data = stream(seed + 1, 500_000)
    with FloodServer(data) as flood:
        sock = TCPSocket()
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(TIMEOUT_MS)
        assert timed(context, "connect", sock.connect, SocketAddress(*flood.server.address)) == NsapiError.OK
        digest = hashlib.sha256()
        buffer = bytearray(8192)
        while (result := timed(context, "recv", sock.recv, buffer)) > 0:
            digest.update(memoryview(buffer)[:result])
        assert result == 0 and digest.digest() == hashlib.sha256(data).digest(), f"{context}: {result!s}"
        assert sock.close() == NsapiError.OK


def test_link_loss_mid_download(chip: tuple[W5500Interface, FakeSpiDev, StatusLog]) -> None:
    iface, fake, log = chip
    seed = 505
    context = f"w5500 seed={seed} fault=link"
    _got, result, sock, flood = download_until_fault(iface, seed, context, lambda: fake.set_link(False))
    try:
        assert result < 0, f"{context}: {result!s}"
        assert log.wait_for(NsapiConnectionStatus.DISCONNECTED, 5), context
        sock.close()
    finally:
        flood.__exit__()
    fake.set_link(True)
    assert iface.connect() == NsapiError.OK, context
    fresh_download_works(iface, seed, context)


def test_stuck_command_register_mid_download(chip: tuple[W5500Interface, FakeSpiDev, StatusLog]) -> None:
    iface, fake, _status = chip
    seed = 606
    context = f"w5500 seed={seed} fault=stuck_cr"
    _got, result, sock, flood = download_until_fault(
        iface, seed, context, lambda: fake.faults.stuck_cr.update(range(8))
    )
    try:
        assert result < 0, f"{context}: {result!s}"
        sock.close()
    finally:
        flood.__exit__()
    # A command that never ran leaves Sn_CR set; the chip needs its reset pin, then the interface starts over.
    fake.faults.stuck_cr.clear()
    fake.hardware_reset()
    assert iface.disconnect() == NsapiError.OK, context
    assert iface.connect() == NsapiError.OK, context
    fresh_download_works(iface, seed, context)
