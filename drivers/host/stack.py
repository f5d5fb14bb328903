"""``HostStack``: netsocket's primitives over the operating system's own sockets (the reference stack).

Every primitive is a non-blocking OS call; readiness reaches the socket layer through ``IoThread`` callbacks. OS
errors map to nsapi codes in one table. The OS socket is created lazily, on the first bind/connect/sendto, so its
family follows the first address used; an address of the other family afterwards gives ``PARAMETER``.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from typing import Any

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.errors import NsapiError
from netsocket.interface import check_hostname
from netsocket.stack import HostbynameCallback, NetworkStack, OptionValue
from netsocket.types import NsapiProtocol, NsapiSocketLevel, NsapiSocketOption, NsapiVersion

from .io_thread import IoThread, Watch

_ERRNO_TO_NSAPI = {
    errno.ECONNREFUSED: NsapiError.NO_CONNECTION,
    errno.ENOTCONN: NsapiError.NO_CONNECTION,
    errno.ECONNRESET: NsapiError.CONNECTION_LOST,
    errno.ECONNABORTED: NsapiError.CONNECTION_LOST,
    errno.EPIPE: NsapiError.CONNECTION_LOST,
    errno.ETIMEDOUT: NsapiError.CONNECTION_TIMEOUT,
    errno.EHOSTUNREACH: NsapiError.NO_CONNECTION,
    errno.ENETUNREACH: NsapiError.NO_CONNECTION,
    errno.EADDRINUSE: NsapiError.PARAMETER,
    errno.EADDRNOTAVAIL: NsapiError.PARAMETER,
    errno.EAFNOSUPPORT: NsapiError.PARAMETER,
    errno.EINVAL: NsapiError.PARAMETER,
    errno.EMSGSIZE: NsapiError.PARAMETER,
    errno.EISCONN: NsapiError.IS_CONNECTED,
    errno.EALREADY: NsapiError.ALREADY,
    errno.EINPROGRESS: NsapiError.IN_PROGRESS,
    errno.ENOBUFS: NsapiError.NO_MEMORY,
    errno.ENOMEM: NsapiError.NO_MEMORY,
    errno.EMFILE: NsapiError.NO_SOCKET,
    errno.ENFILE: NsapiError.NO_SOCKET,
    errno.EBADF: NsapiError.NO_SOCKET,
}

IF_INET6 = "/proc/net/if_inet6"
"""Linux's table of the host's IPv6 addresses: address (32 hex digits), index, prefix, scope, flags, name."""

_FAMILY = {NsapiVersion.IPv4: socket.AF_INET, NsapiVersion.IPv6: socket.AF_INET6}

MAX_ASYNC_QUERIES = 5
OS_QUERY_ID_BASE = 0x8000


def _nsapi(exc: OSError) -> NsapiError:
    if isinstance(exc, BlockingIOError):
        return NsapiError.WOULD_BLOCK
    return _ERRNO_TO_NSAPI.get(exc.errno or 0, NsapiError.DEVICE_ERROR)


def _deliver(callback: HostbynameCallback, result: NsapiError, address: SocketAddress) -> None:
    """Call a hostbyname callback with Mbed's arguments: (1, address) on success, (error, None) otherwise."""
    ok = result == NsapiError.OK
    run_callback(callback, 1 if ok else result, address if ok else None)


def _from_sockaddr(sockaddr: Any) -> SocketAddress:
    host, port = sockaddr[0], sockaddr[1]
    if isinstance(host, str) and host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return SocketAddress(host, port)


class HostSocket:
    """One netsocket socket on the host stack."""

    def __init__(self, proto: NsapiProtocol) -> None:
        self.proto = proto
        self.sock: socket.socket | None = None
        self.watch: Watch | None = None
        self.lock = threading.Lock()
        self.callback: Callable[[], None] | None = None
        self.connecting = False
        self.connected = False
        self.closed = False
        self.options: dict[int, OptionValue] = {}


class HostStack(NetworkStack):
    """The operating system's network stack behind the netsocket primitives."""

    def __init__(self) -> None:
        self._io = IoThread()
        self._lock = threading.Lock()
        self._sockets: set[HostSocket] = set()
        self._async_lock = threading.Lock()
        self._async_queries: dict[int, bool] = {}
        # The OS resolver's ids live above netsocket's resolver's (1..0x7FFF), so a cancel never mixes them up.
        self._next_query_id = OS_QUERY_ID_BASE

    # -- addresses ------------------------------------------------------------------------------------------------
    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        """The address the host's name resolves to (127.0.0.1 if it resolves to nothing usable)."""
        try:
            ip = socket.gethostbyname(socket.gethostname())
        except OSError:
            ip = "127.0.0.1"
        address.assign(SocketAddress(ip, address.get_port()))
        return NsapiError.OK

    def get_ipv6_link_local_address(self, address: SocketAddress) -> NsapiError:
        """The first ``fe80::/10`` address of the host's interfaces (Linux ``/proc/net/if_inet6``): OK, NO_ADDRESS
        when there is none, UNSUPPORTED where the table cannot be read (other systems)."""
        try:
            with open(IF_INET6, encoding="ascii") as table:
                rows = table.read().split("\n")
        except OSError:
            return NsapiError.UNSUPPORTED
        for row in rows:
            fields = row.split()
            if len(fields) == 6 and len(fields[0]) == 32 and fields[3] == "20":  # scope 0x20: link
                ip = SocketAddress()
                ip.set_ip_bytes(bytes.fromhex(fields[0]), NsapiVersion.IPv6)
                address.assign(SocketAddress(ip, address.get_port()))
                return NsapiError.OK
        return NsapiError.NO_ADDRESS

    # -- names ----------------------------------------------------------------------------------------------------
    def gethostbyname(
        self, host: str, address: SocketAddress, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> NsapiError:
        """The OS resolver, or netsocket's own once DNS servers were added with ``add_dns_server``."""
        err = check_hostname(host)
        if err != NsapiError.OK:
            return err
        if self.dns.has_servers:
            return super().gethostbyname(host, address, version)
        return self._resolve(host, address, version)

    def _resolve(self, host: str, address: SocketAddress, version: NsapiVersion) -> NsapiError:
        literal = SocketAddress(host)
        if literal.get_ip_version() != NsapiVersion.UNSPEC:
            if version not in (NsapiVersion.UNSPEC, literal.get_ip_version()):
                return NsapiError.DNS_FAILURE
            address.assign(SocketAddress(literal, address.get_port()))
            return NsapiError.OK
        family = _FAMILY.get(NsapiVersion(version), socket.AF_UNSPEC)
        try:
            infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return NsapiError.DNS_FAILURE
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        for info in infos:
            resolved = _from_sockaddr(info[4])
            if resolved:
                resolved.set_port(address.get_port())
                address.assign(resolved)
                return NsapiError.OK
        return NsapiError.DNS_FAILURE

    def gethostbyname_async(
        self, host: str, callback: HostbynameCallback, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> int:
        err = check_hostname(host)
        if err != NsapiError.OK:
            return err
        if self.dns.has_servers:
            return super().gethostbyname_async(host, callback, version)
        if SocketAddress(host).get_ip_version() != NsapiVersion.UNSPEC:
            address = SocketAddress()
            result = self._resolve(host, address, version)
            _deliver(callback, result, address)
            return NsapiError.OK if result == NsapiError.OK else result
        with self._async_lock:
            if len(self._async_queries) >= MAX_ASYNC_QUERIES:
                return NsapiError.NO_MEMORY
            query_id = self._next_query_id
            self._next_query_id = OS_QUERY_ID_BASE + (self._next_query_id - OS_QUERY_ID_BASE + 1) % 0x7FFF
            self._async_queries[query_id] = True

        def work() -> None:
            address = SocketAddress()
            result = self._resolve(host, address, version)
            with self._async_lock:
                wanted = self._async_queries.pop(query_id, False)
            if wanted:
                _deliver(callback, result, address)

        threading.Thread(target=work, name=f"netsocket-host-dns-{query_id}", daemon=True).start()
        return query_id

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        with self._async_lock:
            if query_id in self._async_queries:
                self._async_queries[query_id] = False
                return NsapiError.OK
        return super().gethostbyname_async_cancel(query_id)

    # -- socket primitives ----------------------------------------------------------------------------------------
    def socket_open(self, proto: NsapiProtocol) -> tuple[NsapiError, HostSocket | None]:
        proto = NsapiProtocol(proto)
        if proto not in (NsapiProtocol.TCP, NsapiProtocol.UDP):
            return NsapiError.UNSUPPORTED, None
        handle = HostSocket(proto)
        with self._lock:
            self._sockets.add(handle)
        return NsapiError.OK, handle

    def _os_socket(self, handle: HostSocket, version: NsapiVersion) -> socket.socket | NsapiError:
        """The handle's OS socket, created for ``version`` if it has none yet."""
        family = _FAMILY.get(version, socket.AF_INET)
        with handle.lock:
            if handle.closed:
                return NsapiError.NO_SOCKET
            if handle.sock is not None:
                return handle.sock if handle.sock.family == family else NsapiError.PARAMETER
            kind = socket.SOCK_STREAM if handle.proto == NsapiProtocol.TCP else socket.SOCK_DGRAM
            try:
                sock = socket.socket(family, kind)
            except OSError as exc:
                return _nsapi(exc)
            sock.setblocking(False)
            for optname, value in handle.options.items():
                self._apply_option(sock, optname, value)
            handle.sock = sock
            handle.watch = Watch(sock)
            handle.watch.callback = handle.callback
        self._io.watch(handle.watch)
        return sock

    def _existing(self, handle: HostSocket) -> socket.socket | NsapiError:
        with handle.lock:
            if handle.closed:
                return NsapiError.NO_SOCKET
            return handle.sock if handle.sock is not None else NsapiError.WOULD_BLOCK

    def socket_close(self, handle: HostSocket) -> NsapiError:
        with handle.lock:
            if handle.closed:
                return NsapiError.NO_SOCKET
            handle.closed = True
            sock, watch = handle.sock, handle.watch
        with self._lock:
            self._sockets.discard(handle)
        if watch is not None:
            self._io.unwatch(watch)
        if sock is not None:
            sock.close()
        return NsapiError.OK

    def socket_bind(self, handle: HostSocket, address: SocketAddress) -> NsapiError:
        version = address.get_ip_version()
        sock = self._os_socket(handle, version if version != NsapiVersion.UNSPEC else NsapiVersion.IPv4)
        if isinstance(sock, NsapiError):
            return sock
        host = address.get_ip_address() or ("::" if sock.family == socket.AF_INET6 else "0.0.0.0")
        try:
            sock.bind((host, address.get_port()))
        except OSError as exc:
            return NsapiError.PARAMETER if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) else _nsapi(exc)
        return NsapiError.OK

    def socket_listen(self, handle: HostSocket, backlog: int) -> NsapiError:
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        sock = self._os_socket(handle, NsapiVersion.IPv4)
        if isinstance(sock, NsapiError):
            return sock
        try:
            sock.listen(max(1, backlog))
        except OSError as exc:
            return _nsapi(exc)
        return NsapiError.OK

    def socket_connect(self, handle: HostSocket, address: SocketAddress) -> NsapiError:
        if handle.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        sock = self._os_socket(handle, address.get_ip_version())
        if isinstance(sock, NsapiError):
            return sock
        assert handle.watch is not None
        if handle.connecting:
            failure = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if failure:
                handle.connecting = False
                return _ERRNO_TO_NSAPI.get(failure, NsapiError.NO_CONNECTION)
            try:
                sock.getpeername()
            except OSError:
                self._io.arm(handle.watch, write=True)
                return NsapiError.ALREADY
            handle.connecting = False
            handle.connected = True
            return NsapiError.IS_CONNECTED
        if handle.connected:
            # Linux answers the first connect() after a non-blocking connect finished with 0, not EISCONN.
            return NsapiError.IS_CONNECTED
        code = sock.connect_ex(address.to_tuple())
        # Re-arm reading too: before connect() a fresh TCP socket polls as HUP, which the loop may already have
        # reported (as readable and writable), leaving reading disarmed and the first data without a callback.
        if code == 0:
            handle.connected = True
            self._io.arm(handle.watch, read=True)
            return NsapiError.OK
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
            handle.connecting = True
            self._io.arm(handle.watch, read=True, write=True)
            return NsapiError.IN_PROGRESS
        return _ERRNO_TO_NSAPI.get(code, NsapiError.NO_CONNECTION)

    def socket_accept(self, handle: HostSocket) -> tuple[NsapiError, HostSocket | None, SocketAddress | None]:
        sock = self._existing(handle)
        if isinstance(sock, NsapiError):
            return (NsapiError.PARAMETER if sock == NsapiError.WOULD_BLOCK else sock), None, None
        assert handle.watch is not None
        try:
            conn, peer = sock.accept()
        except OSError as exc:
            if isinstance(exc, BlockingIOError):
                self._io.arm(handle.watch, read=True)
            return _nsapi(exc), None, None
        conn.setblocking(False)
        accepted = HostSocket(NsapiProtocol.TCP)
        accepted.sock = conn
        accepted.connected = True
        accepted.watch = Watch(conn)
        with self._lock:
            self._sockets.add(accepted)
        self._io.watch(accepted.watch)
        return NsapiError.OK, accepted, _from_sockaddr(peer)

    def socket_send(self, handle: HostSocket, data: bytes | memoryview) -> int:
        sock = self._existing(handle)
        if isinstance(sock, NsapiError):
            return NsapiError.NO_CONNECTION if sock == NsapiError.WOULD_BLOCK else sock
        assert handle.watch is not None
        try:
            return sock.send(data)
        except OSError as exc:
            if isinstance(exc, BlockingIOError):
                self._io.arm(handle.watch, write=True)
            return _nsapi(exc)

    def socket_recv(self, handle: HostSocket, buffer: memoryview) -> int:
        sock = self._existing(handle)
        if isinstance(sock, NsapiError):
            return NsapiError.NO_CONNECTION if sock == NsapiError.WOULD_BLOCK else sock
        assert handle.watch is not None
        try:
            return sock.recv_into(buffer)
        except OSError as exc:
            if isinstance(exc, BlockingIOError):
                self._io.arm(handle.watch, read=True)
            return _nsapi(exc)

    def socket_sendto(self, handle: HostSocket, address: SocketAddress, data: bytes | memoryview) -> int:
        sock = self._os_socket(handle, address.get_ip_version())
        if isinstance(sock, NsapiError):
            return sock
        assert handle.watch is not None
        try:
            return sock.sendto(data, address.to_tuple())
        except OSError as exc:
            if isinstance(exc, BlockingIOError):
                self._io.arm(handle.watch, write=True)
            return _nsapi(exc)

    def socket_recvfrom(self, handle: HostSocket, buffer: memoryview) -> tuple[int, SocketAddress | None]:
        sock = self._existing(handle)
        if isinstance(sock, NsapiError):
            return sock, None
        assert handle.watch is not None
        try:
            # MSG_TRUNC is not needed: the datagram is consumed whole and what does not fit is dropped, as Mbed.
            size, sender = sock.recvfrom_into(buffer)
        except OSError as exc:
            if isinstance(exc, BlockingIOError):
                self._io.arm(handle.watch, read=True)
            return _nsapi(exc), None
        return size, _from_sockaddr(sender)

    def socket_attach(self, handle: HostSocket, callback: Callable[[], None] | None) -> None:
        with handle.lock:
            handle.callback = callback
            if handle.watch is not None:
                handle.watch.callback = callback

    # -- options --------------------------------------------------------------------------------------------------
    @staticmethod
    def _apply_option(sock: socket.socket, optname: int, value: OptionValue) -> NsapiError:
        ival = int.from_bytes(value, "little") if isinstance(value, bytes) else int(value)
        table: dict[int, tuple[int, int, int]] = {
            NsapiSocketOption.REUSEADDR: (socket.SOL_SOCKET, socket.SO_REUSEADDR, 1 if ival else 0),
            NsapiSocketOption.KEEPALIVE: (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if ival else 0),
            NsapiSocketOption.BROADCAST: (socket.SOL_SOCKET, socket.SO_BROADCAST, 1 if ival else 0),
            NsapiSocketOption.SNDBUF: (socket.SOL_SOCKET, socket.SO_SNDBUF, ival),
            NsapiSocketOption.RCVBUF: (socket.SOL_SOCKET, socket.SO_RCVBUF, ival),
        }
        if hasattr(socket, "TCP_KEEPIDLE"):
            table[NsapiSocketOption.KEEPIDLE] = (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, ival)
            table[NsapiSocketOption.KEEPINTVL] = (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, ival)
        entry = table.get(optname)
        if entry is None:
            return NsapiError.UNSUPPORTED
        if entry[0] == socket.IPPROTO_TCP and sock.type != socket.SOCK_STREAM:
            return NsapiError.UNSUPPORTED
        try:
            sock.setsockopt(*entry)
        except OSError as exc:
            return _nsapi(exc)
        return NsapiError.OK

    def setsockopt(self, handle: HostSocket, level: int, optname: int, value: OptionValue) -> NsapiError:
        if level != NsapiSocketLevel.SOCKET:
            return NsapiError.UNSUPPORTED
        if not isinstance(value, (int, bytes)) or isinstance(value, bool):
            return NsapiError.PARAMETER
        if optname in (NsapiSocketOption.KEEPALIVE, NsapiSocketOption.KEEPIDLE, NsapiSocketOption.KEEPINTVL) and (
            handle.proto != NsapiProtocol.TCP
        ):
            return NsapiError.UNSUPPORTED
        with handle.lock:
            if handle.closed:
                return NsapiError.NO_SOCKET
            sock = handle.sock
            if sock is None:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM if handle.proto == 0 else socket.SOCK_DGRAM)
                with probe:
                    result = self._apply_option(probe, optname, value)
                if result == NsapiError.OK:
                    handle.options[optname] = value
                return result
        result = self._apply_option(sock, optname, value)
        if result == NsapiError.OK:
            handle.options[optname] = value
        return result

    def getsockopt(self, handle: HostSocket, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        if level != NsapiSocketLevel.SOCKET:
            return NsapiError.UNSUPPORTED, None
        with handle.lock:
            if handle.closed:
                return NsapiError.NO_SOCKET, None
            if optname in handle.options:
                return NsapiError.OK, handle.options[optname]
        return NsapiError.UNSUPPORTED, None

    # -- housekeeping ---------------------------------------------------------------------------------------------
    @property
    def open_sockets(self) -> int:
        with self._lock:
            return len(self._sockets)

    def close(self) -> None:
        """Close every socket still open on this stack (and so stop its I/O thread)."""
        with self._lock:
            handles = list(self._sockets)
        for handle in handles:
            self.socket_close(handle)
