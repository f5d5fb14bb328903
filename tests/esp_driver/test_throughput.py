"""Megabytes through the emulated module at a throttled 921600 baud arrive intact (SHA-256), in both directions at
once for the echo. How fast is for `make bench` (benchmarks/), not for a test on a shared machine: the time limit
here only turns a stall into a failure."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface

from benchmarks.esp_throughput import download, pattern, upload
from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from tests.servers import LoopbackServers

pytestmark = [pytest.mark.esp, pytest.mark.slow, pytest.mark.timeout(600)]

SIZE = 5_000_000
BAUD = 921_600
IN_FLIGHT = 256 * 1024


@pytest.fixture
def iface() -> Iterator[ESP8266Interface]:
    url = f"espemu://?profile=at22_8266&baud={BAUD}&timescale=0.01&name=throughput-{os.getpid()}"
    interface = ESP8266Interface(url, BAUD)
    try:
        assert interface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        yield interface
    finally:
        interface.close()


def test_5mb_download_arrives_intact(iface: ESP8266Interface) -> None:
    result = download(iface, SIZE)
    assert result.size == SIZE
    assert result.intact, "SHA-256 of the downloaded bytes differs"


def test_5mb_upload_arrives_intact(iface: ESP8266Interface) -> None:
    result = upload(iface, SIZE)
    assert result.size == SIZE
    assert result.intact, "SHA-256 of the uploaded bytes differs"


# One AT command at a time: the echo's sends and fetches take turns, so 5 MB each way is 108 s of line time at best.
def test_5mb_tcp_echo_arrives_intact(iface: ESP8266Interface) -> None:
    data = pattern(SIZE, seed=9)
    with LoopbackServers() as servers:
        sock = TCPSocket()
        assert sock.open(iface) == NsapiError.OK
        sock.set_timeout(20_000)
        assert sock.connect(SocketAddress(*servers.echo_tcp.address)) == NsapiError.OK
        send_error: list[int] = []
        progress = threading.Condition()
        received = [0]

        def sender() -> None:
            # Keep at most IN_FLIGHT bytes unechoed, as an application with bounded buffers would: an unbounded
            # sender would fill every buffer between here and the echo server.
            view = memoryview(data)
            sent = 0
            while sent < SIZE:
                with progress:
                    if not progress.wait_for(lambda s=sent: s - received[0] < IN_FLIGHT, 30):  # type: ignore[misc]
                        send_error.append(NsapiError.CONNECTION_TIMEOUT)
                        return
                result = sock.send(view[sent : sent + 16384])
                if result <= 0:
                    send_error.append(result)
                    return
                sent += result

        thread = threading.Thread(target=sender)
        thread.start()
        digest = hashlib.sha256()
        got = 0
        buffer = bytearray(16384)
        while got < SIZE:
            result = sock.recv(buffer)
            assert result > 0, f"recv gave {result!s} after {got} bytes"
            digest.update(memoryview(buffer)[:result])
            got += result
            with progress:
                received[0] = got
                progress.notify_all()
        thread.join(30)
        sock.close()
    assert not send_error, send_error
    assert got == SIZE
    assert digest.digest() == hashlib.sha256(data).digest()
