"""TLSSocket and TLSSocketWrapper over the host stack against a TLS server on loopback (Mbed's TLS test cases)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme
from netsocket.drivers.host import HostInterface

from netsocket import NsapiError, SocketAddress, TCPSocket
from netsocket.tls import TLSSocket, TLSSocketWrapper

E = NsapiError


class TlsEchoServer:
    """Echoes over TLS until the client closes; with ``require_client_cert`` it demands a certificate."""

    def __init__(self, ca: trustme.CA, require_client_cert: bool = False) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(self.context)
        if require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
            ca.configure_trust(self.context)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    while data := tls.recv(4096):
                        tls.sendall(data)
            except (ssl.SSLError, OSError) as exc:
                self.errors.append(exc)

    def close(self) -> None:
        # Closing alone does not wake a thread blocked in accept() on Linux; shutting down does.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[TlsEchoServer]:
    srv = TlsEchoServer(ca)
    yield srv
    srv.close()


@pytest.fixture
def net() -> Iterator[HostInterface]:
    interface = HostInterface()
    interface.connect()
    yield interface
    interface.disconnect()


def tls_socket(net: HostInterface, ca: trustme.CA) -> TLSSocket:
    sock = TLSSocket()
    assert sock.open(net) == E.OK
    assert sock.set_root_ca_cert(ca.cert_pem.bytes()) == E.OK
    assert sock.set_hostname("localhost") == E.OK
    sock.set_timeout(5000)
    return sock


def echo(sock: TLSSocket | TLSSocketWrapper, payload: bytes) -> bytes:
    assert sock.send(payload) == len(payload)
    got = bytearray()
    buffer = bytearray(2048)
    while len(got) < len(payload):
        size = sock.recv(buffer)
        assert size > 0
        got += buffer[:size]
    return bytes(got)


def test_echo_over_tls(net: HostInterface, ca: trustme.CA, server: TlsEchoServer) -> None:
    sock = tls_socket(net, ca)
    assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.OK
    for size in [*range(1, 11), *range(100, 1300, 100)]:
        payload = bytes((i * 7) & 0xFF for i in range(size))
        assert echo(sock, payload) == payload
    peer = SocketAddress()
    assert sock.getpeername(peer) == E.OK and peer.get_port() == server.port
    assert sock.close() == E.OK


def test_no_ca_fails_the_handshake(net: HostInterface, server: TlsEchoServer) -> None:
    sock = TLSSocket()
    sock.open(net)
    sock.set_timeout(5000)
    assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.AUTH_FAILURE
    sock.close()


def test_wrong_hostname_fails_the_handshake(net: HostInterface, ca: trustme.CA, server: TlsEchoServer) -> None:
    sock = tls_socket(net, ca)
    sock.set_hostname("not-the-server.example")
    assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.AUTH_FAILURE
    sock.close()


def test_send_unconnected_and_send_closed(net: HostInterface, ca: trustme.CA, server: TlsEchoServer) -> None:
    sock = tls_socket(net, ca)
    assert sock.send(b"x") == E.NO_CONNECTION
    assert sock.recv(bytearray(4)) == E.NO_CONNECTION
    assert sock.getpeername(SocketAddress()) == E.NO_CONNECTION
    assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.OK
    assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.IS_CONNECTED
    sock.close()
    assert sock.send(b"x") == E.NO_SOCKET


def test_bad_pem_is_a_parameter_error() -> None:
    sock = TLSSocket()
    assert sock.set_root_ca_cert("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n") == (
        E.PARAMETER
    )
    assert sock.set_client_cert_key("junk", "junk") == E.PARAMETER


def test_client_certificate(net: HostInterface, ca: trustme.CA) -> None:
    server = TlsEchoServer(ca, require_client_cert=True)
    try:
        client_cert = ca.issue_cert("client@netsocket")
        sock = tls_socket(net, ca)
        key = client_cert.private_key_pem.bytes()
        chain = b"".join(blob.bytes() for blob in client_cert.cert_chain_pems)
        assert sock.set_client_cert_key(chain, key) == E.OK
        assert sock.connect(SocketAddress("127.0.0.1", server.port)) == E.OK
        assert echo(sock, b"with a client certificate") == b"with a client certificate"
        sock.close()
    finally:
        server.close()


def test_recv_returns_zero_after_the_server_closes(net: HostInterface, ca: trustme.CA) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_once() -> None:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"bye")
                tls.unwrap()

        thread = threading.Thread(target=serve_once)
        thread.start()
        sock = tls_socket(net, ca)
        assert sock.connect(SocketAddress("127.0.0.1", listener.getsockname()[1])) == E.OK
        buffer = bytearray(16)
        assert sock.recv(buffer) == 3 and buffer[:3] == b"bye"
        assert sock.recv(buffer) == 0
        sock.close()
        thread.join(5)


def test_non_blocking_handshake_sequence(net: HostInterface, ca: trustme.CA, server: TlsEchoServer) -> None:
    sock = tls_socket(net, ca)
    sock.set_blocking(False)
    ready = threading.Event()
    sock.sigio(ready.set)
    results = []
    for _ in range(200):
        ready.clear()
        result = sock.connect(SocketAddress("127.0.0.1", server.port))
        results.append(result)
        if result == E.IS_CONNECTED:
            break
        assert result in (E.IN_PROGRESS, E.ALREADY)
        ready.wait(2)
    assert results[-1] == E.IS_CONNECTED
    assert results[0] in (E.IN_PROGRESS, E.ALREADY)
    sock.set_blocking(True)
    assert echo(sock, b"after a non-blocking handshake") == b"after a non-blocking handshake"
    sock.close()


def test_wrapper_over_a_connected_tcp_socket(net: HostInterface, ca: trustme.CA, server: TlsEchoServer) -> None:
    tcp = TCPSocket()
    tcp.open(net)
    tcp.set_timeout(5000)
    wrapper = TLSSocketWrapper(tcp, hostname="localhost")
    assert wrapper.set_root_ca_cert(ca.cert_pem.bytes()) == E.OK
    assert wrapper.connect(SocketAddress("127.0.0.1", server.port)) == E.OK
    assert echo(wrapper, b"wrapped") == b"wrapped"
    assert wrapper.close() == E.OK
    assert tcp.close() == E.NO_SOCKET  # the wrapper closed its transport
