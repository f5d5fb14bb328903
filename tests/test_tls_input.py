"""TLSSocket against bad input and slow peers (issue 12): host names that cannot be a server name are PARAMETER at
``set_hostname`` and never an exception from ``connect``; a peer that trickles a TLS record does not stretch a
blocking call past its timeout."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.host import HostInterface

from netsocket import NsapiError, SocketAddress
from netsocket.tls import TLSSocket, TLSSocketWrapper

E = NsapiError


@pytest.fixture
def net() -> Iterator[HostInterface]:
    interface = HostInterface()
    interface.connect()
    yield interface
    interface.disconnect()


class TricklingServer:
    """Accepts TLS clients and answers with a TLS handshake record whose bytes come one every 50 ms (a record that
    never completes within any short timeout), so the client keeps receiving and never has a whole record."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            with conn:
                conn.recv(4096)  # the ClientHello
                record = b"\x16\x03\x03\x40\x00" + bytes(0x4000)  # a 16 KB handshake record, never finished
                for byte in record:
                    if self._stop.wait(0.05):
                        return
                    conn.sendall(bytes((byte,)))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


BAD_NAMES = [
    "a\x00b",
    "bad\r\nhost",
    "bad\nhost",
    "tab\there",
    "space here",
    ".leading.dot",
    "a..b",
    "x" * 64 + ".example",
    "-leading-hyphen.example",
    "trailing-hyphen-.example",
    "a/b",
    "a:b",
    "user@host",
    ".",
    "",
    "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63,  # 255 characters
    "\u00e9\ufffd.example",  # not encodable as IDNA
]
GOOD_NAMES = [
    "localhost",
    "example.com",
    "example.com.",  # a fully qualified name: the root's dot is allowed
    "a-b.c-d.example",
    "x" * 63 + ".example",
    "_service.example",
    "b\u00fccher.example",  # IDNA: sent as xn--bcher-kva.example
    "127.0.0.1",
    "::1",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_host_names_are_parameter_errors_and_connect_does_not_raise(net: HostInterface, name: str) -> None:
    sock = TLSSocket()
    assert sock.set_hostname(name) == E.PARAMETER
    assert sock.open(net) == E.OK
    sock.set_timeout(100)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        # Nobody speaks TLS here: the point is that connect() returns an error code instead of raising.
        result = sock.connect(SocketAddress("127.0.0.1", listener.getsockname()[1]))
        assert isinstance(result, NsapiError) and result < 0
    sock.close()
    wrapper = TLSSocketWrapper(None)  # type: ignore[arg-type]
    assert wrapper.set_hostname(name) == E.PARAMETER


@pytest.mark.parametrize("name", GOOD_NAMES, ids=repr)
def test_good_host_names_are_accepted(name: str) -> None:
    assert TLSSocket().set_hostname(name) == E.OK


def test_a_host_name_that_is_not_a_string_is_a_parameter_error() -> None:
    assert TLSSocket().set_hostname(b"example.com") == E.PARAMETER  # type: ignore[arg-type]
    assert TLSSocket().set_hostname(None) == E.PARAMETER  # type: ignore[arg-type]


def test_a_trickling_peer_does_not_stretch_the_handshake_past_the_timeout(net: HostInterface) -> None:
    server = TricklingServer()
    try:
        sock = TLSSocket()
        assert sock.open(net) == E.OK
        assert sock.set_hostname("localhost") == E.OK
        sock.set_timeout(400)
        started = time.monotonic()
        result = sock.connect(SocketAddress("127.0.0.1", server.port))
        elapsed = time.monotonic() - started
        assert result == E.CONNECTION_TIMEOUT, f"connect gave {result!s}"
        assert elapsed < 1.2, f"a 400 ms timeout fired after {elapsed:.2f} s"
        sock.close()
    finally:
        server.close()
