"""SSL links: the emulator wraps the host socket with Python's ssl, unverified (a module with no CA set)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from .helpers import pty_emulator

OK = b"\r\nOK\r\n"


@contextlib.contextmanager
def tls_upper_server() -> Iterator[int]:
    """A loopback TLS server that answers each message in upper case, then closes."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                tls.sendall(tls.recv(100).upper())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        thread.join(10)
        server.close()


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_ssl_link_round_trip(profile: str) -> None:
    with pty_emulator(profile) as at, tls_upper_server() as port:
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b'AT+CIPSTART=0,"SSL","localhost",%d' % port, b"0,CONNECT\r\n" + OK)
        if profile != "at3_esp32":
            at.cmd(b'AT+CIPSTART=1,"SSL","localhost",%d' % port, b"\r\nERROR\r\n")  # one SSL link on ESP8266
        at.cmd(b"AT+CIPSEND=0,5", OK + (b"> " if at.nonos else b"\r\n>"))
        at.send(b"hello")
        at.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
        at.expect(b"\r\n+IPD,0,5:HELLO0,CLOSED\r\n")
