"""A DHCPv4 client for stacks that have none of their own (the W5500, any raw IP stack with UDP sockets).

Two layers:
- ``DhcpMachine`` (sans-IO): the RFC 2131 client states INIT (or INIT-REBOOT with a lease still valid) ->
  SELECTING -> REQUESTING -> PROBING -> BOUND -> RENEWING -> REBINDING, message building and strict parsing. Bytes
  and the current time go in; ``Send``, ``Probe``, ``Bound`` and ``Lost`` events come out, and ``next_deadline()``
  says when to call ``poll`` again. Malformed or foreign replies (short, wrong op/xid/chaddr, no magic cookie,
  truncated options, no message type) are ignored.
- Replies are untrusted: an OFFER or ACK is ignored (and logged) unless its values are sane: the address is not
  0/8, loopback, multicast, reserved (240/4) or a broadcast address; the netmask is contiguous; a router is a
  unicast address on the offered subnet other than the offered address; the lease lasts at least ``min_lease``
  seconds (default 10). DNS servers that are not unicast addresses are dropped, and at most ``MAX_DNS_SERVERS``
  are kept. An ACK or NAK must carry the server identifier of the server asked (REQUESTING: the selected offer's;
  RENEWING: the lease's); an ACK while RENEWING or REBINDING must be for the address held.
- Conflict check (RFC 2131 §4.4.1, RFC 5227's idea): after an ACK the machine emits ``Probe(ip)``; the runner asks
  the stack ``probe_address`` (the W5500 sends a datagram to the address with its own IP still unset, so its ARP
  request is a probe: an ARP answer means the address is taken; a stack that cannot tell says so and the lease is
  taken as free). A taken address is declined (DHCPDECLINE) and the client starts over after 10 seconds.
- INIT-REBOOT: started with a lease that has not expired (the link came back, ``connect`` again), the client asks
  for that address (REQUEST, no server identifier, broadcast); an ACK keeps it, a NAK or silence starts over.
- ``DhcpClient``: a thread that runs the machine over a ``netsocket.UDPSocket`` bound to port 68 on a
  ``NetworkStack``. The socket is open only while a transaction is under way (not while BOUND), so the lease costs
  no socket most of the time. ``on_bound(lease)`` and ``on_lost()`` run on that thread.

Timers: retransmission with exponential backoff (``initial_backoff`` doubling to 64 s, +-1 s jitter when the
backoff is at least 4 s); renewal at T1 by unicast to the server, rebinding at T2 by broadcast, lease loss at
expiry (reported, then back to INIT). T1/T2 default to 1/2 and 7/8 of the lease.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from netsocket.address import SocketAddress
from netsocket.deadline import interruptible
from netsocket.errors import NsapiError

if TYPE_CHECKING:
    from netsocket.stack import NetworkStack

_log = logging.getLogger(__name__)

CLIENT_PORT = 68
SERVER_PORT = 67
MAGIC_COOKIE = b"\x63\x82\x53\x63"
BOOTP_FIXED_SIZE = 236
MAX_MESSAGE_SIZE = 576
BROADCAST = b"\xff\xff\xff\xff"
ZERO = bytes(4)

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE = 1, 2, 3, 4, 5, 6, 7
OPT_PAD, OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME = 0, 1, 3, 6, 12
OPT_REQUESTED_IP, OPT_LEASE_TIME, OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PARAMS = 50, 51, 53, 54, 55
OPT_MAX_SIZE, OPT_T1, OPT_T2, OPT_CLIENT_ID, OPT_END = 57, 58, 59, 61, 255

DEFAULT_LEASE_S = 3600
MAX_BACKOFF_S = 64.0
REQUEST_ATTEMPTS = 4
MIN_RENEW_RETRY_S = 0.5
MIN_LEASE_S = 10.0
"""Leases shorter than this are not taken (a server granting 1 s would have the client renewing all the time)."""
MAX_DNS_SERVERS = 4
"""DNS servers kept from one lease; the rest of a long list is ignored."""
DECLINE_WAIT_S = 10.0
"""RFC 2131 §3.1.5: after a DHCPDECLINE the client waits at least ten seconds before starting over."""
PROBE_TIMEOUT_S = 0.5
"""How long the conflict check waits for someone to answer for the offered address."""


class State(Enum):
    INIT = "init"
    INIT_REBOOT = "init-reboot"
    SELECTING = "selecting"
    REQUESTING = "requesting"
    PROBING = "probing"
    BOUND = "bound"
    RENEWING = "renewing"
    REBINDING = "rebinding"
    STOPPED = "stopped"


@dataclass(frozen=True)
class DhcpLease:
    """What an ACK gave (addresses as 4 bytes; times in seconds, ``obtained`` on the machine's clock)."""

    ip: bytes
    netmask: bytes
    gateway: bytes
    dns: tuple[bytes, ...]
    server: bytes
    lease_time: float
    t1: float
    t2: float
    obtained: float

    @property
    def expires(self) -> float:
        return self.obtained + self.lease_time


@dataclass(frozen=True)
class DhcpReply:
    """A parsed BOOTREPLY."""

    message_type: int
    xid: int
    yiaddr: bytes
    options: dict[int, bytes]


@dataclass(frozen=True)
class Send:
    payload: bytes
    destination: bytes


@dataclass(frozen=True)
class Bound:
    lease: DhcpLease


@dataclass(frozen=True)
class Lost:
    lease: DhcpLease


@dataclass(frozen=True)
class Probe:
    """Check whether ``ip`` is already in use on the link, then call ``DhcpMachine.probe_result``."""

    ip: bytes


Event = Send | Bound | Lost | Probe


# -- messages ---------------------------------------------------------------------------------------------------
def build_message(
    message_type: int,
    xid: int,
    mac: bytes,
    *,
    ciaddr: bytes = ZERO,
    requested_ip: bytes | None = None,
    server_id: bytes | None = None,
    hostname: str | None = None,
    broadcast: bool = True,
    secs: int = 0,
) -> bytes:
    """A BOOTREQUEST carrying DHCP ``message_type``."""
    if len(mac) != 6:
        raise ValueError("DHCP over Ethernet needs a 6-byte MAC")
    fixed = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1,  # op: BOOTREQUEST
        1,  # htype: Ethernet
        6,
        0,
        xid & 0xFFFFFFFF,
        min(secs, 0xFFFF),
        0x8000 if broadcast else 0,
        ciaddr,
        ZERO,
        ZERO,
        ZERO,
        mac + bytes(10),
        b"",
        b"",
    )
    options = bytearray(MAGIC_COOKIE)
    options += bytes((OPT_MSG_TYPE, 1, message_type))
    options += bytes((OPT_CLIENT_ID, 7, 1)) + mac
    if message_type in (DISCOVER, REQUEST):
        options += bytes((OPT_MAX_SIZE, 2)) + struct.pack("!H", MAX_MESSAGE_SIZE)
        params = bytes((OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_LEASE_TIME, OPT_T1, OPT_T2))
        options += bytes((OPT_PARAMS, len(params))) + params
    if requested_ip is not None:
        options += bytes((OPT_REQUESTED_IP, 4)) + requested_ip
    if server_id is not None:
        options += bytes((OPT_SERVER_ID, 4)) + server_id
    if hostname:
        name = hostname.encode("ascii", "ignore")[:63]
        if name:
            options += bytes((OPT_HOSTNAME, len(name))) + name
    options.append(OPT_END)
    message = fixed + bytes(options)
    return message + bytes(max(0, 300 - len(message)))  # BOOTP minimum; some servers drop shorter requests


def parse_options(data: bytes) -> dict[int, bytes] | None:
    """Options after the magic cookie; None if truncated or without END. Repeated options are concatenated
    (RFC 3396)."""
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        code = data[pos]
        if code == OPT_PAD:
            pos += 1
            continue
        if code == OPT_END:
            return options
        if pos + 1 >= len(data):
            return None
        length = data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        if len(value) != length:
            return None
        options[code] = options.get(code, b"") + value
        pos += 2 + length
    return None


def parse_reply(data: bytes, xid: int, mac: bytes) -> DhcpReply | None:
    """A reply addressed to this client (``xid`` and ``chaddr`` match), or None for anything else."""
    if len(data) < BOOTP_FIXED_SIZE + 4 or len(data) > 4096:
        return None
    op, htype, hlen = data[0], data[1], data[2]
    if op != 2 or htype != 1 or hlen != 6:
        return None
    if struct.unpack_from("!I", data, 4)[0] != xid or data[28:34] != mac:
        return None
    if data[BOOTP_FIXED_SIZE : BOOTP_FIXED_SIZE + 4] != MAGIC_COOKIE:
        return None
    options = parse_options(data[BOOTP_FIXED_SIZE + 4 :])
    if options is None:
        return None
    kind = options.get(OPT_MSG_TYPE, b"")
    if len(kind) != 1 or kind[0] not in (OFFER, ACK, NAK):
        return None
    return DhcpReply(kind[0], xid, bytes(data[16:20]), options)


def _address(options: dict[int, bytes], code: int) -> bytes | None:
    value = options.get(code)
    return value[:4] if value is not None and len(value) >= 4 else None


def _seconds(options: dict[int, bytes], code: int) -> int | None:
    value = options.get(code)
    return struct.unpack("!I", value)[0] if value is not None and len(value) == 4 else None


def _text(ip: bytes) -> str:
    return str(ipaddress.IPv4Address(ip))


def _unicast(ip: bytes) -> bool:
    """An address a host may have: not 0/8, loopback, multicast, reserved (240/4) or the limited broadcast."""
    address = ipaddress.IPv4Address(ip)
    return not (ip[0] == 0 or address.is_loopback or address.is_multicast or address.is_reserved or ip == BROADCAST)


def _contiguous(mask: bytes) -> bool:
    inverted = ~int.from_bytes(mask, "big") & 0xFFFFFFFF
    return mask != ZERO and inverted & (inverted + 1) == 0


def lease_problem(reply: DhcpReply, min_lease: float = MIN_LEASE_S) -> str | None:
    """Why an OFFER or ACK cannot be used (a sentence for the log), or None when its values are sane."""
    ip = reply.yiaddr
    if not _unicast(ip):
        return f"the address {ipaddress.IPv4Address(ip)} is not a unicast host address"
    mask = _address(reply.options, OPT_SUBNET) or b"\xff\xff\xff\x00"
    if not _contiguous(mask):
        return f"the netmask {ipaddress.IPv4Address(mask)} is not contiguous"
    subnet = ipaddress.IPv4Network((int.from_bytes(ip, "big"), ipaddress.IPv4Address(mask).exploded), strict=False)
    edges = (subnet.network_address.packed, subnet.broadcast_address.packed) if subnet.prefixlen <= 30 else ()
    if ip in edges:
        return f"the address {ipaddress.IPv4Address(ip)} is the network or broadcast address of {subnet}"
    router = _address(reply.options, OPT_ROUTER)
    if router is not None and router != ZERO:
        on_link = subnet.prefixlen > 30 or ipaddress.IPv4Address(router) in subnet
        if not _unicast(router) or router == ip or router in edges or not on_link:
            return f"the router {ipaddress.IPv4Address(router)} is not a unicast address on {subnet}"
    lease_time = _seconds(reply.options, OPT_LEASE_TIME)
    if lease_time is not None and lease_time < min_lease:
        return f"the lease of {lease_time} s is shorter than {min_lease:g} s"
    return None


def lease_from_ack(reply: DhcpReply, server: bytes, now: float) -> DhcpLease | None:
    """The lease an ACK grants; None if it grants no usable address (see ``lease_problem`` for the full check)."""
    if reply.yiaddr in (ZERO, BROADCAST):
        return None
    lease_time = _seconds(reply.options, OPT_LEASE_TIME) or DEFAULT_LEASE_S
    t1 = _seconds(reply.options, OPT_T1)
    t2 = _seconds(reply.options, OPT_T2)
    t2_s = float(t2) if t2 is not None and 0 < t2 < lease_time else lease_time * 7 / 8
    t1_s = float(t1) if t1 is not None and 0 < t1 < t2_s else min(lease_time / 2, t2_s)
    dns_raw = reply.options.get(OPT_DNS, b"")
    offered = (dns_raw[i : i + 4] for i in range(0, len(dns_raw) - len(dns_raw) % 4, 4))
    dns = tuple(server for server in offered if _unicast(server))[:MAX_DNS_SERVERS]
    return DhcpLease(
        ip=reply.yiaddr,
        netmask=_address(reply.options, OPT_SUBNET) or b"\xff\xff\xff\x00",
        gateway=_address(reply.options, OPT_ROUTER) or ZERO,
        dns=dns,
        server=_address(reply.options, OPT_SERVER_ID) or server,
        lease_time=float(lease_time),
        t1=t1_s,
        t2=t2_s,
        obtained=now,
    )


# -- the state machine -------------------------------------------------------------------------------------------
@dataclass
class DhcpMachine:
    """The client's states and timers (sans-IO: the caller supplies ``now`` and does the I/O)."""

    mac: bytes
    hostname: str | None = None
    initial_backoff: float = 4.0
    min_lease: float = MIN_LEASE_S
    rng: random.Random = field(default_factory=random.Random)
    state: State = State.STOPPED
    lease: DhcpLease | None = None
    xid: int = 0
    _deadline: float = 0.0
    _backoff: float = 0.0
    _attempts: int = 0
    _offer: DhcpReply | None = None
    _offer_server: bytes = ZERO
    _started: float = 0.0
    _probing: DhcpLease | None = None
    _reboot_ip: bytes = ZERO

    def start(self, now: float, previous: DhcpLease | None = None) -> list[Event]:
        """Begin (or begin again): INIT-REBOOT asking for ``previous``'s address if that lease has not expired,
        else INIT (a DISCOVER)."""
        self.lease = None
        self._probing = None
        if previous is not None and previous.expires > now and _unicast(previous.ip):
            return self._init_reboot(now, previous.ip)
        return self._discover(now)

    def _init_reboot(self, now: float, ip: bytes) -> list[Event]:
        self.state = State.INIT_REBOOT
        self._new_xid()
        self._started = now
        self._reboot_ip = ip
        self._attempts = 0
        self._backoff = self.initial_backoff
        return self._request_reboot(now)

    def _request_reboot(self, now: float) -> list[Event]:
        self._retry_in(now)
        message = build_message(
            REQUEST, self.xid, self.mac, requested_ip=self._reboot_ip, hostname=self.hostname, secs=self._secs(now)
        )
        return [Send(message, BROADCAST)]

    def probe_result(self, taken: bool, now: float) -> list[Event]:
        """The answer to a ``Probe``: a taken address is declined (and the client starts over after
        ``DECLINE_WAIT_S``); otherwise the lease is bound."""
        lease = self._probing
        if self.state != State.PROBING or lease is None:
            return []
        self._probing = None
        if taken:
            _log.warning("DHCP: %s is already in use on the link; declining it", ipaddress.IPv4Address(lease.ip))
            self._new_xid()
            decline = build_message(
                DECLINE, self.xid, self.mac, requested_ip=lease.ip, server_id=lease.server, broadcast=True
            )
            self.state = State.INIT
            self._deadline = now + DECLINE_WAIT_S
            return [Send(decline, BROADCAST)]
        self.lease = lease
        self.state = State.BOUND
        self._deadline = lease.obtained + lease.t1
        return [Bound(lease)]

    def stop(self) -> list[Event]:
        """Stop; a held lease is given back with a DHCPRELEASE (unicast to its server)."""
        lease, bound = self.lease, self.state in (State.BOUND, State.RENEWING, State.REBINDING)
        self.state = State.STOPPED
        self.lease = None
        if lease is None or not bound:
            return []
        self._new_xid()
        message = build_message(RELEASE, self.xid, self.mac, ciaddr=lease.ip, server_id=lease.server, broadcast=False)
        return [Send(message, lease.server)]

    def next_deadline(self) -> float | None:
        return None if self.state == State.STOPPED else self._deadline

    @property
    def needs_socket(self) -> bool:
        return self.state not in (State.BOUND, State.STOPPED, State.PROBING)

    def _new_xid(self) -> None:
        self.xid = self.rng.getrandbits(32)

    def _retry_in(self, now: float) -> None:
        jitter = self.rng.uniform(-1.0, 1.0) if self._backoff >= 4.0 else 0.0
        self._deadline = now + max(0.1, self._backoff + jitter)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)

    def _secs(self, now: float) -> int:
        return int(max(0.0, now - self._started))

    def _discover(self, now: float) -> list[Event]:
        self.state = State.SELECTING
        self._new_xid()
        self._started = now
        self._backoff = self.initial_backoff
        self._offer = None
        self._retry_in(now)
        return [Send(build_message(DISCOVER, self.xid, self.mac, hostname=self.hostname), BROADCAST)]

    def _request_selected(self, now: float) -> list[Event]:
        assert self._offer is not None
        self._retry_in(now)
        message = build_message(
            REQUEST,
            self.xid,
            self.mac,
            requested_ip=self._offer.yiaddr,
            server_id=self._offer_server,
            hostname=self.hostname,
            secs=self._secs(now),
        )
        return [Send(message, BROADCAST)]

    def _request_extend(self, now: float) -> list[Event]:
        """RENEWING: unicast to the server; REBINDING: broadcast. ciaddr set, no requested-ip/server-id."""
        assert self.lease is not None
        limit = self.lease.obtained + (self.lease.t2 if self.state == State.RENEWING else self.lease.lease_time)
        self._deadline = min(limit, now + max(MIN_RENEW_RETRY_S, (limit - now) / 2))
        renewing = self.state == State.RENEWING
        message = build_message(
            REQUEST, self.xid, self.mac, ciaddr=self.lease.ip, hostname=self.hostname, broadcast=False
        )
        return [Send(message, self.lease.server if renewing else BROADCAST)]

    def poll(self, now: float) -> list[Event]:
        """Act on timers that are due."""
        if self.state == State.STOPPED or now < self._deadline:
            return []
        if self.state == State.INIT:
            return self._discover(now)
        if self.state == State.PROBING:
            return self.probe_result(False, now)  # the runner never answered: nothing was seen in the way
        if self.state == State.INIT_REBOOT:
            self._attempts += 1
            if self._attempts >= REQUEST_ATTEMPTS:
                return self._discover(now)
            return self._request_reboot(now)
        if self.state == State.SELECTING:
            self._retry_in(now)
            message = build_message(DISCOVER, self.xid, self.mac, hostname=self.hostname, secs=self._secs(now))
            return [Send(message, BROADCAST)]
        if self.state == State.REQUESTING:
            self._attempts += 1
            if self._attempts >= REQUEST_ATTEMPTS:
                return self._discover(now)
            return self._request_selected(now)
        assert self.lease is not None
        if now >= self.lease.expires:
            return self._expire(now)
        if self.state == State.BOUND:
            self.state = State.RENEWING
            self._new_xid()
            return self._request_extend(now)
        if self.state == State.RENEWING and now >= self.lease.obtained + self.lease.t2:
            # Same xid: an ACK to the last unicast renewal that arrives late is still taken.
            self.state = State.REBINDING
        return self._request_extend(now)

    def _expire(self, now: float) -> list[Event]:
        lost = self.lease
        events: list[Event] = [Lost(lost)] if lost is not None else []
        return events + self.start(now)

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Feed a datagram that arrived on port 68."""
        if self.state in (State.STOPPED, State.BOUND, State.INIT, State.PROBING):
            return []
        reply = parse_reply(data, self.xid, self.mac)
        if reply is None:
            return []
        server = _address(reply.options, OPT_SERVER_ID)
        if self.state == State.SELECTING:
            if reply.message_type != OFFER or server is None or not self._sane(reply):
                return []
            self._offer, self._offer_server = reply, server
            self.state = State.REQUESTING
            self._attempts = 0
            self._backoff = self.initial_backoff
            return self._request_selected(now)
        # The server asked must answer: the selected one while REQUESTING, the lease's while RENEWING (unicast);
        # while REBINDING or INIT-REBOOT (broadcast) any server may, for the address held.
        expected = {State.REQUESTING: self._offer_server, State.RENEWING: self.lease.server if self.lease else None}
        wanted = expected.get(self.state)
        if wanted is not None and server is not None and server != wanted:
            _log.info("DHCP: ignored a reply from server %s (asked %s)", _text(server), _text(wanted))
            return []
        if reply.message_type == NAK:
            if self.state in (State.REQUESTING, State.INIT_REBOOT):
                return self._discover(now)
            return self._expire(now)
        if reply.message_type != ACK or not self._sane(reply):
            return []
        held = {
            State.REQUESTING: self._offer.yiaddr if self._offer is not None else None,
            State.INIT_REBOOT: self._reboot_ip,
        }.get(self.state, self.lease.ip if self.lease else None)
        if reply.yiaddr != held:
            _log.info("DHCP: ignored an ACK for %s (asked for %s)", _text(reply.yiaddr), _text(held or ZERO))
            return []
        lease = lease_from_ack(reply, server or wanted or ZERO, now)
        if lease is None:
            return []
        if self.state in (State.REQUESTING, State.INIT_REBOOT):
            self.state = State.PROBING  # a new address: is anyone using it already?
            self._probing = lease
            self._deadline = now + MAX_BACKOFF_S  # the runner answers long before; a safety net
            return [Probe(lease.ip)]
        self.lease = lease
        self.state = State.BOUND
        self._deadline = lease.obtained + lease.t1
        return [Bound(lease)]

    def _sane(self, reply: DhcpReply) -> bool:
        problem = lease_problem(reply, self.min_lease)
        if problem is not None:
            _log.warning("DHCP: ignored a %s: %s", "DHCPOFFER" if reply.message_type == OFFER else "DHCPACK", problem)
        return problem is None


# -- the runner --------------------------------------------------------------------------------------------------
class DhcpClient:
    """Keeps a lease on ``stack`` for the interface with ``mac``; see the module docstring."""

    def __init__(
        self,
        stack: NetworkStack,
        mac: bytes,
        *,
        on_bound: Callable[[DhcpLease], object] | None = None,
        on_lost: Callable[[], object] | None = None,
        hostname: str | None = None,
        initial_backoff: float = 4.0,
        min_lease: float = MIN_LEASE_S,
        previous_lease: DhcpLease | None = None,
        probe_timeout: float = PROBE_TIMEOUT_S,
    ) -> None:
        self._stack = stack
        self._machine = DhcpMachine(bytes(mac), hostname=hostname, initial_backoff=initial_backoff, min_lease=min_lease)
        self._previous = previous_lease
        self._probe_timeout = probe_timeout
        self._on_bound = on_bound
        self._on_lost = on_lost
        self._cond = threading.Condition()
        self._stop = False
        self._restart = False
        self._thread: threading.Thread | None = None
        self._socket: object | None = None
        self.bound_count = 0
        self._applied = False  # the current lease went through on_bound (what wait_bound waits for)
        """How many ACKs granted or extended a lease (the first one plus every renewal/rebinding)."""

    @property
    def lease(self) -> DhcpLease | None:
        return self._machine.lease

    @property
    def state(self) -> State:
        return self._machine.state

    def start(self) -> None:
        """Start the client thread. A client runs once: after ``stop()`` it does not start again."""
        with self._cond:
            if self._thread is not None or self._stop:
                return
            self._thread = threading.Thread(target=self._run, name="dhcp-client", daemon=True)
            self._thread.start()  # under the lock, so a concurrent stop() never joins an unstarted thread

    def restart(self) -> None:
        """Start over from INIT (the link came back); does not block."""
        with self._cond:
            self._restart = True
            self._cond.notify_all()
        self._close_socket()

    def stop(self, release: bool = True) -> None:
        """Stop the client; with ``release`` a held lease is given back (DHCPRELEASE) first."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        self._close_socket()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        events = self._machine.stop()
        if release and events:
            self._send_once(events)

    def _send_once(self, events: list[Event]) -> None:
        """Send on a socket of its own (the client's thread has ended)."""
        from netsocket.socket import UDPSocket

        sock = UDPSocket()
        if sock.open(self._stack) != NsapiError.OK:
            return
        try:
            sock.set_timeout(1000)
            if sock.bind(CLIENT_PORT) == NsapiError.OK:
                for event in events:
                    if isinstance(event, Send):
                        sock.sendto(SocketAddress(event.destination, SERVER_PORT), event.payload)
        finally:
            sock.close()

    def wait_bound(self, timeout: float) -> bool:
        """Block until a lease is held (True) or ``timeout`` seconds pass (False)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not self._applied:
                remaining = end - time.monotonic()
                if remaining <= 0 or self._stop:
                    return False
                self._cond.wait(interruptible(remaining))
        return True

    def _close_socket(self) -> None:
        with self._cond:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()  # type: ignore[attr-defined]

    def _open_socket(self) -> object | None:
        from netsocket.socket import UDPSocket

        sock = UDPSocket()
        if sock.open(self._stack) != NsapiError.OK:
            return None
        if sock.bind(CLIENT_PORT) != NsapiError.OK:
            sock.close()
            return None
        with self._cond:
            if self._stop:
                sock.close()
                return None
            self._socket = sock
        return sock

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Send):
                sock = self._socket
                if sock is not None:
                    result = sock.sendto(SocketAddress(event.destination, SERVER_PORT), event.payload)  # type: ignore[attr-defined]
                    if result < 0:
                        _log.info("DHCP: send failed: %s", NsapiError(result))
            elif isinstance(event, Bound):
                self.bound_count += 1
                if self._on_bound is not None:
                    self._on_bound(event.lease)
                with self._cond:
                    self._applied = True
                    self._cond.notify_all()
            elif isinstance(event, Probe):
                taken = self._stack.probe_address(SocketAddress(event.ip), self._probe_timeout)
                self._handle(self._machine.probe_result(bool(taken), time.monotonic()))
            elif isinstance(event, Lost):
                _log.warning("DHCP: lease on %s lost", SocketAddress(event.lease.ip))
                with self._cond:
                    self._applied = False
                if self._on_lost is not None:
                    self._on_lost()

    def _run(self) -> None:
        from netsocket.socket import UDPSocket

        machine = self._machine
        buffer = bytearray(MAX_MESSAGE_SIZE + 1024)
        pending: list[Event] = []
        first = True
        while True:
            with self._cond:
                if self._stop:
                    break
                restart, self._restart = self._restart, False
            now = time.monotonic()
            if first or restart:
                previous = self._previous if first else machine.lease
                first = False
                with self._cond:
                    self._applied = False
                pending = machine.start(now, previous)
            wants_socket = machine.needs_socket or any(isinstance(e, Send) for e in pending)
            if wants_socket and self._socket is None and self._open_socket() is None:
                _log.info("DHCP: no free socket on the stack; trying again")
                with self._cond:
                    self._cond.wait(0.5)  # no free socket right now: try again shortly
                continue
            self._handle(pending)
            pending = []
            if not machine.needs_socket:
                self._close_socket()
            deadline = machine.next_deadline()
            wait = max(0.0, (deadline if deadline is not None else now + 1.0) - time.monotonic())
            sock = self._socket
            if sock is None or not isinstance(sock, UDPSocket):
                with self._cond:
                    if not self._stop and not self._restart:
                        self._cond.wait(wait)
            else:
                sock.set_timeout(max(1, int(wait * 1000)))
                size = sock.recvfrom(None, buffer)
                if size > 0:
                    pending = machine.receive(bytes(buffer[:size]), time.monotonic())
                elif size == NsapiError.NO_SOCKET:
                    continue
            pending += machine.poll(time.monotonic())
        self._close_socket()
