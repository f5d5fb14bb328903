"""The AT work behind the ESP-AT socket primitives, run on the worker thread: CIPSTART, CIPSEND, CIPRECVDATA,
CIPCLOSE, the server's peer look-ups. The primitives only queue work (never a blocking AT round trip); ``next_job``
picks the next piece, rotating so one busy socket cannot starve the others, and each job runs one command through
the core and asks the link table for the change its reply means.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.errors import NsapiError
from netsocket.types import NsapiProtocol

from . import commands as cmd
from . import ssl_link
from .links import TCP_BUFFER_LIMIT, Link, LinkState
from .runner import Reply

if TYPE_CHECKING:
    from .stack import ESPATStack

_log = logging.getLogger("netsocket.drivers.esp_at")

TX_QUEUE_LIMIT = 16384
UDP_TX_LIMIT = 8
REFETCH_BELOW = TCP_BUFFER_LIMIT // 2


@dataclass(eq=False)
class EspSocket:
    """A socket handle of this stack (opaque to netsocket)."""

    proto: NsapiProtocol
    link: Link | None = None
    generation: int = -1
    callback: Callable[[], None] | None = None
    closed: bool = False
    connecting: bool = False
    connected: bool = False
    connect_error: NsapiError | None = None
    failed: NsapiError | None = None
    """A sticky error (SEND FAIL, module reset) reported by the next call."""
    bound_port: int = 0
    listening: bool = False
    listen_starting: bool = False
    listen_error: NsapiError | None = None
    remote: SocketAddress | None = None
    keepalive: int = 0
    tx: bytearray = field(default_factory=bytearray)
    udp_tx: deque[tuple[bytes, str, int]] = field(default_factory=deque)
    udp_starting: bool = False
    ephemeral_port: bool = False
    """The local port was picked by the driver (another may be tried if the module refuses it)."""
    tls: ssl_link.SslSettings | None = None
    """Set for a module-side TLS socket (``module_tls.ModuleTLSSocket``): its link is an SSL link."""
    ipv6: bool | None = None
    """A UDP socket's IP version (its link is UDP or UDPv6): set by bind (``::`` is IPv6) or the first sendto."""

    @property
    def queued(self) -> bool:
        """Bytes (TCP) or datagrams (UDP) accepted by send/sendto and not yet handed to the module."""
        return bool(self.tx or self.udp_tx)

    def link_ok(self) -> Link | None:
        link = self.link
        if link is None or link.generation != self.generation:
            return None
        return link


def signal(sock: EspSocket) -> None:
    callback = sock.callback
    if callback is not None:
        run_callback(callback)


class SocketJobs:
    """Picks and runs the socket layer's AT work (called by the worker; ``next_job`` under the stack's lock)."""

    def __init__(self, stack: ESPATStack) -> None:
        self.stack = stack
        self.core = stack.core
        self.table = stack.core.table
        self.closing: deque[tuple[Link, int, bool]] = deque()
        self.server_stop_pending = False
        self.server_starts: deque[tuple[EspSocket, int]] = deque()
        self.random = random.Random()

    def clear(self) -> None:
        self.closing.clear()
        self.server_stop_pending = False
        self.server_starts.clear()

    def pick_ephemeral(self) -> int:
        used = {s.bound_port for s in self.stack.sockets}
        while True:
            port = self.random.randrange(49152, 65536)
            if port not in used:
                return port

    def next_job(self) -> Callable[[], None] | None:
        stack = self.stack
        if self.closing:
            closing, generation, server = self.closing.popleft()
            return lambda: self._close(closing, generation, server)
        if self.server_stop_pending:
            self.server_stop_pending = False
            return self._server_stop
        if self.server_starts:
            sock, backlog = self.server_starts.popleft()
            return lambda: self._server_start(sock, backlog)
        if any(link.remote is None for link in self.core.accept_queue):
            return self._peer_lookup
        for sock in stack.draining:
            if sock.link is None and sock.udp_starting:
                continue  # closed with datagrams queued before its link opened: the link opens first
            link = sock.link_ok()
            drain = link.owner if link is not None else None
            if (
                link is None
                or not isinstance(drain, Draining)
                or not sock.queued
                or sock.failed is not None
                or link.peer_closed
                or drain.expired()
            ):
                if isinstance(drain, Draining):
                    return drain.finish
                stack.draining.remove(sock)
                sock.closed = True  # closed by its owner; its link never opened
                return lambda: None
        socks = stack.sockets + stack.draining
        link_free = any(link.state is LinkState.FREE for link in self.core.links)
        link_soon = bool(stack.draining) or any(link.state is LinkState.CLOSING for link in self.core.links)
        for sock in socks:
            if sock.closed or not (link_free or not link_soon):
                continue  # wait for a link that is being closed rather than fail with NO_SOCKET
            if sock.connecting and sock.link is None:
                if sock.tls is not None and any(d.tls is not None for d in stack.draining):
                    continue  # the firmware's SSL links may all be taken until that one has closed
                return lambda s=sock: self._connect(s)  # type: ignore[misc]
            if sock.udp_starting:
                return lambda s=sock: self._udp_start(s)  # type: ignore[misc]
        for sock in socks:
            link = sock.link_ok()
            if link is None or link.detached or link.state is not LinkState.OPEN or sock.failed is not None:
                continue
            if link.module_pending > 0 and (
                (link.proto == "TCP" and len(link.rx) < REFETCH_BELOW)
                or (link.proto == "UDP" and len(link.datagrams) < 8)
            ):
                self._rotate(sock)
                return lambda s=sock, lk=link: self._fetch(s, lk)  # type: ignore[misc]
            if (sock.tx or sock.udp_tx) and not link.peer_closed:
                self._rotate(sock)
                return lambda s=sock, lk=link: self._send(s, lk)  # type: ignore[misc]
        return None

    def _rotate(self, sock: EspSocket) -> None:
        sockets = self.stack.sockets
        if sock in sockets:
            sockets.remove(sock)
            sockets.append(sock)

    def _claim(self, sock: EspSocket, proto: NsapiProtocol) -> Link | None:
        link = self.table.claim(sock, "UDP" if proto == NsapiProtocol.UDP else "TCP")
        if link is not None:
            sock.link = link
            sock.generation = link.generation
        return link

    # -- jobs -----------------------------------------------------------------------------------------------------
    def _connect(self, sock: EspSocket) -> None:
        stack = self.stack
        with stack.lock:
            remote = sock.remote
            if sock.closed or remote is None:
                sock.connecting = False
                return
            link = self._claim(sock, NsapiProtocol.TCP)
            if link is None:
                sock.connecting = False
                sock.connect_error = NsapiError.NO_SOCKET
        if link is None:
            signal(sock)
            return
        ip, port = remote.get_ip_address() or "", remote.get_port()
        if sock.tls is not None:
            refused = self._prepare_ssl(sock, link, ip)
            if refused is not None:
                with stack.lock:
                    sock.connecting = False
                    sock.connect_error = refused
                    self.table.release(link)
                    sock.link = None
                signal(sock)
                return
            start = ssl_link.start(link.id, ip, port, sock.keepalive)
        else:
            start = cmd.tcp_start(link.id, ip, port, sock.keepalive)
        reply = stack.run(start)
        with stack.lock:
            sock.connecting = False
            if reply.ok:
                # connected, even if the peer already hung up (NonOS prints its CLOSED at once): what it sent is
                # still to be read, then the end of the stream
                self.table.opened(link, (ip, port))
                sock.connected = True
            else:
                if reply.outcome in ("PORT", "TIMEOUT"):
                    sock.connect_error = NsapiError.DEVICE_ERROR
                elif b"ALREADY CONNECTED" in reply.lines:
                    # The module gave this id to someone else (a server accept raced us): try another id.
                    self.table.taken_by_module(link)
                    sock.link = None
                    sock.connecting = True
                    stack.kick()
                    return
                else:
                    sock.connect_error = NsapiError.NO_CONNECTION
                self.table.release(link)
                sock.link = None
                if reply.outcome == "TIMEOUT":
                    # the CIPSTART may still complete on the module: close whatever it opened, in the background
                    self.closing.append((link, link.generation, False))
        signal(sock)

    def _prepare_ssl(self, sock: EspSocket, link: Link, ip: str) -> NsapiError | None:
        """Send an SSL link's settings before its AT+CIPSTART; the error that ends the connect, or None."""
        stack = self.stack
        with stack.lock:
            assert sock.tls is not None
            commands = ssl_link.prepare(self.core.dialect, link.id, sock.tls, ip)
        if isinstance(commands, NsapiError):
            return commands
        for command in commands:
            reply = stack.run(command)
            if not reply.ok:
                _log.warning("%r refused: %s %r", command.line, reply.outcome, reply.lines)
                refused = reply.outcome == "ERROR" and not reply.device_error
                return NsapiError.UNSUPPORTED if refused else NsapiError.DEVICE_ERROR
        return None

    def _udp_start(self, sock: EspSocket) -> None:
        stack = self.stack
        with stack.lock:
            sock.udp_starting = False
            if sock.closed or sock.link is not None:
                return
            link = self._claim(sock, NsapiProtocol.UDP)
            if link is None:
                sock.failed = NsapiError.NO_SOCKET
            elif sock in stack.draining:  # closed meanwhile: the link sends the queue, then closes
                stack.draining.remove(sock)
                self.table.set_owner(link, Draining(sock, link, stack))
            if sock.bound_port == 0:
                sock.bound_port = self.pick_ephemeral()
                sock.ephemeral_port = True
            port = sock.bound_port
        if link is None:
            signal(sock)
            return
        for _attempt in range(4):
            reply = stack.run(cmd.udp_start(link.id, port, ipv6=sock.ipv6 is True))
            if reply.ok or reply.outcome != "ERROR" or not sock.ephemeral_port:
                break
            with stack.lock:  # the port we picked is taken on the module's side: pick another
                sock.bound_port = port = self.pick_ephemeral()
        active = self.core.dialect.udp_active_command
        if reply.ok and active is not None and self.core.passive and stack.run(cmd.plain(active % link.id)).ok:
            with stack.lock:
                self.table.active_ids.add(link.id)
        with stack.lock:
            if reply.ok:
                self.table.opened(link)
            else:
                _log.warning("UDP link start on port %d failed: %s %r", port, reply.outcome, reply.lines)
                if reply.device_error or reply.outcome == "TIMEOUT":
                    sock.failed = NsapiError.DEVICE_ERROR
                else:
                    sock.failed = NsapiError.NO_SOCKET if sock.ephemeral_port else NsapiError.ADDRESS_IN_USE
                self.table.release(link)
                sock.link = None
        signal(sock)

    def _send(self, sock: EspSocket, link: Link) -> None:
        """One CIPSEND, or two back to back when more is queued: the second goes out as soon as the first is
        answered, from the reader thread (the core drops it if the first fails, so the stream has no hole)."""
        stack = self.stack
        limit = self.core.dialect.send_limit
        with stack.lock:
            if link.proto == "UDP":
                if not sock.udp_tx:
                    return
                payload, ip, port = sock.udp_tx[0]
                sends = [(cmd.udp_send(link.id, payload, ip, port), len(payload))]
            else:
                chunks = [bytes(sock.tx[:limit]), bytes(sock.tx[limit : 2 * limit])]
                sends = [(cmd.tcp_send(link.id, chunk), len(chunk)) for chunk in chunks if chunk]
                if not sends:
                    return
        exchanges = [(stack.runner.submit(command), size) for command, size in sends]
        for exchange, size in exchanges:
            if not self._sent(sock, link, stack.runner.wait(exchange), size):
                break
        signal(sock)

    def _sent(self, sock: EspSocket, link: Link, reply: Reply, size: int) -> bool:
        """Apply one CIPSEND's reply to the socket's queue; False when the link is no longer good for sending."""
        with self.stack.lock:
            if link.generation != sock.generation:
                return False
            if (reply.outcome in ("SEND OK", "SEND FAIL") and reply.recv_count is not None) or reply.ok:
                if link.proto == "UDP":
                    sock.udp_tx.popleft()
                else:
                    del sock.tx[:size]
                if reply.outcome == "SEND FAIL":
                    # The module took the bytes ('Recv N bytes') but could not send them: never ask the caller to
                    # repeat them; the next call reports the broken link instead.
                    _log.warning("link %d: SEND FAIL after the module took %d bytes", link.id, size)
                    if link.proto == "TCP":
                        sock.failed = NsapiError.CONNECTION_LOST
                    return False
                return True
            if reply.device_error:
                sock.failed = NsapiError.DEVICE_ERROR
            elif reply.outcome == "RESET":
                sock.failed = NsapiError.CONNECTION_LOST
            elif reply.outcome in ("ERROR", "SEND FAIL", "SEND CANCELED", "TIMEOUT"):
                if link.proto == "UDP":
                    sock.udp_tx.popleft()
                    _log.warning("link %d: datagram not sent (%s)", link.id, reply.outcome)
                else:
                    _log.warning("link %d: send failed (%s %r)", link.id, reply.outcome, reply.lines)
                    sock.failed = NsapiError.CONNECTION_LOST
            return False

    def _fetch(self, sock: EspSocket, link: Link) -> None:
        """Read what the module holds (passive mode). TCP asks for as much as there is room for, in two reads back
        to back when the room allows: the second goes out as soon as the first is answered, while the peer keeps
        the module's window full (an empty module answers ERROR, which the core takes as "nothing held")."""
        stack = self.stack
        with stack.lock:
            limit = self.core.parser.max_data
            if link.proto == "UDP":
                sizes = [min(link.module_pending, limit)]  # a bigger read would join more queued datagrams
            else:
                # the module holds at most its window: asking for more would only hold back the second read
                window = min(limit, max(self.core.dialect.passive_window, link.module_pending))
                room = TCP_BUFFER_LIMIT - len(link.rx) if link.module_pending > 0 else 0
                sizes = [min(room, window), min(room - window, window)]
        exchanges = [stack.runner.submit(cmd.fetch(link.id, size)) for size in sizes if size > 0]
        for exchange in exchanges:
            reply = stack.runner.wait(exchange)
            if reply.device_error:
                with stack.lock:
                    sock.failed = NsapiError.DEVICE_ERROR
        if exchanges:
            signal(sock)

    def _close(self, link: Link, generation: int, server_client: bool) -> None:
        self._close_link(link, generation)
        passive = self.core.dialect.link_passive_command
        with self.stack.lock:
            restore = link.id in self.table.active_ids and link.state is LinkState.FREE and passive is not None
            self.table.active_ids.discard(link.id)
        if restore and passive is not None:
            self.stack.run(cmd.plain(passive % link.id))  # the module keeps a link id's receive mode

    def _close_link(self, link: Link, generation: int) -> None:
        stack = self.stack
        with stack.lock:
            if link.detached:
                self.table.release(link)  # the id belongs to a newer connection now
                return
            if link.generation != generation or link.state is LinkState.FREE:
                return
            if link.lost or (link.peer_closed and link.module_pending == 0):
                # The module printed this id's CLOSED and holds nothing for it: the id is free on the module and
                # may already carry a new client (ids are reused at once), which an AT+CIPCLOSE now would close.
                self.table.release(link)
                return
            self.table.closing(link)
        reply = stack.run(cmd.close(link.id))
        with stack.lock:
            if link.generation == generation:
                if reply.outcome == "TIMEOUT" and not reply.silent:
                    _log.warning("AT+CIPCLOSE=%d got no answer", link.id)
                self.table.release(link)
            stack.kick()

    def _server_start(self, sock: EspSocket, backlog: int) -> None:
        stack = self.stack
        stack.run(cmd.server_max_connections(backlog))
        reply = stack.run(cmd.server_start(sock.bound_port))
        with stack.lock:
            sock.listen_starting = False
            if reply.ok and not sock.closed:
                sock.listening = True
            elif reply.ok:  # closed while the server started: stop it again
                self.server_stop_pending = True
                stack.server_stopped()
            else:
                stack.server_stopped()
                refused = reply.outcome == "ERROR" and not reply.device_error
                sock.listen_error = NsapiError.ADDRESS_IN_USE if refused else NsapiError.DEVICE_ERROR
        signal(sock)

    def _server_stop(self) -> None:
        self.stack.run(cmd.SERVER_STOP)

    def _peer_lookup(self) -> None:
        stack = self.stack
        reply = stack.run(cmd.PEER_TABLE)
        found = cmd.peer_table(reply.lines)
        with stack.lock:
            for link in self.core.accept_queue:
                if link.remote is None:
                    # a link the module no longer lists (or whose id it gave away) has closed already; keep it
                    # acceptable with no peer
                    self.table.set_remote(link, ("0.0.0.0", 0) if link.detached else found.get(link.id, ("0.0.0.0", 0)))
            passive = self.core.passive
        if passive:
            self._sync_recvlen()
        with stack.lock:
            listeners = [s for s in stack.sockets if s.listening]
        for sock in listeners:
            signal(sock)

    def _sync_recvlen(self) -> None:
        """Backstop for a lost passive ``+IPD`` notice (ESP-AT 2.1 sent none for data that came with an accepted
        connection, esp-at #294): ask ``AT+CIPRECVLEN?`` what each link holds."""
        reply = self.stack.run(cmd.RECV_LENGTHS)
        if not reply.ok:
            return
        with self.stack.lock:
            for link_id, held in cmd.recv_lengths(reply.lines).items():
                link = self.core.links[link_id]
                if link.state is LinkState.OPEN:
                    self.table.held_by_module(link, held)
            self.stack.kick()


class Draining:
    """Owner of a closed socket's link while its queued bytes are still being sent; then it closes the link."""

    def __init__(self, sock: EspSocket, link: Link, stack: ESPATStack) -> None:
        self.sock = sock
        self.link = link
        self.stack = stack
        sock.closed = False  # the worker keeps sending its queue
        sock.callback = self._drained
        stack.draining.append(sock)
        self._deadline = time.monotonic() + cmd.SEND_TIMEOUT

    def expired(self) -> bool:
        return time.monotonic() >= self._deadline

    def _drained(self) -> None:
        with self.stack.lock:
            sock, link = self.sock, self.link
            if sock.queued and sock.failed is None and not self.expired() and not link.peer_closed:
                return
        self.finish()

    def finish(self) -> None:
        """Hand the link to the close queue (called by the worker or after the last send)."""
        stack = self.stack
        with stack.lock:
            sock, link = self.sock, self.link
            if sock in stack.draining:
                stack.draining.remove(sock)
            sock.closed = True
            if link.generation == sock.generation:
                stack.jobs.closing.append((link, link.generation, False))
            stack.kick()
