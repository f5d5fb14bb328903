"""The emulated world around the module: access points, the name table, the station's addresses.

Layer: pure data (no I/O). `default_world()` is exactly the world of DESIGN.md §5, which examples, docs and
tests rely on; change it only together with that page.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import IntEnum


class Security(IntEnum):
    """The ``<ecn>`` values of AT+CWLAP (reference §3.9)."""

    OPEN = 0
    WEP = 1
    WPA_PSK = 2
    WPA2_PSK = 3
    WPA_WPA2_PSK = 4


#: Pairwise/group cipher codes printed by CWLAP for each security (0 none, 4 CCMP, 5 TKIP+CCMP).
CIPHERS: dict[Security, int] = {
    Security.OPEN: 0,
    Security.WEP: 1,
    Security.WPA_PSK: 3,
    Security.WPA2_PSK: 4,
    Security.WPA_WPA2_PSK: 5,
}


@dataclass
class AccessPoint:
    """One emulated access point. `password` None means nobody knows it (every join fails with code 2)."""

    ssid: str
    security: Security
    channel: int
    rssi: int
    bssid: str
    password: str | None = ""
    #: False makes the AP vanish from scans and joins (for Wi-Fi loss scenarios).
    available: bool = True

    def accepts(self, password: str) -> bool:
        if self.security == Security.OPEN:
            return True
        return self.password is not None and password == self.password


@dataclass
class World:
    """Access points, names and addresses the emulated module sees."""

    access_points: list[AccessPoint] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=lambda: {"localhost": "127.0.0.1"})
    station_ip: str = "192.168.42.23"
    gateway: str = "192.168.42.1"
    netmask: str = "255.255.255.0"
    station_mac: str = "5c:cf:7f:01:02:03"
    softap_ip: str = "192.168.4.1"
    softap_mac: str = "5e:cf:7f:01:02:03"
    #: Bridge sockets only to 127.0.0.0/8 unless the caller opts in (DESIGN.md §5).
    allow_non_loopback: bool = False

    def find_ap(self, ssid: str, bssid: str | None = None) -> AccessPoint | None:
        for ap in self.access_points:
            if ap.available and ap.ssid == ssid and (bssid is None or ap.bssid.lower() == bssid.lower()):
                return ap
        return None

    def resolve(self, name: str) -> str | None:
        """An IPv4 literal resolves to itself; anything else only through the table."""
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            return self.hosts.get(name.lower())

    def reachable(self, ip: str) -> bool:
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return address.is_loopback or self.allow_non_loopback


def default_world() -> World:
    """The world of DESIGN.md §5: three access points and ``localhost``."""
    return World(
        access_points=[
            AccessPoint("netsocket-open", Security.OPEN, 1, -42, "02:00:00:00:01:01", ""),
            AccessPoint("netsocket-wpa2", Security.WPA2_PSK, 6, -58, "02:00:00:00:01:06", "netsocket123"),
            AccessPoint("neighbour", Security.WPA_WPA2_PSK, 11, -80, "02:00:00:00:01:0b", None),
        ]
    )
