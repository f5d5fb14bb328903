"""netsocket's own resolver (Mbed's ``nsapi_dns``), for stacks without one: queries over the stack's UDP sockets.

Layer: API on top of the socket layer. Encoding and checking of DNS messages are in ``netsocket.dns_wire``
(sans-IO, dnspython), the cache in ``netsocket.dns_cache``; this module owns the servers, the attempt plan, the
blocking and the asynchronous query machinery.

Behaviour (Mbed's, except where marked *netsocket*):

- Names are checked first: empty, over 255 characters or with control characters give ``PARAMETER``. A literal
  IPv4/IPv6 address never touches the network: OK, or ``DNS_FAILURE`` if ``version`` asks for the other family.
- *netsocket*: there are no built-in public servers. With none added, a query returns ``NO_ADDRESS`` at once,
  without network traffic (async: returned, the callback is not called).
- *netsocket*: a server added with port 0 is asked on port 53; any other port is used as given.
- Attempts: each server in turn gets ``1 + retries`` sends, cycling through the servers, ``total_attempts`` sends
  at most; each send waits ``response_wait_ms`` for an answer. Replies are checked (transaction id, question echo,
  sender = the server asked); anything else, malformed bytes included, is ignored and the wait goes on.
- *netsocket*: an answer with the TC bit (truncated) is not used: the question goes to the same server again over
  TCP through the stack (RFC 1035 §4.2.2 framing, within ``response_wait_ms`` for the whole exchange); if that
  fails too, the result is ``DNS_FAILURE`` (the server answered, so it is not a ``TIMEOUT``).
- An answer with an rcode other than NOERROR is final: ``DNS_FAILURE``. An answer with no address is
  ``DNS_FAILURE`` (``UNSPEC`` asks for A first, then AAAA when A had no address).
- *netsocket*: when every server stayed silent, the blocking call returns ``TIMEOUT`` (the asynchronous callback
  gets ``TIMEOUT`` too, as in Mbed), so "nobody answered" is never confused with "the name does not exist".
- Answers are cached by name and version with their TTL (the smallest along a CNAME chain); TTL 0 is not
  cached; the least recently used entry goes when the cache is full.
- ``gethostbyname_async``: at most ``max_async_queries`` (5) at once, the next gets ``NO_MEMORY``; ids run from
  1 to 0x7FFF and wrap to 1. A literal or a cache hit calls the callback before returning and returns 0. Queries
  run one at a time on a worker thread (as Mbed's), each on its own UDP socket, which is closed as soon as the
  query ends. Each query also has Mbed's overall deadline (``total_attempts * wait + 500 ms``, plus 500 ms per
  other query in flight), after which its callback gets ``TIMEOUT``. Callbacks run through the stack's
  ``call_in`` (netsocket's shared event queue unless a driver or ``set_call_in`` says otherwise), in callback
  context: they must not block. A cancelled query's callback never runs.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.deadline import Deadline
from netsocket.dns_cache import Clock, DnsCache
from netsocket.dns_wire import (
    MAX_RESPONSE_SIZE,
    TCP_LENGTH_SIZE,
    DnsQuestion,
    DnsResult,
    make_question,
    parse_response,
    tcp_frame,
)
from netsocket.errors import NsapiError
from netsocket.event_queue import shared_event_queue
from netsocket.types import NsapiVersion

if TYPE_CHECKING:
    from netsocket.socket import TCPSocket, UDPSocket
    from netsocket.stack import HostbynameCallback, NetworkStack

_log = logging.getLogger(__name__)

DNS_PORT = 53
MAX_QUERY_ID = 0x7FFF

CallIn = Callable[[int, Callable[[], None]], object]
"""``call_in(delay_ms, fn)``: run ``fn`` later on some event thread (Mbed's ``call_in_callback_cb_t``)."""


@dataclass(frozen=True)
class DnsConfig:
    """The resolver's settings; the defaults are Mbed's ``nsapi.dns-*`` configuration."""

    response_wait_ms: int = 10000
    """How long one send waits for an answer (``nsapi.dns-response-wait-time``)."""
    total_attempts: int = 10
    """Sends per question at most, over all servers (``nsapi.dns-total-attempts``)."""
    retries: int = 1
    """Extra sends to a server before moving to the next one (``nsapi.dns-retries``)."""
    cache_size: int = 3
    """Cached answers (``nsapi.dns-cache-size``); 0 turns the cache off."""
    max_servers: int = 5
    """Servers kept; adding one more drops the oldest (Mbed's ``DNS_SERVERS_SIZE``)."""
    max_async_queries: int = 5
    """Asynchronous queries in flight at once (Mbed's ``DNS_QUERY_QUEUE_SIZE``)."""

    def __post_init__(self) -> None:
        if self.response_wait_ms <= 0 or self.total_attempts <= 0:
            raise ValueError("response_wait_ms and total_attempts must be > 0")
        if self.retries < 0 or self.cache_size < 0:
            raise ValueError("retries and cache_size must be >= 0")
        if self.max_servers <= 0 or self.max_async_queries <= 0:
            raise ValueError("max_servers and max_async_queries must be > 0")


def _check_host(host: object) -> NsapiError:
    from netsocket.interface import check_hostname

    return check_hostname(host)


class _Exchange:
    """The UDP sockets of one resolution (one per IP version of the servers asked). ``abort()`` from another
    thread closes them, which wakes a blocked receive at once."""

    def __init__(self, stack: NetworkStack) -> None:
        self._stack = stack
        self._lock = threading.Lock()
        self._sockets: dict[NsapiVersion, UDPSocket] = {}
        self._streams: list[TCPSocket] = []
        self._aborted = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    def socket_for(self, version: NsapiVersion) -> UDPSocket | NsapiError:
        from netsocket.socket import UDPSocket

        with self._lock:
            if self._aborted:
                return NsapiError.NO_SOCKET
            existing = self._sockets.get(version)
        if existing is not None:
            return existing
        sock = UDPSocket()
        err = sock.open(self._stack)
        if err != NsapiError.OK:
            return err
        with self._lock:
            if not self._aborted:
                self._sockets[version] = sock
                return sock
        sock.close()
        return NsapiError.NO_SOCKET

    def stream(self) -> TCPSocket | NsapiError:
        """A TCP socket for a retry over TCP; ``abort()`` closes it too. The caller closes it when done."""
        from netsocket.socket import TCPSocket

        sock = TCPSocket()
        err = sock.open(self._stack)
        if err != NsapiError.OK:
            return err
        with self._lock:
            if not self._aborted:
                self._streams.append(sock)
                return sock
        sock.close()
        return NsapiError.NO_SOCKET

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            sockets: list[UDPSocket | TCPSocket] = [*self._sockets.values(), *self._streams]
            self._sockets.clear()
            self._streams.clear()
        for sock in sockets:
            sock.close()


def _recv_exactly(sock: TCPSocket, size: int) -> bytes | None:
    """``size`` bytes from a stream, or None if it ends, fails or times out first."""
    out = bytearray()
    buffer = bytearray(min(max(size, 1), 4096))
    while len(out) < size:
        count = sock.recv(memoryview(buffer)[: size - len(out)])
        if count <= 0:
            return None
        out += buffer[:count]
    return bytes(out)


class _State(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DELIVERING = "delivering"
    DONE = "done"
    CANCELLED = "cancelled"


_LIVE = (_State.QUEUED, _State.RUNNING, _State.DELIVERING)


@dataclass(eq=False)
class _AsyncQuery:
    query_id: int
    host: str
    version: NsapiVersion
    callback: HostbynameCallback
    state: _State = _State.QUEUED
    exchange: _Exchange | None = None
    timer: int | None = None


class DnsResolver:
    """Resolves names over a stack's own UDP sockets (see the module docstring for the rules)."""

    def __init__(self, stack: NetworkStack, config: DnsConfig | None = None, *, clock: Clock | None = None) -> None:
        self._stack = stack
        self._config = config if config is not None else DnsConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._servers: list[SocketAddress] = []
        self._cache = self._new_cache()
        self._queries: dict[int, _AsyncQuery] = {}
        self._queue: deque[_AsyncQuery] = deque()
        self._worker: threading.Thread | None = None
        self._next_id = 1
        self._call_in: CallIn | None = None
        self._random = random.SystemRandom()

    # -- configuration --------------------------------------------------------------------------------------------
    def _new_cache(self) -> DnsCache:
        if self._clock is None:
            return DnsCache(self._config.cache_size)
        return DnsCache(self._config.cache_size, self._clock)

    @property
    def config(self) -> DnsConfig:
        return self._config

    def set_config(self, config: DnsConfig) -> None:
        """Use new settings from the next query on (the cache starts empty)."""
        if not isinstance(config, DnsConfig):
            raise TypeError("set_config takes a DnsConfig")
        with self._lock:
            self._config = config
            self._cache = self._new_cache()
            del self._servers[config.max_servers :]

    def set_call_in(self, call_in: CallIn | None) -> None:
        """Run asynchronous callbacks through ``call_in(delay_ms, fn)`` instead of the stack's (Mbed's
        ``nsapi_dns_call_in_set``); None goes back to the stack's."""
        if call_in is not None and not callable(call_in):
            raise TypeError("set_call_in takes a callable or None")
        self._call_in = call_in

    def reset(self) -> None:
        """Forget cached answers and restart query ids at 1 (Mbed's ``nsapi_dns_reset``); servers stay."""
        with self._lock:
            self._cache.clear()
            self._next_id = 1

    # -- servers --------------------------------------------------------------------------------------------------
    @property
    def has_servers(self) -> bool:
        with self._lock:
            return bool(self._servers)

    def add_server(self, address: SocketAddress) -> NsapiError:
        """Put a server first in the list: OK (a duplicate is a no-op), PARAMETER for an unspecified address.
        Port 0 means 53. The list keeps ``max_servers`` entries; the oldest goes."""
        if not isinstance(address, SocketAddress):
            raise TypeError(f"add_server takes a SocketAddress, not {type(address).__name__}")
        if not address:
            return NsapiError.PARAMETER
        server = SocketAddress(address)
        with self._lock:
            if server in self._servers:
                return NsapiError.OK
            self._servers.insert(0, server)
            del self._servers[self._config.max_servers :]
        return NsapiError.OK

    def get_server(self, index: int, address: SocketAddress) -> NsapiError:
        """Fill ``address`` with server ``index`` (0 is the most recently added): OK, or NO_ADDRESS."""
        with self._lock:
            if isinstance(index, int) and 0 <= index < len(self._servers):
                address.assign(self._servers[index])
                return NsapiError.OK
        return NsapiError.NO_ADDRESS

    def clear_servers(self) -> None:
        with self._lock:
            self._servers.clear()

    # -- blocking query -------------------------------------------------------------------------------------------
    def gethostbyname(self, host: str, address: SocketAddress, version: NsapiVersion) -> NsapiError:
        """Resolve ``host`` into ``address`` (its port is kept): OK, PARAMETER, NO_ADDRESS (no server),
        DNS_FAILURE (no such name, or no address of that version), TIMEOUT (no server answered), or a socket error
        such as NO_SOCKET."""
        version = NsapiVersion(version)
        early = self._early(host, version)
        if isinstance(early, NsapiError):
            return early
        if early is not None:
            address.assign(SocketAddress(early, address.get_port()))
            return NsapiError.OK
        with self._lock:
            servers = list(self._servers)
        exchange = _Exchange(self._stack)
        try:
            err, found = self._resolve(host, version, servers, exchange)
        finally:
            exchange.abort()
        if found is not None:
            address.assign(SocketAddress(found, address.get_port()))
        return err

    def _early(self, host: str, version: NsapiVersion) -> SocketAddress | NsapiError | None:
        """What can be answered without the network: an error, a literal or cached address, or None."""
        err = _check_host(host)
        if err != NsapiError.OK:
            return err
        literal = SocketAddress(host)
        if literal.get_ip_version() != NsapiVersion.UNSPEC:
            if version not in (NsapiVersion.UNSPEC, literal.get_ip_version()):
                return NsapiError.DNS_FAILURE
            return literal
        with self._lock:
            if not self._servers:
                return NsapiError.NO_ADDRESS
            cache = self._cache
        cached = cache.get(host, version)
        if cached is not None:
            found = SocketAddress()
            found.set_ip_bytes(cached[1], cached[0])
            return found
        return None

    def _resolve(
        self, host: str, version: NsapiVersion, servers: list[SocketAddress], exchange: _Exchange
    ) -> tuple[NsapiError, SocketAddress | None]:
        versions = [version] if version != NsapiVersion.UNSPEC else [NsapiVersion.IPv4, NsapiVersion.IPv6]
        for wanted in versions:
            outcome = self._ask(host, wanted, servers, exchange)
            if isinstance(outcome, NsapiError):
                return outcome, None
            if outcome is not None:
                found = SocketAddress()
                found.set_ip_bytes(outcome, wanted)
                return NsapiError.OK, found
        return NsapiError.DNS_FAILURE, None

    def _attempt_plan(self, servers: list[SocketAddress]) -> list[SocketAddress]:
        config = self._config
        plan: list[SocketAddress] = []
        while servers and len(plan) < config.total_attempts:
            for server in servers:
                plan.extend([server] * (1 + config.retries))
        return plan[: config.total_attempts]

    def _ask(
        self, host: str, version: NsapiVersion, servers: list[SocketAddress], exchange: _Exchange
    ) -> bytes | NsapiError | None:
        """One question to the servers: the first address, None (answered, no address), or an error."""
        question = make_question(host, version, self._random.randrange(0x10000))
        if question is None:
            return NsapiError.DNS_FAILURE
        wire = question.to_wire()
        config = self._config
        buffer = bytearray(MAX_RESPONSE_SIZE)
        for server in self._attempt_plan(servers):
            target = SocketAddress(server, server.get_port() or DNS_PORT)
            sock = exchange.socket_for(target.get_ip_version())
            if isinstance(sock, NsapiError):
                return sock
            if sock.sendto(target, wire) < 0:
                if exchange.aborted:
                    return NsapiError.NO_SOCKET
                continue  # this server is unreachable from here (other family...): the next one
            deadline = Deadline(config.response_wait_ms)
            while not deadline.expired():
                remaining = deadline.remaining()
                sock.set_timeout(max(1, int((remaining or 0.0) * 1000)))
                sender = SocketAddress()
                size = sock.recvfrom(sender, buffer)
                if size < 0:
                    if exchange.aborted or size == NsapiError.NO_SOCKET:
                        return NsapiError.NO_SOCKET
                    break  # timed out (or a receive error): next attempt
                if sender != target:
                    continue
                result = parse_response(bytes(buffer[:size]), question)
                if result is None:
                    continue
                if result.truncated:
                    retried = self._ask_over_tcp(target, question, wire, exchange)
                    if isinstance(retried, NsapiError):
                        return retried
                    result = retried
                if result.rcode != 0:
                    return NsapiError.DNS_FAILURE
                if not result.addresses:
                    return None
                with self._lock:
                    cache = self._cache
                cache.put(host, version, result.addresses[0], result.ttl)
                return result.addresses[0]
        return NsapiError.TIMEOUT

    def _ask_over_tcp(
        self, server: SocketAddress, question: DnsQuestion, wire: bytes, exchange: _Exchange
    ) -> DnsResult | NsapiError:
        """The question again over TCP to ``server`` (after a truncated answer): its answer, or DNS_FAILURE
        (NO_SOCKET if the resolution was aborted)."""
        sock = exchange.stream()
        if isinstance(sock, NsapiError):
            return NsapiError.NO_SOCKET if exchange.aborted else NsapiError.DNS_FAILURE
        try:
            sock.set_timeout(self._config.response_wait_ms)
            with sock._shared_deadline():  # one deadline for connect, send and every piece of the answer
                if sock.connect(server) != NsapiError.OK:
                    return NsapiError.DNS_FAILURE
                if sock.send(tcp_frame(wire)) != len(wire) + TCP_LENGTH_SIZE:
                    return NsapiError.DNS_FAILURE
                header = _recv_exactly(sock, TCP_LENGTH_SIZE)
                body = _recv_exactly(sock, int.from_bytes(header, "big")) if header is not None else None
        finally:
            sock.close()
        if exchange.aborted:
            return NsapiError.NO_SOCKET
        result = parse_response(body, question) if body else None
        if result is None or result.truncated:
            _log.info("DNS: no usable answer over TCP from %s", server)
            return NsapiError.DNS_FAILURE
        return result

    # -- asynchronous queries -------------------------------------------------------------------------------------
    def gethostbyname_async(self, host: str, callback: HostbynameCallback, version: NsapiVersion) -> int:
        """Start resolving ``host``: 0 when answered at once (the callback has run), an id > 0, or an error
        (PARAMETER, NO_ADDRESS, DNS_FAILURE for a literal of the other version, NO_MEMORY when 5 are in flight).
        The callback gets ``(1, address)`` or ``(error, None)``."""
        if not callable(callback):
            raise TypeError("gethostbyname_async takes a callable")
        version = NsapiVersion(version)
        early = self._early(host, version)
        if isinstance(early, NsapiError):
            return early
        if early is not None:
            run_callback(callback, 1, early)
            return NsapiError.OK
        with self._lock:
            config = self._config
            others = len(self._queries)
            if others >= config.max_async_queries:
                return NsapiError.NO_MEMORY
            query = _AsyncQuery(self._take_id(), host, version, callback)
            self._queries[query.query_id] = query
            self._queue.append(query)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="netsocket-dns", daemon=True)
                self._worker.start()
        limit_ms = config.total_attempts * config.response_wait_ms + 500 + 500 * others
        timer = shared_event_queue().call_in(limit_ms, lambda: self._finish(query, NsapiError.TIMEOUT, None))
        with self._lock:
            query.timer = timer
        return query.query_id

    def _take_id(self) -> int:
        while True:
            query_id = self._next_id
            self._next_id = self._next_id % MAX_QUERY_ID + 1
            if query_id not in self._queries:
                return query_id

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        """Cancel a query: OK (its callback will not run), or PARAMETER for an unknown or finished id."""
        with self._lock:
            query = self._queries.get(query_id)
            if query is None or query.state not in _LIVE:
                return NsapiError.PARAMETER
            query.state = _State.CANCELLED
            del self._queries[query_id]
            exchange, timer = query.exchange, query.timer
        if timer is not None:
            shared_event_queue().cancel(timer)
        if exchange is not None:
            exchange.abort()
        return NsapiError.OK

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._queue and self._queue[0].state != _State.QUEUED:
                    self._queue.popleft()
                if not self._queue:
                    self._worker = None
                    return
                query = self._queue.popleft()
                query.state = _State.RUNNING
                query.exchange = exchange = _Exchange(self._stack)
                servers = list(self._servers)
            err, found = NsapiError.DEVICE_ERROR, None
            try:
                err, found = self._resolve(query.host, query.version, servers, exchange)
            except Exception:
                _log.exception("DNS query for %r failed", query.host)
            finally:
                exchange.abort()
            self._finish(query, err, found)

    def _finish(self, query: _AsyncQuery, err: NsapiError, found: SocketAddress | None) -> None:
        """End a query once (by its result or its deadline) and hand its callback to the event thread."""
        with self._lock:
            if query.state not in (_State.QUEUED, _State.RUNNING):
                return
            query.state = _State.DELIVERING
            exchange, timer = query.exchange, query.timer
        if timer is not None:
            shared_event_queue().cancel(timer)
        if exchange is not None:
            exchange.abort()
        if err == NsapiError.OK and found is None:
            err = NsapiError.DNS_FAILURE
        result: int = 1 if err == NsapiError.OK else err

        def deliver() -> None:
            with self._lock:
                if query.state != _State.DELIVERING:
                    return
                query.state = _State.DONE
                self._queries.pop(query.query_id, None)
            run_callback(query.callback, result, found if result == 1 else None)

        call_in = self._call_in if self._call_in is not None else self._stack.call_in
        try:
            call_in(0, deliver)
        except Exception:
            _log.exception("call_in failed; delivering the DNS result on this thread")
            deliver()

    def in_flight(self) -> int:
        """Asynchronous queries not finished yet (their callbacks not run)."""
        with self._lock:
            return len(self._queries)

    def close(self, timeout: float = 5.0) -> bool:
        """Cancel every asynchronous query and wait for the worker thread to end: True once it has."""
        with self._lock:
            ids = list(self._queries)
            worker = self._worker
        for query_id in ids:
            self.gethostbyname_async_cancel(query_id)
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
            return not worker.is_alive()
        return worker is None
