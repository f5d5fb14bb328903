"""The loopback test servers themselves: the chargen pattern and its checker, daytime's text, clean stops."""

from __future__ import annotations

import errno
import http.client
import socket
import threading
import time

import pytest

from tests.servers import (
    ChargenChecker,
    ChargenMismatch,
    HttpResponse,
    HttpServer,
    StalledTcpServer,
    TcpServer,
    UdpServer,
    chargen_bytes,
    chargen_line,
    daytime_text,
)
from tests.servers.chargen import LINE_BYTES, PERIOD_BYTES
from tests.servers.services import _echo_stream, chargen_tcp, echo_tcp, echo_udp


def test_chargen_lines_follow_rfc_864() -> None:
    first = chargen_line(0)
    assert first == bytes(range(0x20, 0x20 + 72)) + b"\r\n"
    assert chargen_line(1).startswith(b'!"#')
    assert chargen_line(94)[:2] == b"~ "  # the ring wraps inside a line
    assert chargen_line(95) == first
    assert chargen_bytes(0, 2 * PERIOD_BYTES) == chargen_bytes(0, PERIOD_BYTES) * 2


@pytest.mark.parametrize("chunk", [1, 7, LINE_BYTES, 1220, PERIOD_BYTES + 3])
def test_chargen_checker_accepts_any_split(chunk: int) -> None:
    stream = chargen_bytes(0, 3 * PERIOD_BYTES)
    checker = ChargenChecker()
    for start in range(0, len(stream), chunk):
        checker.feed(stream[start : start + chunk])
    assert checker.checked == len(stream)


def test_chargen_checker_finds_a_damaged_byte() -> None:
    stream = bytearray(chargen_bytes(0, 1000))
    stream[777] ^= 0x01
    checker = ChargenChecker()
    checker.feed(stream[:500])
    with pytest.raises(ChargenMismatch, match="byte 777 \\(line 10, column 37\\)"):
        checker.feed(stream[500:])


def test_chargen_checker_rejects_a_lost_byte_and_accepts_the_xinetd_start() -> None:
    stream = chargen_bytes(0, 300)
    with pytest.raises(ChargenMismatch):
        ChargenChecker().feed(stream[:100] + stream[101:])
    ChargenChecker(first="!").feed(chargen_bytes(LINE_BYTES, 300))
    with pytest.raises(ChargenMismatch):
        ChargenChecker(first="!").feed(stream)


def test_daytime_text_fits_mbeds_30_byte_buffer() -> None:
    text = daytime_text(0)
    assert text == b"Thu Jan 01 00:00:00 1970\r\n"
    assert len(daytime_text()) < 30


def test_chargen_server_sends_the_pattern() -> None:
    with chargen_tcp() as server, socket.create_connection(server.address, timeout=5) as client:
        checker = ChargenChecker()
        while checker.checked < 20_000:
            data = client.recv(4096)
            assert data
            checker.feed(data)


def test_tcp_server_stops_promptly_with_an_idle_client_connected() -> None:
    server = TcpServer("unit-echo", _echo_stream).start()
    client = socket.create_connection(server.address, timeout=5)
    try:
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 1.0
        assert client.recv(4) == b""  # the server shut the connection down
    finally:
        client.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("unit-echo")]
    server.stop()  # twice is harmless


def test_udp_echo_and_receive_counter() -> None:
    with echo_udp() as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        for size in (1, 1200, 9000):
            client.sendto(b"u" * size, server.address)
            assert client.recv(65535) == b"u" * size
        assert server.wait_received(3, 5.0)
        assert not server.wait_received(4, 0.01)


def test_servers_refuse_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        TcpServer("bad", lambda conn: None, host="0.0.0.0")
    with pytest.raises(ValueError):
        UdpServer("bad", lambda data, sender: None, host="10.0.0.1")
    with pytest.raises(ValueError, match=r"::1"):
        TcpServer("bad", lambda conn: None, host="::")


def test_ipv6_echo_servers_listen_on_loopback_only() -> None:
    with echo_tcp("::1") as tcp, echo_udp("echo6", "::1") as udp:
        assert tcp.address[0] == "::1" and udp.address[0] == "::1"
        with socket.create_connection(tcp.address, timeout=5) as client:
            client.sendall(b"six")
            assert client.recv(10) == b"six"
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"dgram", udp.address)
            assert client.recvfrom(100) == (b"dgram", (*udp.address, 0, 0))


def test_stalled_server_keeps_a_connect_pending() -> None:
    server = StalledTcpServer()
    try:
        with socket.socket() as client:
            client.setblocking(False)
            assert client.connect_ex(server.address) in (errno.EINPROGRESS, errno.EAGAIN)  # the SYN is dropped
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            with pytest.raises(OSError):
                client.getpeername()
    finally:
        server.stop()


def test_http_server_routes_records_and_echoes() -> None:
    with HttpServer({"/hello": HttpResponse(b"hi\n")}) as server:
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        try:
            conn.request("GET", "/hello")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"hi\n")
            conn.request("GET", "/missing")
            response = conn.getresponse()
            assert response.status == 404
            response.read()
            conn.request("POST", "/echo", body=b"payload", headers={"Content-Type": "text/x-test"})
            response = conn.getresponse()
            assert (response.read(), response.getheader("Content-Type")) == (b"payload", "text/x-test")
        finally:
            conn.close()
        assert [(r.method, r.path) for r in server.requests] == [
            ("GET", "/hello"),
            ("GET", "/missing"),
            ("POST", "/echo"),
        ]
        assert server.requests[-1].body == b"payload"
