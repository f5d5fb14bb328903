"""``ESPATStack``: netsocket's non-blocking socket primitives over an ESP-AT module.

Layer: the API on top of the runner. Primitives never wait for the module: they read and fill host-side buffers
under the core's lock and queue the AT work (CIPSTART, CIPSEND, CIPRECVDATA, CIPCLOSE, CIPSERVER, peer look-ups)
for the worker thread (``socket_jobs``), which calls the socket's attach callback when a state changed. So
``send`` returns once the bytes are queued (bounded, like a kernel socket buffer; WOULD_BLOCK when full), and a TCP
``recv`` takes what the worker fetched with ``AT+CIPRECVDATA`` (passive mode: the module holds the rest, and TCP
backpressure reaches the peer) or what arrived in ``+IPD`` (active mode: bounded, losses counted and logged).

The module has five link ids, shared by client sockets, accepted connections and netsocket's DNS resolver
(which opens UDP sockets here): ``socket_open`` hands out at most five sockets.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.errors import NsapiError
from netsocket.stack import HostbynameCallback, NetworkStack, OptionValue, SocketHandle
from netsocket.types import NsapiProtocol, NsapiSocketLevel, NsapiSocketOption, NsapiVersion

from . import commands as cmd
from . import module_dns
from .commands import Command
from .core import ATCore, Notice
from .dialects import Dialect, FirmwareInfo
from .links import LINK_COUNT, Link, LinkState
from .runner import Reply, Runner
from .socket_jobs import REFETCH_BELOW, TX_QUEUE_LIMIT, UDP_TX_LIMIT, Draining, EspSocket, SocketJobs
from .ssl_link import SslSettings
from .worker import Job, Worker

_log = logging.getLogger("netsocket.drivers.esp_at")

COMMAND_TIMEOUT = cmd.COMMAND_TIMEOUT


class ESPATStack(NetworkStack):
    """The socket primitives of an ESP8266/ESP32 module running Espressif AT firmware."""

    def __init__(
        self,
        runner_factory: Callable[[ATCore, Callable[[Notice], None]], Runner],
        worker_factory: Callable[..., Worker] = Worker,
    ) -> None:
        self.core = ATCore()
        self.runner = runner_factory(self.core, self._notice)
        self.lock = self.runner.lock
        self._work = self.runner.cond
        self.sockets: list[EspSocket] = []
        self.draining: list[EspSocket] = []
        """Closed sockets whose queued bytes are still going out (they hold their link, not a socket slot)."""
        self.jobs = SocketJobs(self)
        self.worker = worker_factory(self._work, self.jobs.next_job, lambda: self.runner.alive)
        self._server_port: int | None = None
        self._module_dns = module_dns.ModuleDns(self)
        self.firmware: FirmwareInfo | None = None
        self.ip_address: str | None = None
        self.ipv6_link_local: str | None = None
        self.ipv6_global: str | None = None
        self.on_wifi: Callable[[str], None] | None = None
        self.on_reset: Callable[[], None] | None = None
        self.on_port_failed: Callable[[], None] | None = None
        self.on_softap: Callable[[Notice], None] | None = None
        """SoftAP station news and resets, for ``softap.ESPSoftAP`` (reader thread)."""
        self._port_failure_reported = False

    @property
    def engine(self) -> ATCore:
        """The protocol core (its older name; tests read its link table)."""
        return self.core

    @property
    def runs_on_event_loop(self) -> bool:
        """True under the asyncio runner: ``netsocket.aio`` then runs on this stack with no thread."""
        return self.runner.on_event_loop

    @property
    def dialect(self) -> Dialect:
        return self.core.dialect

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start_threads(self) -> None:
        self.runner.start()
        self.worker.start()

    def stop_threads(self, close_port: bool) -> None:
        self.worker.stop()
        self.runner.stop(close_port)

    def reset_runtime(self, keep_port: bool) -> None:
        """After ``stop_threads``: forget the module's state so that ``start_threads`` and start-up can run again
        (on the same port object when ``keep_port``, else on a port the caller opens)."""
        with self.lock:
            self.core.new_session()
            self.jobs.clear()
            self.draining.clear()
            self._server_port = None
            self._port_failure_reported = False
        if not keep_port:
            self.runner.port = None

    def run(self, command: Command, deadline: float | None = None) -> Reply:
        return self.runner.run(command, deadline)

    def command(
        self, line: bytes, timeout: float = COMMAND_TIMEOUT, deadline: float | None = None, expect: bytes | None = None
    ) -> Reply:
        return self.runner.run(Command(line, timeout, expect=expect), deadline)

    def submit_job(self, job: Job, abandon: Job | None = None) -> None:
        """Run ``job`` on the worker thread (``abandon`` instead if the driver stops first)."""
        self.worker.submit(job, abandon)

    def kick(self) -> None:
        """Wake the worker: there may be AT work (called under the lock)."""
        self._work.notify_all()

    # -- URCs from the reader thread ------------------------------------------------------------------------------
    def _notice(self, notice: Notice) -> None:
        callbacks: list[Callable[[], None]] = []
        with self.lock:
            for link_id in notice.links:
                owner = self.core.links[link_id].owner
                if isinstance(owner, EspSocket) and owner.callback is not None:
                    callbacks.append(owner.callback)
            if notice.accepted is not None or notice.reset or not self.runner.alive:
                callbacks.extend(s.callback for s in self.sockets if s.listening and s.callback is not None)
            if not self.runner.alive:
                callbacks.extend(s.callback for s in self.sockets if s.callback is not None)
            self.kick()
        if notice.reset and self.on_reset is not None:
            # Before the sockets hear of it: an application woken by its socket's loss finds the module already
            # marked for re-initialisation (wait_initialised waits for it) and the interface DISCONNECTED.
            self.on_reset()
        if (notice.station is not None or notice.reset) and self.on_softap is not None:
            self.on_softap(notice)
        for callback in dict.fromkeys(callbacks):
            run_callback(callback)
        if notice.wifi is not None and self.on_wifi is not None:
            self.on_wifi(notice.wifi)
        if not self.runner.alive and not self._port_failure_reported:
            self._port_failure_reported = True
            if self.on_port_failed is not None:
                self.on_port_failed()

    # -- handle helpers -------------------------------------------------------------------------------------------
    def _check(self, handle: SocketHandle) -> EspSocket | NsapiError:
        if not isinstance(handle, EspSocket) or handle.closed:
            return NsapiError.NO_SOCKET
        if not self.runner.alive:
            return NsapiError.DEVICE_ERROR
        return handle

    def _destination(self, address: SocketAddress) -> str | NsapiError:
        """The IP text of a destination: IPv4, or IPv6 where the module has IPv6 on (TCPv6/UDPv6 links);
        UNSUPPORTED for IPv6 on IPv4-only firmware, PARAMETER for no address."""
        ip = address.get_ip_address()
        version = address.get_ip_version()
        if ip is None or version == NsapiVersion.UNSPEC:
            return NsapiError.PARAMETER
        if version == NsapiVersion.IPv6 and not self.core.ipv6:
            return NsapiError.UNSUPPORTED
        return ip

    # -- primitives -----------------------------------------------------------------------------------------------
    def socket_open(self, proto: NsapiProtocol, *, tls: SslSettings | None = None) -> tuple[NsapiError, SocketHandle]:
        """``tls``: a module-side TLS socket (``module_tls``), one of the firmware's few SSL links (NO_SOCKET when
        they are all open)."""
        if proto not in (NsapiProtocol.TCP, NsapiProtocol.UDP) or (tls is not None and proto != NsapiProtocol.TCP):
            return NsapiError.UNSUPPORTED, None
        if not self.runner.alive:
            return NsapiError.DEVICE_ERROR, None
        with self.lock:
            if len(self.sockets) >= LINK_COUNT:
                return NsapiError.NO_SOCKET, None
            if tls is not None and sum(s.tls is not None for s in self.sockets) >= self.dialect.ssl_links:
                return NsapiError.NO_SOCKET, None
            sock = EspSocket(NsapiProtocol(proto), tls=tls)
            self.sockets.append(sock)
        return NsapiError.OK, sock

    def socket_close(self, handle: SocketHandle) -> NsapiError:
        if not isinstance(handle, EspSocket) or handle.closed:
            return NsapiError.NO_SOCKET
        with self.lock:
            handle.closed = True
            handle.callback = None
            if handle in self.sockets:
                self.sockets.remove(handle)
            link = handle.link_ok()
            if link is not None:
                self.core.table.set_owner(link, None)
                if link.state in (LinkState.OPEN, LinkState.CONNECTING):
                    self._flush_then_close(handle, link)
            elif handle.udp_starting and handle.udp_tx and self.runner.alive:
                # sendto accepted these datagrams: the worker opens the link, sends them, then closes it
                handle.closed = False
                self.draining.append(handle)
            if handle.listening:
                handle.listening = False
                self._server_port = None
                self.jobs.server_stop_pending = True
                for queued in self.core.table.drop_accept_queue():
                    self.jobs.closing.append((queued, queued.generation, True))
            self.kick()
        return NsapiError.OK

    def _flush_then_close(self, handle: EspSocket, link: Link) -> None:
        if handle.queued and handle.failed is None and not link.peer_closed and self.runner.alive:
            # Queued bytes go out before the close (an orderly close of a blocking send's tail).
            self.core.table.set_owner(link, Draining(handle, link, self))
        else:
            self.jobs.closing.append((link, link.generation, False))

    def socket_bind(self, handle: SocketHandle, address: SocketAddress) -> NsapiError:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        ip = address.get_ip_address()
        own = (self.ip_address, self.ipv6_link_local, self.ipv6_global)
        if ip is not None and not ipaddress.ip_address(ip).is_unspecified and ip not in own:
            return NsapiError.PARAMETER  # the module's addresses are its station's: binding to one binds the port
        ipv6 = address.get_ip_version() == NsapiVersion.IPv6  # "::" or its own: a UDP socket on a UDPv6 link
        if ipv6 and not self.core.ipv6:
            return NsapiError.UNSUPPORTED
        port = address.get_port()
        with self.lock:
            if sock.bound_port or sock.link is not None:
                return NsapiError.PARAMETER
            sock.ipv6 = ipv6
            if port and any(s.bound_port == port and s.proto == sock.proto for s in self.sockets):
                return NsapiError.PARAMETER
            sock.bound_port = port or self.jobs.pick_ephemeral()
            sock.ephemeral_port = not port
            if sock.proto == NsapiProtocol.UDP:
                sock.udp_starting = True
                self.kick()
        return NsapiError.OK

    def socket_listen(self, handle: SocketHandle, backlog: int) -> NsapiError:
        """Starts the module's server on the worker (``AT+CIPSERVERMAXCONN``, ``AT+CIPSERVER``): IN_PROGRESS,
        ALREADY while it starts, then OK or its error (ADDRESS_IN_USE when the module refuses the port)."""
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if sock.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        with self.lock:
            if sock.listening:
                return NsapiError.OK
            if sock.listen_error is not None:
                error, sock.listen_error = sock.listen_error, None
                return error
            if sock.listen_starting:
                return NsapiError.ALREADY
            if sock.connected or sock.connecting:
                return NsapiError.PARAMETER
            if self._server_port is not None:
                return NsapiError.ADDRESS_IN_USE
            if not sock.bound_port:
                return NsapiError.PARAMETER
            sock.listen_starting = True
            self._server_port = sock.bound_port
            self.jobs.server_starts.append((sock, backlog))
            self.kick()
        return NsapiError.IN_PROGRESS

    def server_stopped(self) -> None:
        """The module's server did not start (called by the worker, under the lock)."""
        self._server_port = None

    def socket_accept(self, handle: SocketHandle) -> tuple[NsapiError, SocketHandle, SocketAddress | None]:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock, None, None
        with self.lock:
            if not sock.listening:
                return NsapiError.PARAMETER, None, None
            for link in list(self.core.accept_queue):
                if link.remote is None:
                    continue
                if len(self.sockets) >= LINK_COUNT:
                    return NsapiError.NO_SOCKET, None, None
                new = EspSocket(NsapiProtocol.TCP, link=link, generation=link.generation, connected=True)
                new.remote = SocketAddress(*link.remote)
                self.core.table.take_accepted(link, new)
                self.sockets.append(new)
                self.kick()
                return NsapiError.OK, new, SocketAddress(new.remote)
        return NsapiError.WOULD_BLOCK, None, None

    def socket_connect(self, handle: SocketHandle, address: SocketAddress) -> NsapiError:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if sock.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        with self.lock:
            if sock.connected:
                link = sock.link_ok()
                if link is None or link.lost:
                    return NsapiError.CONNECTION_LOST
                return NsapiError.IS_CONNECTED
            if sock.connecting:
                return NsapiError.ALREADY
            if sock.connect_error is not None:
                error, sock.connect_error = sock.connect_error, None
                return error
            if sock.listening:
                return NsapiError.PARAMETER
            ip = self._destination(address)
            if isinstance(ip, NsapiError):
                return ip
            if not self.core.wifi_up:
                return NsapiError.NO_CONNECTION
            sock.remote = SocketAddress(address)
            sock.connecting = True
            self.kick()
        return NsapiError.IN_PROGRESS

    def socket_send(self, handle: SocketHandle, data: bytes | memoryview) -> int:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if sock.proto == NsapiProtocol.UDP:
            if sock.remote is None:
                return NsapiError.NO_ADDRESS
            return self.socket_sendto(handle, sock.remote, data)
        with self.lock:
            if sock.failed is not None:
                return sock.failed
            link = sock.link_ok()
            if not sock.connected or link is None:
                return NsapiError.CONNECTION_LOST if sock.connected else NsapiError.NO_CONNECTION
            if link.lost or link.peer_closed or link.state is not LinkState.OPEN:
                return NsapiError.CONNECTION_LOST
            room = TX_QUEUE_LIMIT - len(sock.tx)
            if room <= 0:
                return NsapiError.WOULD_BLOCK
            take = min(room, len(data))
            sock.tx += data[:take]
            self.kick()
        return take

    def socket_recv(self, handle: SocketHandle, buffer: memoryview) -> int:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if sock.proto == NsapiProtocol.UDP:
            size, _sender = self.socket_recvfrom(handle, buffer)
            return size
        with self.lock:
            link = sock.link_ok()
            if not sock.connected or link is None:
                if sock.failed is not None:
                    return sock.failed
                return NsapiError.CONNECTION_LOST if sock.connected else NsapiError.NO_CONNECTION
            if link.rx:
                count = min(len(buffer), len(link.rx))
                buffer[:count] = self.core.table.take_bytes(link, count)
                if link.module_pending and len(link.rx) < REFETCH_BELOW:
                    self.kick()
                return count
            if sock.failed is not None:
                return sock.failed
            if link.dropped_bytes:
                return NsapiError.NO_MEMORY  # active mode overflowed: the bytes after the cut are gone
            if link.lost:
                return NsapiError.CONNECTION_LOST
            if link.module_pending:
                self.kick()
                return NsapiError.WOULD_BLOCK
            if link.peer_closed:
                return 0
        return NsapiError.WOULD_BLOCK

    def socket_sendto(self, handle: SocketHandle, address: SocketAddress, data: bytes | memoryview) -> int:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if sock.proto == NsapiProtocol.TCP:
            return self.socket_send(handle, data)
        ip = self._destination(address)
        if address.get_port() == 0:
            return NsapiError.PARAMETER
        if isinstance(ip, NsapiError):
            # UNSUPPORTED only where no IPv6 could ever go: a socket that already has a family says PARAMETER
            return NsapiError.PARAMETER if sock.ipv6 is not None else ip
        ipv6 = address.get_ip_version() == NsapiVersion.IPv6
        if len(data) > self.dialect.send_limit:
            return NsapiError.PARAMETER
        if len(data) == 0:
            # Mbed's test plan wants 0 here; AT+CIPSEND cannot carry an empty datagram, so none goes out.
            _log.info("an empty UDP datagram cannot be sent through AT firmware; nothing was sent")
            return 0
        with self.lock:
            if sock.failed is not None:
                return sock.failed
            if sock.ipv6 is not None and sock.ipv6 != ipv6:
                return NsapiError.PARAMETER  # a UDP link carries one IP version, fixed when it opened
            if not self.core.wifi_up:
                return NsapiError.NO_CONNECTION
            if sock.link is None and not sock.udp_starting:
                sock.udp_starting = True
                sock.ipv6 = ipv6
            elif sock.link is not None and sock.link_ok() is None:
                return NsapiError.CONNECTION_LOST
            if len(sock.udp_tx) >= UDP_TX_LIMIT:
                return NsapiError.WOULD_BLOCK
            sock.udp_tx.append((bytes(data), ip, address.get_port()))
            self.kick()
        return len(data)

    def socket_recvfrom(self, handle: SocketHandle, buffer: memoryview) -> tuple[int, SocketAddress | None]:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock, None
        if sock.proto == NsapiProtocol.TCP:
            size = self.socket_recv(handle, buffer)
            return size, SocketAddress(sock.remote) if sock.remote is not None and size >= 0 else None
        with self.lock:
            link = sock.link_ok()
            if link is None:
                if sock.failed is not None:
                    return sock.failed, None
                if sock.link is not None:
                    return NsapiError.CONNECTION_LOST, None
                if sock.bound_port and not sock.udp_starting and self.core.wifi_up:
                    sock.udp_starting = True
                    self.kick()
                return NsapiError.WOULD_BLOCK, None
            if link.datagrams:
                data, ip, port = self.core.table.take_datagram(link) or (b"", None, None)
                count = min(len(buffer), len(data))
                buffer[:count] = data[:count]
                if link.module_pending:
                    self.kick()
                sender = SocketAddress(ip, port or 0) if ip else None
                return count, sender
            if link.lost:
                return NsapiError.CONNECTION_LOST, None
            if link.module_pending:
                self.kick()
        return NsapiError.WOULD_BLOCK, None

    def socket_attach(self, handle: SocketHandle, callback: Callable[[], None] | None) -> None:
        if isinstance(handle, EspSocket):
            with self.lock:
                handle.callback = callback

    def setsockopt(self, handle: SocketHandle, level: int, optname: int, value: OptionValue) -> NsapiError:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock
        if level != NsapiSocketLevel.SOCKET or optname not in (NsapiSocketOption.KEEPALIVE, NsapiSocketOption.KEEPIDLE):
            return NsapiError.UNSUPPORTED
        if sock.proto != NsapiProtocol.TCP:
            return NsapiError.UNSUPPORTED
        seconds = int.from_bytes(value, "little") if isinstance(value, bytes) else int(value)
        if optname == NsapiSocketOption.KEEPALIVE and seconds == 1:
            seconds = 7200  # a boolean "on": the firmware's longest idle time
        if not 0 <= seconds <= 7200:
            return NsapiError.PARAMETER
        sock.keepalive = seconds
        return NsapiError.OK

    def getsockopt(self, handle: SocketHandle, level: int, optname: int) -> tuple[NsapiError, OptionValue | None]:
        sock = self._check(handle)
        if isinstance(sock, NsapiError):
            return sock, None
        if level == NsapiSocketLevel.SOCKET and optname in (NsapiSocketOption.KEEPALIVE, NsapiSocketOption.KEEPIDLE):
            return NsapiError.OK, sock.keepalive
        return NsapiError.UNSUPPORTED, None

    # -- addresses ------------------------------------------------------------------------------------------------
    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        ip = self.ip_address
        if ip is None or ip == "0.0.0.0":
            return NsapiError.NO_ADDRESS
        address.set_ip_address(ip)
        return NsapiError.OK

    def get_ipv6_link_local_address(self, address: SocketAddress) -> NsapiError:
        """The station's ``fe80::`` address from ``AT+CIPSTA?`` (ESP-AT 3.x with IPv6 on): OK, NO_ADDRESS before
        the module has one, UNSUPPORTED on IPv4-only firmware."""
        if self.firmware is not None and self.firmware.dialect.ipv6_command is None:
            return NsapiError.UNSUPPORTED
        if self.ipv6_link_local is None:
            return NsapiError.NO_ADDRESS
        address.set_ip_address(self.ipv6_link_local)
        return NsapiError.OK

    def set_addresses(self, values: dict[str, str]) -> None:
        """The station's addresses as ``AT+CIPSTA?`` lists them (an empty dict forgets them)."""
        self.ip_address = values.get("ip")
        self.ipv6_link_local = values.get("ip6ll")
        self.ipv6_global = values.get("ip6gl")

    # -- DNS: the module's AT+CIPDOMAIN (module_dns) unless netsocket's resolver has servers ----------------------
    def gethostbyname(
        self, host: str, address: SocketAddress, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> NsapiError:
        literal = module_dns.literal(host, address, version)
        if literal is not None:
            return literal
        if self.dns.has_servers:
            return super().gethostbyname(host, address, version)
        return self._module_dns.resolve(host, address, version)

    def gethostbyname_async(
        self, host: str, callback: HostbynameCallback, version: NsapiVersion = NsapiVersion.UNSPEC
    ) -> int:
        if self.dns.has_servers:
            return super().gethostbyname_async(host, callback, version)
        return self._module_dns.resolve_async(host, callback, version)

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        if self.dns.has_servers:
            return super().gethostbyname_async_cancel(query_id)
        return self._module_dns.cancel(query_id)

    # -- reset / failure ------------------------------------------------------------------------------------------
    def mark_all_lost(self, error: NsapiError) -> None:
        """After a module reset or Wi-Fi loss: every socket reports ``error`` from now on."""
        callbacks = []
        with self.lock:
            for sock in self.sockets:
                if sock.link is not None or sock.connecting:
                    sock.failed = error
                    sock.connecting = False
                    if sock.callback is not None:
                        callbacks.append(sock.callback)
            self.core.table.forget_unowned(also_owned_by=Draining)
            self.jobs.clear()
            self.draining.clear()
            self._server_port = None
        for callback in callbacks:
            run_callback(callback)

    def open_sockets(self) -> int:
        with self.lock:
            return len(self.sockets)
