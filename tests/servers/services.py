"""The classic inetd test services on loopback (Mbed's echo-server replica), on ephemeral ports.

RFC 862 echo (TCP, UDP), RFC 863 discard (TCP, UDP), RFC 864 chargen (TCP), RFC 867 daytime (TCP), plus two
misbehaving peers for error paths: ``reset`` (answers the first byte with a TCP RST) and ``stalled`` (a listener
whose full accept queue makes every further connect hang in SYN-SENT, so a connect stays pending).
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

import trustme

from tests.servers.chargen import chargen_chunks
from tests.servers.threaded import LOOPBACK, TcpServer, UdpServer

RECV_SIZE = 65536


def _echo_stream(conn: socket.socket) -> None:
    while data := conn.recv(RECV_SIZE):
        conn.sendall(data)


def _discard_stream(conn: socket.socket) -> None:
    while conn.recv(RECV_SIZE):
        pass


def _chargen_stream(conn: socket.socket) -> None:
    for chunk in chargen_chunks():
        conn.sendall(chunk)


def daytime_text(now: float | None = None) -> bytes:
    """What the daytime server sends: ``ctime`` text and CR LF (26 bytes, as inetd's daytime; Mbed's
    ENDPOINT_CLOSE reads it with a 30-byte buffer)."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now)).encode() + b"\r\n"


def _daytime_stream(conn: socket.socket) -> None:
    conn.sendall(daytime_text())
    conn.shutdown(socket.SHUT_WR)


def _reset_stream(conn: socket.socket) -> None:
    if conn.recv(1):
        # Linger on with a zero timeout: close() sends RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def echo_tcp(host: str = LOOPBACK) -> TcpServer:
    return TcpServer("echo-tcp" if host == LOOPBACK else f"echo-tcp-{host}", _echo_stream, host)


def echo_udp(name: str = "echo-udp", host: str = LOOPBACK) -> UdpServer:
    return UdpServer(name, lambda data, _sender: data, host)


def discard_tcp() -> TcpServer:
    return TcpServer("discard-tcp", _discard_stream)


def discard_udp() -> UdpServer:
    return UdpServer("discard-udp", lambda _data, _sender: None)


def chargen_tcp() -> TcpServer:
    return TcpServer("chargen-tcp", _chargen_stream)


def daytime_tcp() -> TcpServer:
    return TcpServer("daytime-tcp", _daytime_stream)


def reset_tcp() -> TcpServer:
    """Accepts, reads one byte, then resets the connection."""
    return TcpServer("reset-tcp", _reset_stream)


class TlsServices:
    """A test CA and a TLS server context with a certificate for ``localhost`` and ``127.0.0.1`` (Mbed's stunnel
    ports in front of echo, discard and daytime). ``ca_pem`` is what a client passes to ``set_root_ca_cert``."""

    HOSTNAME = "localhost"

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert(self.HOSTNAME, "127.0.0.1").configure_cert(self.context)
        self.ca_pem = self.ca.cert_pem.bytes().decode()

    def _wrap(self, conn: socket.socket) -> socket.socket:
        conn.settimeout(30)  # a client that never finishes its handshake cannot hold the thread for ever
        tls = self.context.wrap_socket(conn, server_side=True)
        tls.settimeout(None)
        return tls

    def echo(self, host: str = LOOPBACK) -> TcpServer:
        return TcpServer("tls-echo-tcp", _echo_stream, host, wrap=self._wrap)

    def discard(self) -> TcpServer:
        return TcpServer("tls-discard-tcp", _discard_stream, wrap=self._wrap)

    def daytime(self) -> TcpServer:
        return TcpServer("tls-daytime-tcp", _tls_daytime_stream, wrap=self._wrap)


def _tls_daytime_stream(conn: socket.socket) -> None:
    conn.sendall(daytime_text())
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()  # close_notify: the client's recv returns 0


class StalledTcpServer:
    """A listener that never accepts, with its one-slot accept queue already filled by a host connection: the SYNs
    of later connects are dropped, so those connects stay pending until the client gives up."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(0)
        self._filler = socket.create_connection(self._listener.getsockname(), timeout=5)
        self.name = "stalled-tcp"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> StalledTcpServer:
        return self

    def stop(self) -> None:
        self._filler.close()
        self._listener.close()
