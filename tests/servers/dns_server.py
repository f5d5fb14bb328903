"""A small authoritative DNS server on 127.0.0.1 for tests (dnspython), with fault knobs.

``LoopbackDnsServer(zone)`` serves a table ``{name: [ip, ...]}`` (IPv4 literals answer A questions, IPv6 literals
AAAA; ``{name: "cname:target"}`` makes a CNAME). A name that is not in the table is NXDOMAIN; a name with no record
of the asked type gets an empty NOERROR answer. It binds 127.0.0.1 on a free port (``.address``, ``.port``), runs
one thread with a selector (no polling), and counts every query it receives (``.queries``).

Knobs (``server.behaviour``, changeable while running):
``ttl``, ``delay`` (seconds before each reply), ``drop`` (ignore the next N queries; -1 all), ``servfail``,
``refuse``, ``malformed_first`` / ``wrong_id_first`` / ``wrong_question_first`` / ``foreign_source_first`` (send a
decoy before the real reply: garbage, another transaction id, another question, or the right reply from another
port), ``reply_override`` (``fn(query_bytes) -> bytes | None`` replacing the reply, for fuzzing),
``truncate_udp`` (every UDP reply has the TC bit and a wrong address in place of the answer, so a resolver that
uses a truncated reply is caught), ``serve_tcp`` (answer DNS over TCP on the same port, RFC 1035 §4.2.2 framing;
on by default). ``.tcp_queries`` counts the queries that came over TCP.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = Mapping[str, "Sequence[str] | str"]


@dataclass
class Behaviour:
    ttl: int = 300
    delay: float = 0.0
    drop: int = 0
    servfail: bool = False
    refuse: bool = False
    malformed_first: bool = False
    wrong_id_first: bool = False
    wrong_question_first: bool = False
    foreign_source_first: bool = False
    reply_override: Callable[[bytes], bytes | None] | None = None
    truncate_udp: bool = False
    serve_tcp: bool = True


@dataclass(frozen=True)
class Query:
    name: str
    rdtype: str
    sender: tuple[str, int]


@dataclass(order=True)
class _Outgoing:
    due: float
    seq: int
    data: bytes = field(compare=False)
    dest: tuple[str, int] = field(compare=False)
    foreign: bool = field(compare=False, default=False)


class LoopbackDnsServer:
    """A DNS server on 127.0.0.1:<free port>; use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, zone: Zone | None = None, behaviour: Behaviour | None = None) -> None:
        self.zone: dict[str, Sequence[str] | str] = {}
        for name, value in (zone or {}).items():
            self.set_records(name, value)
        self.behaviour = behaviour if behaviour is not None else Behaviour()
        self._lock = threading.Lock()
        self._queries: list[Query] = []
        self._query_event = threading.Condition(self._lock)
        self._sock, self._tcp = _udp_and_tcp_on_one_port()
        self.tcp_queries = 0
        self._foreign = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._foreign.bind(("127.0.0.1", 0))
        self._wake_r, self._wake_w = socket.socketpair()
        self._outgoing: list[_Outgoing] = []
        self._seq = itertools.count()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="test-dns-server", daemon=True)

    # -- control --------------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def set_records(self, name: str, value: Sequence[str] | str) -> None:
        self.zone[name.rstrip(".").lower()] = value if isinstance(value, str) else list(value)

    @property
    def queries(self) -> list[Query]:
        with self._lock:
            return list(self._queries)

    def query_count(self, name: str | None = None) -> int:
        with self._lock:
            return sum(1 for q in self._queries if name is None or q.name == name.rstrip(".").lower())

    def wait_for_queries(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` queries have arrived."""
        with self._query_event:
            return self._query_event.wait_for(lambda: len(self._queries) >= count, timeout)

    def start(self) -> LoopbackDnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread.is_alive():
            self._thread.join(5.0)
        for sock in (self._sock, self._tcp, self._foreign, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> LoopbackDnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the server loop ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._tcp, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop:
                timeout = None
                if self._outgoing:
                    timeout = max(0.0, self._outgoing[0].due - time.monotonic())
                for key, _ in selector.select(timeout):
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    elif key.fileobj is self._tcp:
                        self._accept_tcp()
                    else:
                        self._receive()
                now = time.monotonic()
                while self._outgoing and self._outgoing[0].due <= now:
                    item = heapq.heappop(self._outgoing)
                    with contextlib.suppress(OSError):
                        (self._foreign if item.foreign else self._sock).sendto(item.data, item.dest)

    def _receive(self) -> None:
        try:
            data, sender = self._sock.recvfrom(4096)
        except OSError:
            return
        try:
            query = dns.message.from_wire(data)
            question = query.question[0]
        except Exception:
            return
        name = question.name.to_text(omit_final_dot=True).lower()
        with self._lock:
            self._queries.append(Query(name, dns.rdatatype.to_text(question.rdtype), sender))
            self._query_event.notify_all()
        b = self.behaviour
        if b.drop:
            if b.drop > 0:
                b.drop -= 1
            return
        for decoy in self._decoys(query, b):
            self._send(decoy, sender, b.delay)
        if b.foreign_source_first:
            self._send(self._answer(query, b).to_wire(), sender, b.delay, foreign=True)
        if b.reply_override is not None:
            reply = b.reply_override(data)
            if reply is not None:
                self._send(reply, sender, b.delay)
            return
        answer = self._answer(query, b)
        if b.truncate_udp:
            answer.flags |= dns.flags.TC
            answer.answer = []
            if query.question[0].rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                answer.answer.append(
                    dns.rrset.from_text(query.question[0].name, b.ttl, "IN", query.question[0].rdtype, _decoy_ip(query))
                )
        self._send(answer.to_wire(), sender, b.delay)

    def _accept_tcp(self) -> None:
        """One DNS-over-TCP client: read one framed query, answer it in full, close (on a short-lived thread, so a
        slow client never holds up the UDP side)."""
        try:
            conn, _ = self._tcp.accept()
        except OSError:
            return
        if not self.behaviour.serve_tcp:
            conn.close()
            return
        threading.Thread(target=self._serve_tcp, args=(conn,), name="test-dns-tcp", daemon=True).start()

    def _serve_tcp(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError, EOFError, dns.exception.DNSException):
            conn.settimeout(5.0)
            header = _read(conn, 2)
            query = dns.message.from_wire(_read(conn, int.from_bytes(header, "big")))
            with self._lock:
                self.tcp_queries += 1
            reply = self._answer(query, self.behaviour).to_wire()
            conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def _send(self, data: bytes, dest: tuple[str, int], delay: float, foreign: bool = False) -> None:
        heapq.heappush(self._outgoing, _Outgoing(time.monotonic() + delay, next(self._seq), data, dest, foreign))

    def _decoys(self, query: dns.message.Message, b: Behaviour) -> list[bytes]:
        decoys = []
        if b.malformed_first:
            decoys.append(query.id.to_bytes(2, "big") + b"\x81\x80\x00\x01\x00\x01garbage")
        if b.wrong_id_first:
            wrong = self._answer(query, b)
            wrong.id = (query.id + 1) & 0xFFFF
            decoys.append(wrong.to_wire())
        if b.wrong_question_first:
            other = dns.message.make_query("decoy.invalid", query.question[0].rdtype, id=query.id)
            reply = dns.message.make_response(other)
            reply.answer.append(
                dns.rrset.from_text("decoy.invalid.", b.ttl, "IN", query.question[0].rdtype, _decoy_ip(query))
            )
            decoys.append(reply.to_wire())
        return decoys

    def _answer(self, query: dns.message.Message, b: Behaviour) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        if b.servfail or b.refuse:
            reply.set_rcode(dns.rcode.SERVFAIL if b.servfail else dns.rcode.REFUSED)
            return reply
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        seen: set[str] = set()
        owner = question.name
        while True:
            value = self.zone.get(name)
            if value is None:
                if not seen:
                    reply.set_rcode(dns.rcode.NXDOMAIN)
                return reply
            if isinstance(value, str) and value.startswith("cname:") and name not in seen:
                seen.add(name)
                target = dns.name.from_text(value[len("cname:") :])
                reply.answer.append(dns.rrset.from_text(owner, b.ttl, "IN", "CNAME", target.to_text()))
                owner, name = target, target.to_text(omit_final_dot=True).lower()
                continue
            break
        if isinstance(value, str):
            return reply
        wanted = 4 if question.rdtype == dns.rdatatype.A else 6 if question.rdtype == dns.rdatatype.AAAA else 0
        ips = [ip for ip in value if ipaddress.ip_address(ip).version == wanted]
        if ips:
            reply.answer.append(dns.rrset.from_text_list(owner, b.ttl, dns.rdataclass.IN, question.rdtype, ips))
        return reply


def _udp_and_tcp_on_one_port(attempts: int = 20) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same free port of 127.0.0.1 (DNS serves both on one port)."""
    for _ in range(attempts):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        try:
            tcp = socket.create_server(("127.0.0.1", udp.getsockname()[1]))
        except OSError:  # the port is free for UDP but taken for TCP: try another
            udp.close()
            continue
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise OSError("no port of 127.0.0.1 is free for both UDP and TCP")


def _read(conn: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("the client closed early")
        data += chunk
    return bytes(data)


def _decoy_ip(query: dns.message.Message) -> str:
    return "192.0.2.66" if query.question[0].rdtype == dns.rdatatype.A else "2001:db8::66"
