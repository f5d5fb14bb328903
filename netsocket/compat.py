"""A Python-``socket``-shaped face over any netsocket stack, so ordinary libraries run unchanged on it.

``create_connection(("host", 80), stack=net)`` and ``socket(net).connect(...)`` give a real ``socket.socket``
(one end of a local socket pair) whose other end a pump thread joins to a netsocket ``TCPSocket``. Because it is a
real socket, everything that wants one works: ``select``, ``makefile``, ``settimeout``, paho-mqtt, http.client, and
``ssl.SSLContext.wrap_socket``. ``getpeername`` reports the netsocket peer. When the netsocket connection fails or
the peer closes, the local end sees end-of-file; ``last_error`` says which nsapi error ended it.

UDP (``type=SOCK_DGRAM``) gives ``DatagramSocket``: ``sendto``/``recvfrom`` with real addresses, ``settimeout``.

Errors are ``OSError`` subclasses carrying the nsapi code (``NsapiOSError.nsapi_error``) and a matching errno:
``TimeoutError`` for ``CONNECTION_TIMEOUT``, ``ConnectionRefusedError``, ``ConnectionResetError``,
``socket.gaierror`` for ``DNS_FAILURE``, ``BlockingIOError`` for ``WOULD_BLOCK``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket as _socket
import threading
from typing import Any

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.oserrors import NsapiOSError, error_for
from netsocket.socket import TCPSocket, UDPSocket
from netsocket.socketpool import SocketPool, SSLContext
from netsocket.stack import NetworkStack

__all__ = [
    "AF_INET",
    "AF_INET6",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "DatagramSocket",
    "NsapiOSError",
    "SSLContext",
    "SocketPool",
    "create_connection",
    "error_for",
    "socket",
]

AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_DGRAM = _socket.SOCK_DGRAM

_log = logging.getLogger(__name__)

Stack = NetworkInterface | NetworkStack
_CHUNK = 4096


def _check(result: int, what: str) -> int:
    if result < 0:
        raise error_for(result, what)
    return result


def _resolve(stack: Stack, address: tuple[str, int] | tuple[str, int, int, int]) -> SocketAddress:
    host, port = address[0], address[1]
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise OverflowError("port must be 0-65535")
    resolved = SocketAddress()
    err = stack.gethostbyname(host or "0.0.0.0", resolved)
    if err != NsapiError.OK:
        raise error_for(err, f"cannot resolve {host!r}")
    resolved.set_port(port)
    return resolved


def _ms(timeout: float | None) -> int:
    return -1 if timeout is None else int(timeout * 1000)


class StreamSocket(_socket.socket):
    """A real local socket joined to a netsocket ``TCPSocket`` by a pump thread (see the module docstring)."""

    def __init__(self, stack: Stack, family: int = AF_INET) -> None:
        self._app_end, self._pump_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        super().__init__(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, self._app_end.detach())
        self._stack_ref = stack
        self._family = family
        self._ns = TCPSocket()
        self._peer: SocketAddress | None = None
        self._pumps: list[threading.Thread] = []
        self.last_error: NsapiError | None = None

    def connect(self, address: Any) -> None:
        """Resolve and connect through netsocket (blocking, within ``settimeout``)."""
        if self._peer is not None:
            raise error_for(NsapiError.IS_CONNECTED, "already connected")
        target = _resolve(self._stack_ref, address)
        err = self._ns.open(self._stack_ref)
        if err != NsapiError.OK:
            raise error_for(err, "cannot open a socket")
        self._ns.set_timeout(_ms(self.gettimeout()))
        err = self._ns.connect(target)
        if err != NsapiError.OK:
            self._ns.close()
            raise error_for(err, f"cannot connect to {target}")
        self._peer = target
        self._ns.set_timeout(-1)
        self._start_pumps()

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as exc:
            return exc.errno or errno.EIO
        return 0

    def getpeername(self) -> tuple[str, int]:
        if self._peer is None:
            raise error_for(NsapiError.NO_CONNECTION, "not connected")
        return self._peer.to_tuple()

    def _start_pumps(self) -> None:
        for target, name in ((self._to_network, "tx"), (self._from_network, "rx")):
            thread = threading.Thread(target=target, name=f"netsocket-compat-{name}", daemon=True)
            self._pumps.append(thread)
            thread.start()

    def _to_network(self) -> None:
        """Application -> network. Owns the teardown: it ends when the application's end is closed, whoever
        holds it (``ssl`` detaches this object's descriptor, so ``close`` may never be called here)."""
        while True:
            try:
                data = self._pump_end.recv(_CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            sent = self._ns.send(data)
            if sent < 0:
                self._fail(NsapiError(sent))
                break
        self._ns.close()
        self._pumps[1].join()
        self._pump_end.close()

    def _from_network(self) -> None:
        """Network -> application; end-of-file to the application when the connection ends."""
        buffer = bytearray(_CHUNK)
        while True:
            size = self._ns.recv(buffer)
            if size <= 0:
                if size < 0 and size != NsapiError.NO_SOCKET:
                    self._fail(NsapiError(size))
                break
            try:
                self._pump_end.sendall(buffer[:size])
            except OSError:
                break
        with contextlib.suppress(OSError):
            self._pump_end.shutdown(_socket.SHUT_WR)

    def _fail(self, error: NsapiError) -> None:
        _log.debug("connection to %s ended: %s", self._peer, error)
        self.last_error = error
        with contextlib.suppress(OSError):
            self._pump_end.shutdown(_socket.SHUT_RDWR)

    def close(self) -> None:
        """Close the application's end; the pump then closes the netsocket socket. (Like ``socket.close``, the
        descriptor stays open while ``makefile`` objects still use it.)"""
        super().close()
        if not self._pumps:
            self._ns.close()
            self._pump_end.close()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the netsocket side is closed too; True if it is."""
        for thread in self._pumps:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._pumps)


class DatagramSocket:
    """A ``socket``-shaped UDP socket over netsocket: ``sendto``, ``recvfrom``, ``connect``, timeouts."""

    def __init__(self, stack: Stack, family: int = AF_INET) -> None:
        self._stack = stack
        self.family = family
        self.type = SOCK_DGRAM
        self._ns = UDPSocket()
        _check(self._ns.open(stack), "cannot open a socket")
        self._timeout: float | None = None

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._ns.set_timeout(_ms(timeout))

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def bind(self, address: tuple[str, int]) -> None:
        host = address[0] or "0.0.0.0"
        _check(self._ns.bind(SocketAddress(host, address[1])), f"cannot bind {address}")

    def connect(self, address: tuple[str, int]) -> None:
        self._ns.connect(_resolve(self._stack, address))

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        return _check(self._ns.sendto(_resolve(self._stack, address), data), "sendto failed")

    def send(self, data: bytes) -> int:
        return _check(self._ns.send(data), "send failed")

    def recvfrom(self, bufsize: int) -> tuple[bytes, tuple[str, int]]:
        buffer = bytearray(bufsize)
        sender = SocketAddress()
        size = _check(self._ns.recvfrom(sender, buffer), "recvfrom failed")
        return bytes(buffer[:size]), sender.to_tuple()

    def recv(self, bufsize: int) -> bytes:
        return self.recvfrom(bufsize)[0]

    def close(self) -> None:
        self._ns.close()

    def __enter__(self) -> DatagramSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def socket(stack: Stack, family: int = AF_INET, type: int = SOCK_STREAM) -> StreamSocket | DatagramSocket:
    """A ``socket.socket``-shaped object on ``stack`` (an interface or a stack)."""
    if family not in (AF_INET, AF_INET6):
        raise ValueError("netsocket sockets are AF_INET or AF_INET6")
    if type == SOCK_STREAM:
        return StreamSocket(stack, family)
    if type == SOCK_DGRAM:
        return DatagramSocket(stack, family)
    raise ValueError("netsocket sockets are SOCK_STREAM or SOCK_DGRAM")


def create_connection(
    address: tuple[str, int], timeout: float | None = None, source_address: object = None, *, stack: Stack
) -> StreamSocket:
    """Like ``socket.create_connection``, over ``stack``: a connected real socket (see the module docstring)."""
    sock = StreamSocket(stack)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock
