"""netsocket.compat: ordinary Python libraries (http.client, ssl, select) run unchanged over a netsocket stack."""

from __future__ import annotations

import http.client
import http.server
import select
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme
from netsocket.drivers.host import HostInterface

from netsocket import NsapiError, compat


@pytest.fixture
def net() -> Iterator[HostInterface]:
    interface = HostInterface()
    assert interface.connect() == NsapiError.OK
    yield interface
    interface.disconnect()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


class _NetsocketHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, net: HostInterface) -> None:
        super().__init__(host, port, timeout=5)
        self._net = net

    def connect(self) -> None:
        self.sock = compat.create_connection((self.host, self.port), self.timeout, stack=self._net)


def test_http_client_over_compat(net: HostInterface, http_server: http.server.ThreadingHTTPServer) -> None:
    conn = _NetsocketHTTPConnection("127.0.0.1", http_server.server_address[1], net)
    conn.request("GET", "/page")
    response = conn.getresponse()
    assert response.status == 200
    assert response.read() == b"hello /page"
    conn.close()


def test_compat_socket_is_selectable_and_reports_the_peer(net: HostInterface) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sock = compat.create_connection(("127.0.0.1", port), 5, stack=net)
        peer, _ = server.accept()
        with peer:
            assert sock.getpeername() == ("127.0.0.1", port)
            assert select.select([sock], [], [], 0)[0] == []
            peer.sendall(b"ping")
            assert select.select([sock], [], [], 5)[0] == [sock]
            assert sock.recv(10) == b"ping"
            sock.sendall(b"pong")
            assert peer.recv(10) == b"pong"
        assert sock.recv(10) == b""  # the peer closed
        sock.close()


def test_tls_over_compat_with_verification(net: HostInterface) -> None:
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(100).upper())

        thread = threading.Thread(target=serve)
        thread.start()
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        raw = compat.create_connection(("127.0.0.1", port), 5, stack=net)
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"secret")
            assert tls.recv(100) == b"SECRET"
        thread.join()


def test_errors_are_oserror_subclasses_with_the_nsapi_code(net: HostInterface) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as refused:
        compat.create_connection(("127.0.0.1", port), 5, stack=net)
    assert isinstance(refused.value, compat.NsapiOSError)
    assert refused.value.nsapi_error == NsapiError.NO_CONNECTION
    assert "NSAPI_ERROR_NO_CONNECTION -3004" in str(refused.value)
    with pytest.raises(socket.gaierror):
        compat.create_connection(("no-such-host.invalid", 80), 5, stack=net)


def test_udp_over_compat(net: HostInterface) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        echo.bind(("127.0.0.1", 0))
        with compat.socket(net, compat.AF_INET, compat.SOCK_DGRAM) as udp:
            assert isinstance(udp, compat.DatagramSocket)
            udp.settimeout(5)
            udp.sendto(b"datagram", echo.getsockname())
            data, sender = echo.recvfrom(100)
            echo.sendto(data[::-1], sender)
            assert udp.recvfrom(100) == (b"margatad", echo.getsockname())
            udp.settimeout(0.1)
            with pytest.raises(TimeoutError):
                udp.recvfrom(100)
