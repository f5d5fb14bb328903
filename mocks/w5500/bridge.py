"""The bridge between the chip model's sockets and real host sockets on loopback, plus the LAN's services.

Layer: I/O, but passive: no threads. It implements the chip's `NetworkPort` (non-blocking socket calls only)
and `poll()` moves everything that happened on the host sockets into the chip as events. Whoever owns the chip
calls `poll()` under the same lock as the SPI frames (the emulator does so after every frame and from its pump
thread).

- TCP: CONNECT opens a non-blocking host connection; LISTEN shares one host listener on 127.0.0.1:port among
  all chip sockets listening on that port; a host connection is handed to exactly one of them, or reset when
  none is listening, and the host listener is closed while no chip socket listens (so the kernel does not
  queue connections the chip would refuse). Host data is read only while the chip's RX ring has room (the TCP
  receive window). CLOSE resets the host connection; DISCON sends FIN after the queued data.
- UDP: one host socket per chip socket (bound to 127.0.0.1:Sn_PORT when free, else an ephemeral port). DHCP
  and DNS never leave the process: the LAN's DHCP server and DNS table answer directly; other DNS queries are
  relayed to the configured loopback DNS server and the replies rewritten to come from the router's port 53.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import select
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .chip import W5500Chip
from .dhcp_server import DhcpServer
from .dns_table import DnsTable
from .lan import HOST_MAC, Lan, RouteKind
from .registers import Status

log = logging.getLogger(__name__)
_RECV_CHUNK = 65536
_UDP_BURST = 64


@dataclass(eq=False)
class _TcpLink:
    sock: socket.socket
    connecting: bool = False
    out: bytearray = field(default_factory=bytearray)
    shutdown_wanted: bool = False
    shut_down: bool = False
    peer_fin: bool = False


@dataclass(eq=False)
class _Listener:
    sock: socket.socket | None
    members: list[int] = field(default_factory=list)


@dataclass(eq=False)
class _UdpLink:
    sock: socket.socket


def _abort(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class HostBridge:
    def __init__(self, lan: Lan, dhcp: DhcpServer, dns: DnsTable) -> None:
        self.lan = lan
        self.dhcp = dhcp
        self.dns = dns
        self.chip: W5500Chip | None = None
        self.errors: list[str] = []
        self._tcp: dict[int, _TcpLink] = {}
        self._udp: dict[int, _UdpLink] = {}
        self._listeners: dict[int, _Listener] = {}
        self._nat: dict[tuple[str, int], tuple[bytes, int]] = {}
        self._events: list[Callable[[W5500Chip], None]] = []
        self._router = ipaddress.IPv4Address(lan.config.router).packed

    # ----------------------------------------------------------------- NetworkPort
    def arp(self, next_hop: bytes, destination: bytes) -> bytes | None:
        return self.lan.arp(next_hop, destination)

    def tcp_connect(self, sock: int, dst_ip: bytes, dst_port: int) -> None:
        route = self.lan.route(dst_ip, dst_port, udp=False)
        if route.kind is RouteKind.REFUSE:
            self._events.append(lambda chip: chip.on_tcp_refused(sock))
        if route.kind is not RouteKind.HOST:
            return
        host = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        host.setblocking(False)
        err = host.connect_ex((route.host, route.port))
        if err not in (0, errno.EINPROGRESS):
            host.close()
            self._events.append(lambda chip: chip.on_tcp_refused(sock))
            return
        self._tcp[sock] = _TcpLink(host, connecting=True)

    def tcp_listen(self, sock: int, port: int) -> None:
        host_port = self.lan.host_listen_port(port)
        listener = self._listeners.get(host_port)
        if listener is None:
            listener = _Listener(self._open_listener(host_port))
            self._listeners[host_port] = listener
        listener.members.append(sock)

    def _open_listener(self, port: int) -> socket.socket | None:
        host = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            host.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            host.bind(("127.0.0.1", port))
            host.listen(8)
        except OSError as exc:
            host.close()
            message = f"cannot listen on 127.0.0.1:{port} for the chip: {exc}"
            self.errors.append(message)
            log.warning("W5500 emulator: %s", message)
            return None
        host.setblocking(False)
        return host

    def host_listen_address(self, port: int) -> tuple[str, int] | None:
        """Where the host reaches a chip socket listening on `port`."""
        listener = self._listeners.get(self.lan.host_listen_port(port))
        if listener is None or listener.sock is None:
            return None
        address: tuple[str, int] = listener.sock.getsockname()
        return address

    def tcp_send(self, sock: int, data: bytes) -> None:
        link = self._tcp.get(sock)
        if link is not None:
            link.out += data
            self._flush(sock, link)

    def tcp_shutdown(self, sock: int) -> None:
        link = self._tcp.get(sock)
        if link is not None:
            link.shutdown_wanted = True
            self._flush(sock, link)

    def udp_open(self, sock: int, port: int) -> None:
        host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            host.bind(("127.0.0.1", port))
        except OSError:
            host.bind(("127.0.0.1", 0))
        host.setblocking(False)
        self._udp[sock] = _UdpLink(host)

    def udp_send(self, sock: int, src_port: int, dst_ip: bytes, dst_port: int, data: bytes) -> None:
        link = self._udp.get(sock)
        route = self.lan.route(dst_ip, dst_port, udp=True)
        if route.kind is RouteKind.DHCP:
            reply = self.dhcp.handle(data, self.chip.now if self.chip else 0.0)
            if reply is not None:
                self._events.append(self._dhcp_event(reply.destination, reply.payload))
        elif route.kind is RouteKind.DNS:
            answer = self.dns.answer(data)
            relay = self.lan.config.dns_server
            if answer is None and relay is not None and link is not None:
                self._nat[relay] = (self._router, 53)
                self._sendto(link, data, relay)
                return
            if answer is None:
                answer = self.dns.nxdomain(data)
            if answer is not None and link is not None:
                self._events.append(self._udp_event(sock, link, self._router, 53, answer))
        elif route.kind is RouteKind.HOST and link is not None:
            target = (route.host, route.port)
            if ipaddress.IPv4Address(dst_ip).packed != ipaddress.IPv4Address(route.host).packed:
                self._nat[target] = (dst_ip, dst_port)
            self._sendto(link, data, target)

    def _dhcp_event(self, destination: bytes, payload: bytes) -> Callable[[W5500Chip], None]:
        def deliver(chip: W5500Chip) -> None:
            chip.deliver_udp(destination, 68, self._router, 67, payload)

        return deliver

    def _sendto(self, link: _UdpLink, data: bytes, target: tuple[str, int]) -> None:
        try:
            link.sock.sendto(data, target)
        except OSError as exc:
            log.debug("W5500 emulator: UDP send to %s failed: %s", target, exc)

    def _udp_event(
        self, sock: int, link: _UdpLink, src_ip: bytes, src_port: int, data: bytes
    ) -> Callable[[W5500Chip], None]:
        def deliver(chip: W5500Chip) -> None:
            if self._udp.get(sock) is link:
                chip.on_udp_datagram(sock, src_ip, src_port, data)

        return deliver

    def release(self, sock: int) -> None:
        for port, listener in list(self._listeners.items()):
            if sock in listener.members:
                listener.members.remove(sock)
                if not listener.members:
                    self._close_listener(port)
        link = self._tcp.pop(sock, None)
        if link is not None:
            if link.shut_down:
                link.sock.close()
            else:
                _abort(link.sock)
        udp = self._udp.pop(sock, None)
        if udp is not None:
            udp.sock.close()

    def _close_listener(self, port: int) -> None:
        listener = self._listeners.pop(port)
        if listener.sock is not None:
            listener.sock.close()

    def close(self) -> None:
        for sock in range(8):
            self.release(sock)
        for port in list(self._listeners):
            self._close_listener(port)
        self._events.clear()

    # ----------------------------------------------------------------- polling
    def has_events(self) -> bool:
        return bool(self._events)

    def poll(self) -> None:
        chip = self.chip
        if chip is None:
            return
        self._drain(chip)
        readers: dict[socket.socket, Callable[[], None]] = {}
        writers: dict[socket.socket, Callable[[], None]] = {}
        link_up = chip.link_up
        if link_up:
            for port, listener in self._listeners.items():
                if listener.sock is not None:
                    readers[listener.sock] = self._acceptor(chip, port, listener)
            for n, udp in self._udp.items():
                readers[udp.sock] = self._udp_reader(chip, n, udp)
        for n, link in self._tcp.items():
            if link.connecting or link.out or (link.shutdown_wanted and not link.shut_down):
                writers[link.sock] = self._writer(chip, n, link)
            readable = link_up and not link.connecting and not link.peer_fin and chip.accepts_tcp_data(n)
            if readable and chip.rx_free(n) > 0:
                readers[link.sock] = self._tcp_reader(chip, n, link)
        if not readers and not writers:
            return
        ready_r, ready_w, _ = select.select(list(readers), list(writers), [], 0)
        for s in ready_w:
            writers[s]()
        for s in ready_r:
            readers[s]()
        self._drain(chip)

    def _drain(self, chip: W5500Chip) -> None:
        for _ in range(1000):
            if not self._events:
                return
            events, self._events = self._events, []
            for event in events:
                event(chip)

    def _acceptor(self, chip: W5500Chip, port: int, listener: _Listener) -> Callable[[], None]:
        def accept() -> None:
            if self._listeners.get(port) is not listener or listener.sock is None:
                return  # closed by an earlier event of this poll
            while True:
                try:
                    conn, (peer_host, peer_port) = listener.sock.accept()
                except OSError:
                    break
                waiting = [m for m in listener.members if chip.sockets[m].status == Status.LISTEN]
                if not waiting:
                    _abort(conn)
                    continue
                member = waiting[0]
                listener.members.remove(member)
                conn.setblocking(False)
                self._tcp[member] = _TcpLink(conn)
                chip.on_tcp_accepted(member, ipaddress.IPv4Address(peer_host).packed, peer_port, HOST_MAC)
                if not listener.members:
                    self._close_listener(port)
                    break

        return accept

    def _writer(self, chip: W5500Chip, n: int, link: _TcpLink) -> Callable[[], None]:
        def write() -> None:
            if self._tcp.get(n) is not link:
                return
            if link.connecting:
                err = link.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._tcp.pop(n, None)
                    link.sock.close()
                    chip.on_tcp_refused(n)
                    return
                link.connecting = False
                chip.on_tcp_connected(n)
            self._flush(n, link)

        return write

    def _flush(self, n: int, link: _TcpLink) -> None:
        if link.connecting:
            return
        sent_total = 0
        while link.out:
            try:
                sent = link.sock.send(link.out[:_RECV_CHUNK])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._events.append(self._link_event(n, link, lambda chip: chip.on_tcp_reset(n)))
                link.out.clear()
                return
            del link.out[:sent]
            sent_total += sent
        if sent_total:
            self._events.append(self._link_event(n, link, lambda chip: chip.on_tcp_sent(n, sent_total)))
        if not link.out and link.shutdown_wanted and not link.shut_down:
            with contextlib.suppress(OSError):
                link.sock.shutdown(socket.SHUT_WR)
            link.shut_down = True
            self._events.append(self._link_event(n, link, lambda chip: chip.on_tcp_closed(n)))

    def _link_event(self, n: int, link: _TcpLink, event: Callable[[W5500Chip], None]) -> Callable[[W5500Chip], None]:
        def guarded(chip: W5500Chip) -> None:
            if self._tcp.get(n) is link:
                event(chip)

        return guarded

    def _tcp_reader(self, chip: W5500Chip, n: int, link: _TcpLink) -> Callable[[], None]:
        def read() -> None:
            if self._tcp.get(n) is not link:
                return
            try:
                data = link.sock.recv(min(chip.rx_free(n), _RECV_CHUNK))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chip.on_tcp_reset(n)
                return
            if data:
                chip.on_tcp_data(n, data)
            else:
                link.peer_fin = True
                chip.on_tcp_peer_fin(n)

        return read

    def _udp_reader(self, chip: W5500Chip, n: int, link: _UdpLink) -> Callable[[], None]:
        def read() -> None:
            for _ in range(_UDP_BURST):
                if self._udp.get(n) is not link:
                    return
                try:
                    data, (host, port) = link.sock.recvfrom(_RECV_CHUNK)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    continue
                src_ip, src_port = self._nat.get((host, port), (ipaddress.IPv4Address(host).packed, port))
                chip.on_udp_datagram(n, src_ip, src_port, data)

        return read
