"""The network the emulated module reaches: an interface for the device model, and a bridge to real host
sockets.

Layer: host-socket bridge. The device model only sees the `Network`, `Connection` and `Listener` protocols and
never blocks on them (reads are non-blocking polls). `HostNetwork` implements them with real sockets and
refuses every address outside 127.0.0.0/8 unless built with ``allow_non_loopback=True``; servers bind
127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from typing import Protocol


class ConnectError(enum.Enum):
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    TLS_FAILED = "tls failed"
    ADDRESS_IN_USE = "address in use"


@dataclass(frozen=True)
class TlsOptions:
    """How the emulated module's TLS client (module-side TLS, AT+CIPSSLCCONF/AT+CIPSSLCSNI) connects.

    `server_name` goes out as SNI (not for an IP literal) and, with `verify`, is the name the server certificate
    must carry; `verify` checks the chain against `ca_pem`. A client certificate is presented when both PEMs are set.
    """

    verify: bool = False
    ca_pem: str | None = None
    server_name: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None


class Connection(Protocol):
    kind: str  # "TCP", "UDP" or "SSL"
    remote_ip: str
    remote_port: int
    local_port: int

    def recv(self, max_bytes: int) -> bytes | None:
        """Stream links: up to `max_bytes`; b"" once the peer closed; None when nothing is waiting."""

    def recv_datagram(self) -> tuple[bytes, str, int] | None:
        """UDP links: one datagram with its source, or None."""

    def send(self, data: bytes, address: tuple[str, int] | None = None) -> bool:
        """Send all of `data`; False when the link is broken."""

    def close(self) -> None: ...


class Listener(Protocol):
    port: int

    def accept(self) -> Connection | None: ...

    def close(self) -> None: ...


class Network(Protocol):
    def connect(
        self,
        kind: str,
        ip: str,
        port: int,
        *,
        local_port: int = 0,
        udp_fixed_remote: bool = True,
        tls: TlsOptions | None = None,
    ) -> Connection | ConnectError: ...

    def listen(self, port: int) -> Listener | ConnectError: ...

    def close_all(self) -> None: ...


_SEND_TIMEOUT = 5.0
_CONNECT_TIMEOUT = 3.0


class _HostConnection:
    def __init__(self, owner: HostNetwork, sock: socket.socket, kind: str, remote: tuple[str, int]) -> None:
        self._owner = owner
        self._sock = sock
        self.kind = kind
        self.remote_ip = remote[0]
        self.remote_port = remote[1]
        self.local_port = int(sock.getsockname()[1])
        self._closed = False
        sock.setblocking(False)

    def recv(self, max_bytes: int) -> bytes | None:
        if self._closed or max_bytes <= 0:
            return None
        try:
            return self._sock.recv(max_bytes)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except (ConnectionError, ssl.SSLError, OSError):
            return b""

    def recv_datagram(self) -> tuple[bytes, str, int] | None:
        if self._closed:
            return None
        try:
            data, source = self._sock.recvfrom(65535)
        except (BlockingIOError, ConnectionError, OSError):
            return None
        return data, str(source[0]), int(source[1])

    def send(self, data: bytes, address: tuple[str, int] | None = None) -> bool:
        if self._closed:
            return False
        try:
            if self.kind == "UDP":
                target = address or (self.remote_ip, self.remote_port)
                if not self._owner.permitted(target[0]):
                    return True  # the datagram leaves the module and is lost on the emulated network
                self._sock.sendto(data, target)
                return True
            self._sock.settimeout(_SEND_TIMEOUT)
            try:
                self._sock.sendall(data)
            finally:
                self._sock.setblocking(False)
        except (OSError, ssl.SSLError):
            return False
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner.forget(self._sock)
        try:
            if self.kind == "SSL" and isinstance(self._sock, ssl.SSLSocket):
                self._sock.setblocking(True)
                self._sock.settimeout(0.2)
                with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                    self._sock.unwrap()
        finally:
            self._sock.close()


class _HostListener:
    def __init__(self, owner: HostNetwork, sock: socket.socket) -> None:
        self._owner = owner
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self._closed = False

    def accept(self) -> Connection | None:
        if self._closed:
            return None
        try:
            conn, peer = self._sock.accept()
        except (BlockingIOError, OSError):
            return None
        self._owner.remember(conn)
        return _HostConnection(self._owner, conn, "TCP", (str(peer[0]), int(peer[1])))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner.forget(self._sock)
            self._sock.close()


class HostNetwork:
    """Bridges emulated links to real sockets on this host, to loopback only unless opted in."""

    def __init__(self, *, allow_non_loopback: bool = False) -> None:
        self._allow_non_loopback = allow_non_loopback
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def permitted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return address.is_loopback or self._allow_non_loopback

    def remember(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    @property
    def open_socket_count(self) -> int:
        with self._lock:
            return len(self._sockets)

    def connect(
        self,
        kind: str,
        ip: str,
        port: int,
        *,
        local_port: int = 0,
        udp_fixed_remote: bool = True,
        tls: TlsOptions | None = None,
    ) -> Connection | ConnectError:
        if kind == "UDP":
            # A UDP link opens whatever the remote is; datagrams to a forbidden address are lost in `send`.
            return self._open_udp(ip, port, local_port, udp_fixed_remote)
        if not self.permitted(ip):
            return ConnectError.UNREACHABLE
        try:
            sock = socket.create_connection((ip, port), timeout=_CONNECT_TIMEOUT)
        except ConnectionRefusedError:
            return ConnectError.REFUSED
        except OSError:
            return ConnectError.UNREACHABLE
        if kind == "SSL":
            options = tls if tls is not None else TlsOptions()
            try:
                sock = _tls_context(options).wrap_socket(sock, server_hostname=options.server_name)
            except (OSError, ssl.SSLError, ValueError):
                sock.close()
                return ConnectError.TLS_FAILED
        self.remember(sock)
        return _HostConnection(self, sock, kind, (ip, port))

    def _open_udp(self, ip: str, port: int, local_port: int, fixed: bool) -> Connection | ConnectError:
        ipv6 = _is_ipv6(ip)
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("::1" if ipv6 else "127.0.0.1", local_port))
        except OSError:
            sock.close()
            return ConnectError.ADDRESS_IN_USE
        self.remember(sock)
        return _HostConnection(self, sock, "UDP", (ip, port))

    def listen(self, port: int) -> Listener | ConnectError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(5)
        except OSError:
            sock.close()
            return ConnectError.ADDRESS_IN_USE
        sock.setblocking(False)
        self.remember(sock)
        return _HostListener(self, sock)

    def close_all(self) -> None:
        with self._lock:
            socks = list(self._sockets)
            self._sockets.clear()
        for sock in socks:
            sock.close()


def _is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def _tls_context(options: TlsOptions) -> ssl.SSLContext:
    """Python's ssl playing the module's mbedTLS client: verification only when the module was told to."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if options.verify:
        context.load_verify_locations(cadata=options.ca_pem)
        context.check_hostname = options.server_name is not None
    else:
        # Like a module with AT+CIPSSLCCONF auth mode 0 (the default): no verification at all.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.client_cert_pem is not None and options.client_key_pem is not None:
        # ssl loads a certificate chain from files only: a private temporary directory, removed at once.
        with tempfile.TemporaryDirectory() as folder:
            cert = os.path.join(folder, "client.pem")
            key = os.path.join(folder, "client.key")
            with open(cert, "w") as handle:
                handle.write(options.client_cert_pem)
            with open(key, "w") as handle:
                handle.write(options.client_key_pem)
            context.load_cert_chain(cert, key)
    return context
