"""A peer floods a connection the application holds open but does not read: the driver's buffers and the
process's allocations stay under a fixed bound, the peer is held back by TCP backpressure, and once the application
reads, every byte arrives exactly once (SHA-256). A UDP flood the application does not read stays bounded and its
losses are counted."""

from __future__ import annotations

import hashlib
import itertools
import logging
import tracemalloc
from collections.abc import Callable

import pytest

from drivers.esp_at import ESP8266Interface
from drivers.esp_at.engine import TCP_BUFFER_LIMIT
from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from tests.reliability._flood import FloodServer, stream

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
FLOOD = 20_000_000
ALLOC_BOUND = 4_000_000
"""Peak extra allocations while the flood is held back (the flood itself is 20 MB)."""
_names = itertools.count(1)
_log = logging.getLogger(__name__)


def esp_interface(profile: str, seed: int) -> ESP8266Interface:
    url = f"espemu://?profile={profile}&timescale=0.01&seed={seed}&name=flood-{profile}-{next(_names)}"
    iface = ESP8266Interface(url)
    assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
    return iface


def read_all(sock: TCPSocket, size: int, context: str) -> bytes:
    digest = hashlib.sha256()
    got = 0
    buffer = bytearray(65536)
    while True:
        result = sock.recv(buffer)
        assert result >= 0, f"{context}: recv gave {result!s} after {got} bytes"
        if result == 0:
            break
        digest.update(memoryview(buffer)[:result])
        got += result
    assert got == size, f"{context}: {got} bytes of {size}"
    return digest.digest()


def held_back_flood(sock: TCPSocket, flood: FloodServer, buffered: Callable[[], int], context: str) -> tuple[int, int]:
    """Waits (not reading) until the flood is held back; returns (peak buffered bytes, peak extra allocations)."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        peak_buffered = 0
        held = False
        for _ in range(40):  # each round: 0.5 s without progress means the sender is held back
            peak_buffered = max(peak_buffered, buffered())
            if flood.wait_held_back(quiet=0.5, deadline=0.6):
                held = True
                break
        peak_buffered = max(peak_buffered, buffered())
        peak_alloc = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert held, f"{context}: the server was never held back ({flood.sent} of {FLOOD} bytes sent)"
    assert flood.sent < FLOOD, context
    return peak_buffered, peak_alloc


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32", "nonos17"])
def test_unread_tcp_flood_is_bounded_then_arrives_intact_esp(profile: str) -> None:
    seed = 11
    context = f"profile={profile} seed={seed}"
    data = stream(seed, FLOOD)
    iface = esp_interface(profile, seed)
    try:
        with FloodServer(data) as flood:
            sock = TCPSocket()
            assert sock.open(iface) == NsapiError.OK
            sock.set_timeout(10_000)
            assert sock.connect(SocketAddress(*flood.server.address)) == NsapiError.OK
            links = iface.stack.engine.links
            peak_buffered, peak_alloc = held_back_flood(
                sock, flood, lambda: sum(link.buffered for link in links), context
            )
            _log.info(
                f"{context}: held back after {flood.sent} bytes, driver buffered <= {peak_buffered}, "
                f"allocations +{peak_alloc}"
            )
            assert peak_buffered <= TCP_BUFFER_LIMIT, context
            assert peak_alloc < ALLOC_BOUND, f"{context}: {peak_alloc} bytes allocated"
            assert read_all(sock, FLOOD, context) == hashlib.sha256(data).digest(), context
            assert sock.close() == NsapiError.OK
    finally:
        iface.close()
