"""CircuitPython's ``socketpool`` shape over any netsocket interface, for Adafruit's libraries on a PC or a Pi.

``SocketPool(interface)`` is what ``adafruit_requests.Session(pool)`` and
``adafruit_minimqtt.MQTT(..., socket_pool=pool)`` expect from ``socketpool.SocketPool(wifi.radio)`` on a board:
``getaddrinfo``, ``socket(family, type)``, the constants, and ``gaierror``; ``SSLContext`` is the
``ssl_context`` they take for https:// and mqtts (TLS on the host through netsocket's ``TLSSocket``). Its sockets
wrap netsocket's ``TCPSocket``/``UDPSocket`` directly (no thread, no local socket pair): ``connect((host, port))``,
``send``, ``recv_into(buffer, nbytes)``, ``settimeout(seconds)``, ``sendto``/``recvfrom_into``,
``bind``/``listen``/``accept``.

Errors are raised as CircuitPython raises them, ``OSError`` with an errno (from ``netsocket.oserrors``): a read
that times out raises ``ETIMEDOUT`` (``EAGAIN`` when non-blocking), which is how both libraries recognise "nothing
arrived". Where CircuitPython differs from CPython (``recv_into`` and no ``recv``; no ``sendall``), this follows
CircuitPython and adds the CPython spelling too. Like netsocket's ``compat``, this imports no driver.
"""

from __future__ import annotations

import errno
import socket as _socket
from typing import Any

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.oserrors import error_for
from netsocket.socket import InternetSocket, TCPSocket, UDPSocket
from netsocket.stack import NetworkStack
from netsocket.tls import TLSSocket

__all__ = ["PoolSocket", "SSLContext", "SocketPool"]

Address = tuple[str, int]


class SocketPool:
    """The sockets of one interface, shaped like CircuitPython's ``socketpool.SocketPool(radio)``."""

    AF_INET = 2
    AF_INET6 = 10
    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    SOCK_RAW = 3
    IPPROTO_IP = 0
    IPPROTO_ICMP = 1
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_IPV6 = 41
    IPPROTO_RAW = 255
    SOL_SOCKET = 0xFFF
    SO_REUSEADDR = 0x0004
    TCP_NODELAY = 1
    EAI_NONAME = -2

    #: Raised by ``getaddrinfo`` for a name that does not resolve (as ``socketpool.SocketPool.gaierror``).
    gaierror = _socket.gaierror

    def __init__(self, interface: NetworkInterface | NetworkStack) -> None:
        self.interface = interface

    def getaddrinfo(
        self, host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[int, int, int, str, Address]]:
        """Resolve ``host`` through the interface's DNS (IPv4): one entry, ``(AF_INET, type, proto, "", (ip, port))``.

        Raises ``gaierror`` (``EAI_NONAME``) when the name does not resolve."""
        address = SocketAddress()
        err = self.interface.gethostbyname(host, address)
        if err != NsapiError.OK or address.get_ip_address() is None:
            raise self.gaierror(self.EAI_NONAME, f"cannot resolve {host!r} [NSAPI_ERROR_{NsapiError(err).name}]")
        kind = type or self.SOCK_STREAM
        protocol = proto or (self.IPPROTO_UDP if kind == self.SOCK_DGRAM else self.IPPROTO_TCP)
        return [(self.AF_INET, kind, protocol, "", (str(address.get_ip_address()), int(port)))]

    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = IPPROTO_IP) -> PoolSocket:
        """A new socket on the interface (``OSError`` with ``EMFILE`` semantics when the device has none free)."""
        if family != self.AF_INET:
            raise OSError(errno.EAFNOSUPPORT, "only AF_INET sockets are supported")
        if type not in (self.SOCK_STREAM, self.SOCK_DGRAM):
            raise OSError(errno.EPROTOTYPE, "only SOCK_STREAM and SOCK_DGRAM sockets are supported")
        return PoolSocket(self, family, type, proto)


class PoolSocket:
    """One socket of a ``SocketPool``: CircuitPython's ``socketpool.Socket`` on a netsocket socket."""

    def __init__(self, pool: SocketPool, family: int, type: int, proto: int) -> None:
        self._pool = pool
        self.family = family
        self.type = type
        self.proto = proto
        self._sock: InternetSocket = TCPSocket() if type == pool.SOCK_STREAM else UDPSocket()
        err = self._sock.open(pool.interface)
        if err != NsapiError.OK:
            raise error_for(err, "cannot open a socket")
        self._timeout: float | None = None
        self._closed = False

    # -- set-up ---------------------------------------------------------------------------------------------------
    def settimeout(self, value: float | None) -> None:
        """Seconds a call may block (``None``: forever, ``0``: not at all)."""
        if value is not None and value < 0:
            raise ValueError("timeout must be None or >= 0")
        self._timeout = value
        self._sock.set_timeout(-1 if value is None else int(value * 1000))

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def setsockopt(self, level: int, optname: int, value: Any) -> None:
        """Accepted and ignored, as on most CircuitPython ports (``SO_REUSEADDR``, ``TCP_NODELAY``)."""

    def _address(self, address: Address) -> SocketAddress:
        host, port = address
        resolved = SocketAddress()
        err = self._pool.interface.gethostbyname(host or "0.0.0.0", resolved)
        if err != NsapiError.OK:
            raise self._pool.gaierror(self._pool.EAI_NONAME, f"cannot resolve {host!r}")
        resolved.set_port(int(port))
        return resolved

    def connect(self, address: Address) -> None:
        target = self._address(address)
        err = self._sock.connect(target)
        if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
            raise error_for(err, f"cannot connect to {target}")

    def bind(self, address: Address) -> None:
        host, port = address
        err = self._sock.bind(SocketAddress(host, port) if host else port)
        if err != NsapiError.OK:
            raise error_for(err, f"cannot bind {host}:{port}")

    def listen(self, backlog: int = 1) -> None:
        err = self._sock.listen(backlog)
        if err != NsapiError.OK:
            raise error_for(err, "cannot listen")

    def accept(self) -> tuple[PoolSocket, Address]:
        accepted, err = self._sock.accept()
        if accepted is None:
            raise error_for(err, "accept failed")
        peer = SocketAddress()
        accepted.getpeername(peer)
        child = PoolSocket.__new__(PoolSocket)
        child._pool, child.family, child.type, child.proto = self._pool, self.family, self.type, self.proto
        child._sock, child._timeout, child._closed = accepted, None, False
        return child, (peer.get_ip_address() or "", peer.get_port())

    def _use_tls(self, ca_pem: str | None, hostname: str | None) -> None:
        """Make this (unconnected) stream socket a ``TLSSocket`` verifying against ``ca_pem`` (None: the system's)."""
        if self.type != self._pool.SOCK_STREAM:
            raise OSError(errno.EPROTOTYPE, "TLS needs a SOCK_STREAM socket")
        tls = TLSSocket()
        err = tls.set_root_ca_cert(ca_pem) if ca_pem is not None else tls.use_system_ca_certs()
        if err == NsapiError.OK and hostname:
            err = tls.set_hostname(hostname)
        if err == NsapiError.OK:
            err = tls.open(self._pool.interface)
        if err != NsapiError.OK:
            tls.close()
            raise error_for(err, "cannot set up TLS")
        self._sock.close()
        self._sock = tls
        self.settimeout(self._timeout)

    # -- data -----------------------------------------------------------------------------------------------------
    def send(self, data: Any) -> int:
        """Send what the socket takes now (at least one byte unless it raises); returns the count."""
        sent = self._sock.send(bytes(data))
        if sent < 0:
            raise error_for(sent, "send failed")
        return sent

    def sendall(self, data: Any) -> None:
        view = memoryview(bytes(data))
        while view:
            view = view[self.send(view) :]

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Fill up to ``nbytes`` (0: all) of ``buffer``; 0 when the peer closed. Times out with ``ETIMEDOUT``."""
        view = memoryview(buffer).cast("B")
        if nbytes:
            view = view[:nbytes]
        size = self._sock.recv(view)
        if size < 0:
            raise error_for(size, "recv failed")
        return size

    def recv(self, bufsize: int) -> bytes:
        buffer = bytearray(bufsize)
        return bytes(buffer[: self.recv_into(buffer)])

    def sendto(self, data: Any, address: Address) -> int:
        sent = self._sock.sendto(self._address(address), bytes(data))
        if sent < 0:
            raise error_for(sent, f"sendto {address[0]}:{address[1]} failed")
        return sent

    def recvfrom_into(self, buffer: Any, nbytes: int = 0) -> tuple[int, Address]:
        view = memoryview(buffer).cast("B")
        if nbytes:
            view = view[:nbytes]
        peer = SocketAddress()
        size = self._sock.recvfrom(peer, view)
        if size < 0:
            raise error_for(size, "recvfrom failed")
        return size, (peer.get_ip_address() or "", peer.get_port())

    # -- closing --------------------------------------------------------------------------------------------------
    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()

    def __enter__(self) -> PoolSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SSLContext:
    """The part of ``ssl.SSLContext`` that Adafruit's libraries use: ``wrap_socket(sock, server_hostname=...)``.

    The server's certificate is verified against ``cadata``/``cafile`` (PEM), else the system's CAs, and its name
    against ``server_hostname``; the TLS runs on the host (netsocket's ``TLSSocket``), so it works over any stack.
    """

    def __init__(self, cafile: str | None = None, cadata: str | None = None) -> None:
        self._ca_pem: str | None = None
        if cafile is not None or cadata is not None:
            self.load_verify_locations(cafile, cadata)

    def load_verify_locations(self, cafile: str | None = None, cadata: str | None = None) -> None:
        pem = cadata or ""
        if cafile is not None:
            with open(cafile, encoding="ascii") as file:
                pem += file.read()
        self._ca_pem = (self._ca_pem or "") + pem

    def wrap_socket(self, sock: PoolSocket, server_hostname: str | None = None) -> PoolSocket:
        """``sock`` (not yet connected), now speaking TLS to ``server_hostname``."""
        sock._use_tls(self._ca_pem, server_hostname)
        return sock
