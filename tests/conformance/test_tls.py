"""Mbed's TLSSOCKET_* cases (test plan §3.5): TLS on the host over the stack under test, against loopback TLS
servers (echo, discard, daytime) whose certificate a session CA signed, as Mbed's stunnel ports 2007/2009/2013."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netsocket import NsapiError, SocketAddress
from netsocket.tls import TLSSocket
from tests.conformance.harness import (
    ECHO_SIZES,
    SOCKET_TIMEOUT_MS,
    Network,
    Sigio,
    Sockets,
    payload,
    recv_exactly,
    recv_nonblocking,
    send_nonblocking,
    timed,
)
from tests.servers.services import TlsServices

BURST = [100, 200, 300, 120, 500]


class TlsSockets:
    """Opens TLS sockets (trusting the session CA, checking the host name) and closes them afterwards."""

    def __init__(self, network: Network, sockets: Sockets) -> None:
        self._network = network
        self._sockets = sockets

    def open(self, ca: bool = True, hostname: str | None = TlsServices.HOSTNAME) -> TLSSocket:
        sock = TLSSocket()
        assert sock.open(self._network.interface) == NsapiError.OK
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        self._sockets.track(sock)
        if ca:
            assert sock.set_root_ca_cert(self._network.servers.tls.ca_pem) == NsapiError.OK
        if hostname is not None:
            assert sock.set_hostname(hostname) == NsapiError.OK
        return sock

    def connected(self, address: SocketAddress) -> TLSSocket:
        sock = self.open()
        result = sock.connect(address)
        assert result == NsapiError.OK, f"TLS connect to {address} gave {result}"
        return sock


@pytest.fixture
def tls(network: Network, sockets: Sockets) -> Iterator[TlsSockets]:
    yield TlsSockets(network, sockets)


def test_TLSSOCKET_ECHOTEST(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_echo_tcp)
    for size in ECHO_SIZES:
        data = payload(size, seed=7)
        assert sock.send(data) == size
        assert recv_exactly(sock, size) == data


def test_TLSSOCKET_ECHOTEST_NONBLOCK(network: Network, tls: TlsSockets) -> None:
    """Non-blocking connect and handshake (IN_PROGRESS, ALREADY..., IS_CONNECTED), then sigio-driven echoes."""
    sock = tls.open()
    sigio = Sigio(sock)
    sock.set_blocking(False)
    sigio.arm()
    results = [sock.connect(network.tls_echo_tcp)]
    assert results[0] == NsapiError.IN_PROGRESS
    while results[-1] != NsapiError.IS_CONNECTED:
        assert len(results) < 100, results
        sigio.wait("connect over TLS")
        sigio.arm()
        results.append(sock.connect(network.tls_echo_tcp))
        assert results[-1] in (NsapiError.ALREADY, NsapiError.IS_CONNECTED), results
    for size in ECHO_SIZES:
        data = payload(size, seed=8)
        send_nonblocking(sock, data, sigio)
        assert recv_nonblocking(sock, size, sigio) == data


def test_TLSSOCKET_ECHOTEST_BURST(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_echo_tcp)
    for round_ in range(20):
        chunks = [payload(size, seed=round_) for size in BURST]
        for chunk in chunks:
            assert sock.send(chunk) == len(chunk)
        assert recv_exactly(sock, sum(BURST)) == b"".join(chunks)


def test_TLSSOCKET_RECV_TIMEOUT(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_echo_tcp)
    buffer = bytearray(100)
    for round_ in range(3):
        sock.set_timeout(100)
        result, seconds = timed(lambda: sock.recv(buffer))
        assert result == NsapiError.CONNECTION_TIMEOUT
        assert 0.09 <= seconds < 1.0, f"timed out after {seconds:.3f} s"
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        data = payload(100, seed=round_)
        assert sock.send(data) == 100
        assert recv_exactly(sock, 100) == data


def test_TLSSOCKET_ENDPOINT_CLOSE(network: Network, tls: TlsSockets) -> None:
    """The daytime server sends the date and close_notify: recv gives the date, then 0."""
    sock = tls.connected(network.tls_daytime_tcp)
    buffer = bytearray(30)
    text = b""
    while (result := sock.recv(buffer)) != 0:
        assert result > 0, f"recv gave {result!s}"
        text += buffer[:result]
        assert len(text) < 30
    assert text.endswith(b"\r\n")
    assert sock.close() == NsapiError.OK


def test_TLSSOCKET_SEND_REPEAT(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_discard_tcp)
    for _ in range(100):
        assert sock.send(b"hello") == 5


def test_TLSSOCKET_SEND_TIMEOUT(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_discard_tcp)
    for _ in range(10):
        result, seconds = timed(lambda: sock.send(b"hello"))
        assert result == 5
        assert seconds < 0.8


def test_TLSSOCKET_CONNECT_INVALID(network: Network, tls: TlsSockets) -> None:
    sock = tls.open()
    assert sock.connect(SocketAddress()) < 0
    assert sock.connect(SocketAddress(network.tls_echo_tcp.get_ip_address(), 0)) < 0
    assert sock.connect(network.tls_echo_tcp) == NsapiError.OK


def test_TLSSOCKET_HANDSHAKE_INVALID(network: Network, tls: TlsSockets) -> None:
    """The certificate is not for the name asked: AUTH_FAILURE, and no data can be sent."""
    sock = tls.open(hostname="not-the-server.example")
    assert sock.connect(network.tls_echo_tcp) == NsapiError.AUTH_FAILURE
    assert sock.send(b"hello") < 0


def test_TLSSOCKET_NO_CERT(network: Network, tls: TlsSockets) -> None:
    """No CA given: the server cannot be verified, so connect fails (verification is on by default)."""
    sock = tls.open(ca=False)
    assert sock.connect(network.tls_echo_tcp) == NsapiError.AUTH_FAILURE


def test_TLSSOCKET_SEND_UNCONNECTED(network: Network, tls: TlsSockets) -> None:
    sock = tls.open()
    assert sock.send(b"hello") == NsapiError.NO_CONNECTION
    assert sock.recv(bytearray(10)) == NsapiError.NO_CONNECTION


def test_TLSSOCKET_SEND_CLOSED(network: Network, tls: TlsSockets) -> None:
    sock = tls.connected(network.tls_echo_tcp)
    assert sock.close() == NsapiError.OK
    assert sock.send(b"hello") == NsapiError.NO_SOCKET
    assert sock.recv(bytearray(10)) == NsapiError.NO_SOCKET


def test_TLSSOCKET_OPEN_TWICE(network: Network, tls: TlsSockets) -> None:
    sock = tls.open()
    assert sock.open(network.interface) == NsapiError.PARAMETER


def test_TLSSOCKET_OPEN_DESTRUCT(network: Network, sockets: Sockets) -> None:
    for _ in range(20):
        sock = TLSSocket()
        assert sock.open(network.interface) == NsapiError.OK
        del sock
