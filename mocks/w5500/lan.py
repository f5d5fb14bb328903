"""The emulated LAN around the chip: one router (192.168.77.1 by default) that is the DHCP server, the DNS
server and the gateway to the host's loopback network, plus an optional alias for the host itself.

Layer: sans-IO routing decisions. The bridge asks `arp` (does anyone answer for this next hop?) and `route`
(where does a packet to this destination go?). Rules:
- the router's addresses answer ARP; 127.0.0.0/8 is reached through the router (the chip must have the router
  as its gateway, or see 127/8 as on-link); `host_alias` (192.168.77.2) is the host, reached at 127.0.0.1;
- UDP to the router's port 67, or to 255.255.255.255:67, goes to the built-in DHCP server;
- UDP to the router's port 53 goes to the DNS table, then to `dns_server` (a real server on loopback) if set;
- anything else is unreachable: nobody answers ARP, so the chip raises TIMEOUT after ARPTO. `allow_any=True`
  forwards every off-LAN destination to the host's real network instead (opt-in; never used by the tests);
- `blackholes` are (ip, port) pairs whose TCP SYNs are swallowed, so CONNECT ends in TCPTO;
- `occupied` addresses belong to other hosts on the LAN: they answer ARP (and nothing else), so a DHCP client's
  conflict probe finds them taken.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from .dhcp_server import DhcpConfig

ROUTER_MAC = bytes.fromhex("024e53000001")
HOST_MAC = bytes.fromhex("024e53000002")
OCCUPIED_MAC = bytes.fromhex("024e53000003")
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


class RouteKind(Enum):
    HOST = "host"
    DHCP = "dhcp"
    DNS = "dns"
    BLACKHOLE = "blackhole"
    REFUSE = "refuse"
    DROP = "drop"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    host: str = ""
    port: int = 0


@dataclass
class LanConfig:
    subnet: str = "192.168.77.0/24"
    router: str = "192.168.77.1"
    host_alias: str | None = "192.168.77.2"
    pool_first: str = "192.168.77.100"
    pool_last: str = "192.168.77.199"
    lease_time: int = 3600
    renew_time: int | None = None
    rebind_time: int | None = None
    dns_server: tuple[str, int] | None = None
    """A real DNS server on loopback that the router relays to, e.g. ("127.0.0.1", 5353)."""
    hosts: dict[str, str] = field(default_factory=lambda: {"localhost": "127.0.0.1"})
    allow_any: bool = False
    blackholes: set[tuple[str, int]] = field(default_factory=set)
    occupied: set[str] = field(default_factory=set)
    """Addresses of other hosts on the LAN (they answer ARP)."""
    listen_port_map: dict[int, int] = field(default_factory=dict)
    """Chip LISTEN port -> host port on 127.0.0.1 (identity by default; use it for ports below 1024)."""

    def __post_init__(self) -> None:
        if self.dns_server is not None and not ipaddress.IPv4Address(self.dns_server[0]).is_loopback:
            raise ValueError("dns_server must be a loopback address")

    def dhcp_config(self) -> DhcpConfig:
        return DhcpConfig(
            network=self.subnet,
            server_ip=self.router,
            router=self.router,
            dns=self.router,
            pool_first=self.pool_first,
            pool_last=self.pool_last,
            lease_time=self.lease_time,
            renew_time=self.renew_time,
            rebind_time=self.rebind_time,
        )


class Lan:
    def __init__(self, config: LanConfig) -> None:
        self.config = config
        self._router = ipaddress.IPv4Address(config.router)
        self._alias = None if config.host_alias is None else ipaddress.IPv4Address(config.host_alias)
        self._subnet = ipaddress.IPv4Network(config.subnet)

    def _forwardable(self, dst: ipaddress.IPv4Address) -> bool:
        return dst in _LOOPBACK or (self.config.allow_any and dst not in self._subnet)

    def arp(self, next_hop: bytes, destination: bytes) -> bytes | None:
        hop = ipaddress.IPv4Address(next_hop)
        dst = ipaddress.IPv4Address(destination)
        if hop == self._router:
            return ROUTER_MAC if dst == hop or self._forwardable(dst) else None
        if hop == self._alias or hop in _LOOPBACK:
            return HOST_MAC
        if str(hop) in self.config.occupied:
            return OCCUPIED_MAC
        if self.config.allow_any and hop not in self._subnet:
            return ROUTER_MAC
        return None

    def route(self, destination: bytes, port: int, udp: bool) -> Route:
        dst = ipaddress.IPv4Address(destination)
        if (str(dst), port) in self.config.blackholes:
            return Route(RouteKind.BLACKHOLE)
        if dst == self._router or dst == self._subnet.broadcast_address or dst.packed == b"\xff" * 4:
            if udp and port == 67:
                return Route(RouteKind.DHCP)
            if udp and port == 53 and dst == self._router:
                return Route(RouteKind.DNS)
            return Route(RouteKind.DROP if udp else RouteKind.REFUSE)
        if dst == self._alias:
            return Route(RouteKind.HOST, "127.0.0.1", port)
        if self._forwardable(dst):
            return Route(RouteKind.HOST, str(dst), port)
        return Route(RouteKind.DROP if udp else RouteKind.BLACKHOLE)

    def host_listen_port(self, port: int) -> int:
        return self.config.listen_port_map.get(port, port)
