"""A small, strict DHCP server for the emulated LAN (RFC 2131 subset: DISCOVER/OFFER, REQUEST/ACK/NAK,
DECLINE, RELEASE; selecting, init-reboot, renewing and rebinding requests).

Layer: sans-IO. `handle(payload, now)` takes a BOOTREQUEST and returns the reply to send (or None); anything
malformed (short, wrong op/htype/hlen, no magic cookie, truncated options, no message type) is ignored.
Failure injection: `fail_next(count, mode)` NAKs or silently drops the next requests.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

MAGIC_COOKIE = b"\x63\x82\x53\x63"
BOOTP_FIXED = 236
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_REQUESTED_IP, OPT_LEASE, OPT_MSG_TYPE, OPT_SERVER_ID = (
    1,
    3,
    6,
    50,
    51,
    53,
    54,
)
OPT_T1, OPT_T2, OPT_END, OPT_PAD = 58, 59, 255, 0
_BROADCAST = b"\xff\xff\xff\xff"
_ZERO = b"\x00\x00\x00\x00"

FailMode = Literal["nak", "silent"]


@dataclass(frozen=True)
class DhcpConfig:
    network: str = "192.168.77.0/24"
    server_ip: str = "192.168.77.1"
    router: str = "192.168.77.1"
    dns: str = "192.168.77.1"
    pool_first: str = "192.168.77.100"
    pool_last: str = "192.168.77.199"
    lease_time: int = 3600
    """Seconds; a few seconds makes renewals testable. T1 = lease/2, T2 = lease*7/8 unless given."""
    renew_time: int | None = None
    rebind_time: int | None = None


@dataclass
class DhcpRequest:
    op: int
    xid: bytes
    flags: int
    ciaddr: bytes
    chaddr: bytes
    options: dict[int, bytes]

    @property
    def message_type(self) -> int:
        return self.options[OPT_MSG_TYPE][0]


@dataclass(frozen=True)
class DhcpReply:
    destination: bytes
    """255.255.255.255 or the client's unicast address; the reply goes to UDP port 68."""
    payload: bytes


def parse_request(data: bytes) -> DhcpRequest | None:
    if len(data) < BOOTP_FIXED + 4 or data[BOOTP_FIXED : BOOTP_FIXED + 4] != MAGIC_COOKIE:
        return None
    if data[0] != 1 or data[1] != 1 or data[2] != 6:
        return None
    options: dict[int, bytes] = {}
    pos = BOOTP_FIXED + 4
    while True:
        if pos >= len(data):
            return None
        code = data[pos]
        if code == OPT_END:
            break
        if code == OPT_PAD:
            pos += 1
            continue
        if pos + 1 >= len(data) or pos + 2 + data[pos + 1] > len(data):
            return None
        options[code] = data[pos + 2 : pos + 2 + data[pos + 1]]
        pos += 2 + data[pos + 1]
    kind = options.get(OPT_MSG_TYPE)
    if kind is None or len(kind) != 1 or not DISCOVER <= kind[0] <= INFORM:
        return None
    for code in (OPT_REQUESTED_IP, OPT_SERVER_ID):
        if code in options and len(options[code]) != 4:
            return None
    return DhcpRequest(
        op=data[0],
        xid=data[4:8],
        flags=int.from_bytes(data[10:12], "big"),
        ciaddr=data[12:16],
        chaddr=data[28:34],
        options=options,
    )


@dataclass
class Lease:
    ip: bytes
    expires: float


@dataclass
class DhcpServer:
    config: DhcpConfig = field(default_factory=DhcpConfig)
    leases: dict[bytes, Lease] = field(default_factory=dict)
    declined: set[bytes] = field(default_factory=set)
    log: list[tuple[str, str]] = field(default_factory=list)
    """(message name, address) for every request handled and reply sent, for tests and debugging."""
    _fail_count: int = 0
    _fail_mode: FailMode = "silent"

    def fail_next(self, count: int, mode: FailMode = "silent") -> None:
        """The next `count` requests are NAKed (REQUEST only; DISCOVER is dropped) or dropped; -1 = all."""
        self._fail_count = count
        self._fail_mode = mode

    def _ip(self, text: str) -> bytes:
        return ipaddress.IPv4Address(text).packed

    def handle(self, data: bytes, now: float) -> DhcpReply | None:
        request = parse_request(data)
        if request is None:
            return None
        name = {DISCOVER: "DISCOVER", REQUEST: "REQUEST", DECLINE: "DECLINE", RELEASE: "RELEASE"}.get(
            request.message_type, "OTHER"
        )
        self.log.append((name, str(ipaddress.IPv4Address(request.ciaddr))))
        if self._fail_count:
            if self._fail_count > 0:
                self._fail_count -= 1
            if self._fail_mode == "nak" and request.message_type == REQUEST:
                return self._reply(request, NAK, _ZERO)
            return None
        if request.message_type == DISCOVER:
            ip = self._choose(request.chaddr, request.options.get(OPT_REQUESTED_IP), now)
            return None if ip is None else self._reply(request, OFFER, ip)
        if request.message_type == REQUEST:
            return self._request(request, now)
        if request.message_type == DECLINE and OPT_REQUESTED_IP in request.options:
            self.declined.add(request.options[OPT_REQUESTED_IP])
            self.leases.pop(request.chaddr, None)
        elif request.message_type == RELEASE:
            self.leases.pop(request.chaddr, None)
        return None

    def _request(self, request: DhcpRequest, now: float) -> DhcpReply | None:
        server_id = request.options.get(OPT_SERVER_ID)
        if server_id is not None and server_id != self._ip(self.config.server_ip):
            self.leases.pop(request.chaddr, None)
            return None
        wanted = request.options.get(OPT_REQUESTED_IP) or request.ciaddr
        lease = self.leases.get(request.chaddr)
        if wanted != _ZERO and ((lease is not None and lease.ip == wanted) or self._free(wanted, now)):
            self.leases[request.chaddr] = Lease(wanted, now + self.config.lease_time)
            return self._reply(request, ACK, wanted)
        return self._reply(request, NAK, _ZERO)

    def _in_pool(self, ip: bytes) -> bool:
        first, last = self._ip(self.config.pool_first), self._ip(self.config.pool_last)
        return first <= ip <= last and ip not in self.declined

    def _free(self, ip: bytes, now: float) -> bool:
        taken = {lease.ip for lease in self.leases.values() if lease.expires > now}
        return self._in_pool(ip) and ip not in taken

    def _choose(self, mac: bytes, wanted: bytes | None, now: float) -> bytes | None:
        lease = self.leases.get(mac)
        if lease is not None and self._in_pool(lease.ip):
            return lease.ip
        if wanted is not None and self._free(wanted, now):
            return wanted
        first = int.from_bytes(self._ip(self.config.pool_first), "big")
        last = int.from_bytes(self._ip(self.config.pool_last), "big")
        for value in range(first, last + 1):
            candidate = value.to_bytes(4, "big")
            if self._free(candidate, now):
                return candidate
        return None

    def _reply(self, request: DhcpRequest, kind: int, yiaddr: bytes) -> DhcpReply:
        cfg = self.config
        header = bytearray(BOOTP_FIXED)
        header[0:4] = b"\x02\x01\x06\x00"
        header[4:8] = request.xid
        header[10:12] = request.flags.to_bytes(2, "big")
        if kind == ACK:
            header[12:16] = request.ciaddr
        header[16:20] = yiaddr
        header[20:24] = self._ip(cfg.server_ip)
        header[28:34] = request.chaddr
        options = bytearray(MAGIC_COOKIE)
        options += bytes([OPT_MSG_TYPE, 1, kind, OPT_SERVER_ID, 4]) + self._ip(cfg.server_ip)
        if kind != NAK:
            lease = cfg.lease_time
            t1 = cfg.renew_time if cfg.renew_time is not None else lease // 2
            t2 = cfg.rebind_time if cfg.rebind_time is not None else lease * 7 // 8
            netmask = ipaddress.IPv4Network(cfg.network).netmask.packed
            for code, value in (
                (OPT_LEASE, lease.to_bytes(4, "big")),
                (OPT_T1, t1.to_bytes(4, "big")),
                (OPT_T2, t2.to_bytes(4, "big")),
                (OPT_SUBNET, netmask),
                (OPT_ROUTER, self._ip(cfg.router)),
                (OPT_DNS, self._ip(cfg.dns)),
            ):
                options += bytes([code, len(value)]) + value
        options.append(OPT_END)
        payload = bytes(header + options).ljust(300, b"\x00")
        if kind == NAK or request.flags & 0x8000:
            destination = _BROADCAST
        elif request.ciaddr != _ZERO:
            destination = request.ciaddr
        else:
            destination = yiaddr
        name = {OFFER: "OFFER", ACK: "ACK", NAK: "NAK"}[kind]
        self.log.append((name, str(ipaddress.IPv4Address(yiaddr))))
        return DhcpReply(destination, payload)
