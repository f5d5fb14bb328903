"""A peer floods a connection the application holds open but does not read: the driver's buffers and the
process's allocations stay under a fixed bound, the peer is held back by TCP backpressure, and once the application
reads, every byte arrives exactly once (SHA-256). A UDP flood the application does not read stays bounded and its
losses are counted."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import struct
import tracemalloc
from collections.abc import Callable

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.drivers.esp_at.links import TCP_BUFFER_LIMIT, UDP_QUEUE_LIMIT
from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NetworkInterface, NsapiError, NsapiSecurity, SocketAddress, TCPSocket, UDPSocket
from tests.reliability._flood import FloodServer, stream

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
FLOOD = 20_000_000
ALLOC_BOUND = 4_000_000
"""Peak extra allocations, whole process (emulator and log capture included), while a flood is held back."""
CHIP_RX_MAX = 16384
"""The largest receive ring a W5500 socket can have."""
DATAGRAM = 512
DRIVER_HELD_BOUND = 512 * 1024
"""What the driver and API code may still hold after a 5 MB UDP flood (queues, parser buffer, transient records)."""
COUNT = 10_000
_names = itertools.count(1)
_log = logging.getLogger(__name__)


def esp_interface(profile: str, seed: int) -> ESP8266Interface:
    url = f"espemu://?profile={profile}&timescale=0.01&pace=0&seed={seed}&name=flood-{profile}-{next(_names)}"
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


def w5500_interface() -> tuple[W5500Interface, FakeSpiDev]:
    fake = FakeSpiDev()
    iface = W5500Interface(fake)
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    assert iface.connect() == NsapiError.OK
    return iface, fake


def chip_buffered(fake: FakeSpiDev) -> int:
    """Bytes the emulated chip holds in its receive rings (the W5500 driver keeps none on the host)."""
    return sum((s.rx_wr - s.rx_rd) & 0xFFFF for s in fake.emulator.chip.sockets)


def test_unread_tcp_flood_is_bounded_then_arrives_intact_w5500() -> None:
    seed = 12
    context = f"w5500 seed={seed}"
    data = stream(seed, FLOOD)
    iface, fake = w5500_interface()
    try:
        with FloodServer(data) as flood:
            sock = TCPSocket()
            assert sock.open(iface) == NsapiError.OK
            sock.set_timeout(10_000)
            assert sock.connect(SocketAddress(*flood.server.address)) == NsapiError.OK
            peak_buffered, peak_alloc = held_back_flood(sock, flood, lambda: chip_buffered(fake), context)
            _log.info(
                f"{context}: held back after {flood.sent} bytes, chip buffered <= {peak_buffered}, "
                f"allocations +{peak_alloc}"
            )
            assert peak_buffered <= CHIP_RX_MAX, context
            assert peak_alloc < ALLOC_BOUND, f"{context}: {peak_alloc} bytes allocated"
            assert read_all(sock, FLOOD, context) == hashlib.sha256(data).digest(), context
            assert sock.close() == NsapiError.OK
    finally:
        iface.close()
        fake.close()


def driver_held(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated by the drivers' and the API's own code (not the emulator's, not log capture)."""
    keep = [tracemalloc.Filter(True, f"*{os.sep}{part}{os.sep}*") for part in ("drivers", "netsocket")]
    return sum(stat.size for stat in snapshot.filter_traces(keep).statistics("filename"))


def datagram(seed: int, seq: int) -> bytes:
    body = hashlib.sha256(b"%d:%d" % (seed, seq)).digest() * ((DATAGRAM - 4) // 32 + 1)
    return struct.pack(">I", seq) + body[: DATAGRAM - 4]


def udp_flood_unread(iface: NetworkInterface, buffered: Callable[[], int], seed: int, context: str) -> set[int]:
    """Floods an unread UDP socket with COUNT datagrams, then reads what is left; returns the sequence numbers
    received (each checked intact; firmware that joins queued datagrams gives several per read)."""
    sock = UDPSocket()
    assert sock.open(iface) == NsapiError.OK
    sock.set_timeout(1000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host:
        host.bind(("127.0.0.1", 0))
        host.settimeout(5)
        try:
            assert sock.sendto(SocketAddress(*host.getsockname()), b"hello") == 5
            hello, app = host.recvfrom(64)
            assert hello == b"hello", context
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                peak_buffered = 0
                for seq in range(COUNT):
                    host.sendto(datagram(seed, seq), app)
                    if seq % 64 == 0:
                        peak_buffered = max(peak_buffered, buffered())
                peak_alloc = tracemalloc.get_traced_memory()[1] - baseline
                held = driver_held(tracemalloc.take_snapshot())
            finally:
                tracemalloc.stop()
            _log.info(
                f"{context}: UDP flood buffered <= {peak_buffered}, allocations +{peak_alloc} "
                f"(driver and API code hold {held})"
            )
            assert held < DRIVER_HELD_BOUND, f"{context}: driver code holds {held} bytes after the flood"
            assert peak_buffered <= UDP_QUEUE_LIMIT * 2048, f"{context}: {peak_buffered} bytes buffered"
            assert peak_alloc < ALLOC_BOUND, f"{context}: {peak_alloc} bytes allocated"
            seen: set[int] = set()
            buffer = bytearray(65536)
            while (result := sock.recvfrom(None, buffer)) > 0:
                assert result % DATAGRAM == 0, f"{context}: a read of {result} bytes"
                for start in range(0, result, DATAGRAM):
                    (seq,) = struct.unpack(">I", buffer[start : start + 4])
                    assert seq < COUNT and seq not in seen, f"{context}: datagram {seq} twice or unknown"
                    assert buffer[start : start + DATAGRAM] == datagram(seed, seq), f"{context}: datagram {seq}"
                    seen.add(seq)
            assert result == NsapiError.CONNECTION_TIMEOUT, f"{context}: recvfrom gave {result!s}"
            return seen
        finally:
            sock.close()


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32", "nonos17"])
def test_unread_udp_flood_stays_bounded_and_losses_are_counted_esp(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    # One warning per dropped datagram: the log capture would keep thousands of records the driver does not hold.
    caplog.set_level(logging.ERROR, logger="netsocket.drivers.esp_at")
    seed = 13
    context = f"profile={profile} seed={seed}"
    iface = esp_interface(profile, seed)
    try:
        links = iface.stack.engine.links
        seen = udp_flood_unread(iface, lambda: sum(link.buffered for link in links), seed, context)
        dropped = sum(link.dropped_datagrams for link in links)
        _log.info(f"{context}: {len(seen)} of {COUNT} datagrams received, driver counted {dropped} dropped")
        assert 0 < len(seen) < COUNT, context
        assert len(seen) + dropped <= COUNT, context
    finally:
        iface.close()


def test_unread_udp_flood_stays_bounded_w5500() -> None:
    seed = 14
    context = f"w5500 seed={seed}"
    iface, fake = w5500_interface()
    try:
        seen = udp_flood_unread(iface, lambda: chip_buffered(fake), seed, context)
        _log.info(f"{context}: {len(seen)} of {COUNT} datagrams received")
        assert 0 < len(seen) < COUNT, context
    finally:
        iface.close()
        fake.close()
