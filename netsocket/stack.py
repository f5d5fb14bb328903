"""``NetworkStack``: the non-blocking socket primitives a driver implements (Mbed's ``NetworkStack``).

Every ``socket_*`` primitive returns at once: it never waits for the network. When it cannot complete it returns
``WOULD_BLOCK`` (``IN_PROGRESS``/``ALREADY`` for connect) and later calls the callback given to
``socket_attach`` when the socket's state changes (readable, writable, connected, accepted, closed, failed).
Spurious calls are allowed. Blocking, timeouts and argument checks are written once, in ``netsocket.socket``.

A driver's callbacks may run on its own thread; the socket layer copes with that. Primitives may be called from
several threads at once and on handles that were closed meanwhile (they then return ``NO_SOCKET``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.types import NsapiProtocol, NsapiVersion

if TYPE_CHECKING:
    from netsocket.dns import DnsResolver

SocketHandle: TypeAlias = Any
"""A driver's own socket object; opaque to the socket layer."""

HostbynameCallback: TypeAlias = Callable[[int, "SocketAddress | None"], None]
"""``callback(result, address)``: result is the number of addresses (> 0) or a negative ``NsapiError``."""

OptionValue: TypeAlias = "int | bytes"


class NetworkStack(abc.ABC):
    """An IP stack that sockets are opened on.

    Name resolution: the default methods use netsocket's own resolver (``netsocket.dns``) over this stack's UDP
    sockets, with the servers given to ``add_dns_server``. A stack with a resolver of its own (the OS, an ESP
    module's ``AT+CIPDOMAIN``) overrides ``gethostbyname`` and may fall back to the default once servers are added.
    """

    _dns: DnsResolver | None = None

    # -- addresses and options ------------------------------------------------------------------------------------
    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        """Fill ``address`` with the stack's own IP address: OK, NO_ADDRESS, or UNSUPPORTED."""
        return NsapiError.UNSUPPORTED

    def get_ipv6_link_local_address(self, address: SocketAddress) -> NsapiError:
        """Fill ``address`` with the stack's IPv6 link-local address: OK, NO_ADDRESS, or UNSUPPORTED (default)."""
        return NsapiError.UNSUPPORTED

    def setstackopt(self, level: int, optname: int, value: OptionValue) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def getstackopt(self, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        return NsapiError.UNSUPPORTED, None

    # -- DNS ------------------------------------------------------------------------------------------------------
    @property
    def dns(self) -> DnsResolver:
        """netsocket's resolver bound to this stack (created on first use)."""
        if self._dns is None:
            from netsocket.dns import DnsResolver

            self._dns = DnsResolver(self)
        return self._dns

    def gethostbyname(
        self, host: str, address: SocketAddress, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> NsapiError:
        """Resolve ``host`` (blocking) into ``address``: OK, PARAMETER, DNS_FAILURE, NO_SOCKET, TIMEOUT..."""
        return self.dns.gethostbyname(host, address, version)

    def gethostbyname_async(
        self, host: str, callback: HostbynameCallback, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> int:
        """Start resolving ``host``: 0 if done at once (callback already called), > 0 an id, < 0 an error."""
        return self.dns.gethostbyname_async(host, callback, version)

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        return self.dns.gethostbyname_async_cancel(query_id)

    def add_dns_server(self, address: SocketAddress) -> NsapiError:
        return self.dns.add_server(address)

    def call_in(self, delay_ms: int, fn: Callable[[], None]) -> NsapiError:
        """Run ``fn`` in ``delay_ms`` ms on an event thread (Mbed's private ``call_in``): netsocket's shared event
        queue unless the driver has a thread of its own. The resolver delivers asynchronous results this way."""
        from netsocket.event_queue import call_in

        call_in(delay_ms, fn)
        return NsapiError.OK

    def probe_address(self, address: SocketAddress, timeout: float) -> bool | None:
        """Whether another host on the link answers for ``address`` (within ``timeout`` seconds): True if one
        does (the address is taken), False if none did, None if this stack cannot tell (the default). DHCP asks
        before it uses a new lease; a socket API has no ARP, so a stack that can probe (the W5500's own ARP) says
        so here. *netsocket*: not in Mbed."""
        return None

    def get_dns_server(self, index: int, address: SocketAddress) -> NsapiError:
        return self.dns.get_server(index, address)

    # -- socket primitives (all non-blocking) ---------------------------------------------------------------------
    @abc.abstractmethod
    def socket_open(self, proto: NsapiProtocol) -> tuple[NsapiError, SocketHandle]:
        """Create a socket: ``(OK, handle)``, or ``(NO_SOCKET | UNSUPPORTED | ..., None)``."""

    @abc.abstractmethod
    def socket_close(self, handle: SocketHandle) -> NsapiError:
        """Close and free the socket (abortive or orderly is the stack's choice)."""

    @abc.abstractmethod
    def socket_bind(self, handle: SocketHandle, address: SocketAddress) -> NsapiError:
        """Bind to a local address; an unspecified IP binds the port only. A port in use gives PARAMETER."""

    @abc.abstractmethod
    def socket_listen(self, handle: SocketHandle, backlog: int) -> NsapiError:
        """Start listening for TCP connections."""

    @abc.abstractmethod
    def socket_connect(self, handle: SocketHandle, address: SocketAddress) -> NsapiError:
        """Start or poll a TCP connect: IN_PROGRESS, then ALREADY while pending, then IS_CONNECTED; or an error."""

    @abc.abstractmethod
    def socket_accept(self, handle: SocketHandle) -> tuple[NsapiError, SocketHandle, SocketAddress | None]:
        """Take a pending connection: ``(OK, new_handle, peer)`` or ``(WOULD_BLOCK | error, None, None)``."""

    @abc.abstractmethod
    def socket_send(self, handle: SocketHandle, data: bytes | memoryview) -> int:
        """Queue bytes on a connected socket: the count taken (> 0), WOULD_BLOCK, or an error."""

    @abc.abstractmethod
    def socket_recv(self, handle: SocketHandle, buffer: memoryview) -> int:
        """Copy received bytes into ``buffer``: the count, 0 when the peer closed in order, WOULD_BLOCK, or an
        error."""

    @abc.abstractmethod
    def socket_sendto(self, handle: SocketHandle, address: SocketAddress, data: bytes | memoryview) -> int:
        """Send one datagram: its size, WOULD_BLOCK, or an error."""

    @abc.abstractmethod
    def socket_recvfrom(self, handle: SocketHandle, buffer: memoryview) -> tuple[int, SocketAddress | None]:
        """Take one datagram (truncated to the buffer): ``(size, sender)`` or ``(WOULD_BLOCK | error, None)``."""

    @abc.abstractmethod
    def socket_attach(self, handle: SocketHandle, callback: Callable[[], None] | None) -> None:
        """Register (or with None, remove) the state-change callback of a socket."""

    def setsockopt(self, handle: SocketHandle, level: int, optname: int, value: OptionValue) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def getsockopt(self, handle: SocketHandle, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        return NsapiError.UNSUPPORTED, None
