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
    WPA2_ENTERPRISE = 5
    #: ESP-AT on ESP32 only (reference §3.9; Espressif's AT+CWLAPOPT docs: "applicable to ESP32 ... only").
    WPA3_PSK = 6
    WPA2_WPA3_PSK = 7


#: Pairwise/group cipher codes printed by CWLAP for each security (0 none, 4 CCMP, 5 TKIP+CCMP).
CIPHERS: dict[Security, int] = {
    Security.OPEN: 0,
    Security.WEP: 1,
    Security.WPA_PSK: 3,
    Security.WPA2_PSK: 4,
    Security.WPA_WPA2_PSK: 5,
    Security.WPA2_ENTERPRISE: 4,
    Security.WPA3_PSK: 4,
    Security.WPA2_WPA3_PSK: 4,
}


@dataclass(frozen=True)
class EapCredentials:
    """What an emulated WPA2-Enterprise AP's RADIUS server accepts (AT+CWJEAP)."""

    identity: str
    username: str
    password: str
    #: AT+CWJEAP ``<method>`` values the server offers: 0 EAP-TLS, 1 EAP-PEAP, 2 EAP-TTLS.
    methods: frozenset[int] = frozenset({0, 1, 2})


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
    #: Set on a WPA2_ENTERPRISE AP: the credentials AT+CWJEAP must present (a PSK join never works there).
    eap: EapCredentials | None = None

    def accepts(self, password: str) -> bool:
        if self.security == Security.OPEN:
            return True
        if self.security == Security.WPA2_ENTERPRISE:
            return False
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
    #: IPv6 addresses the station gets with AT+CIPV6=1 (ESP32 3.x): link-local from the MAC's EUI-64, and a
    #: global one from the documentation prefix. Links to IPv6 literals reach ::1 only (DESIGN.md §5).
    station_ip6_ll: str = "fe80::5ecf:7fff:fe01:203"
    station_ip6_gl: str = "2001:db8:42::23"
    hosts6: dict[str, str] = field(default_factory=lambda: {"localhost": "::1"})
    #: The module's PKI partition for module-side TLS (AT+CIPSSLCCONF): PEM text, None when not flashed.
    ssl_ca_pem: str | None = None
    ssl_client_cert_pem: str | None = None
    ssl_client_key_pem: str | None = None
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

    def resolve6(self, name: str) -> str | None:
        """An IPv6 literal resolves to itself; anything else only through the AAAA table."""
        try:
            return str(ipaddress.IPv6Address(name))
        except ValueError:
            return self.hosts6.get(name.lower())

    def reachable(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
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


def features_world() -> World:
    """The default world plus the access points the module features need (``espemu://?world=features``).

    - ``netsocket-wpa3`` (WPA3_PSK, channel 11) and ``netsocket-mixed`` (WPA2_WPA3_PSK, channel 3), both with the
      passphrase ``netsocket123``: only ESP-AT 3.x on ESP32 knows these security values;
    - ``netsocket-eap`` (WPA2_ENTERPRISE, channel 9): identity ``anonymous@netsocket``, username ``user``, password
      ``netsocket123``, every EAP method;
    - a second ``netsocket-wpa2`` on another BSSID (``02:00:00:00:02:06``, channel 13, passphrase ``othernet123``), so
      that joining by BSSID picks one of two APs with the same SSID.
    """
    world = default_world()
    world.access_points += [
        AccessPoint("netsocket-wpa3", Security.WPA3_PSK, 11, -50, "02:00:00:00:03:0b", "netsocket123"),
        AccessPoint("netsocket-mixed", Security.WPA2_WPA3_PSK, 3, -55, "02:00:00:00:03:03", "netsocket123"),
        AccessPoint(
            "netsocket-eap",
            Security.WPA2_ENTERPRISE,
            9,
            -61,
            "02:00:00:00:03:09",
            None,
            eap=EapCredentials("anonymous@netsocket", "user", "netsocket123"),
        ),
        AccessPoint("netsocket-wpa2", Security.WPA2_PSK, 13, -70, "02:00:00:00:02:06", "othernet123"),
    ]
    return world


WORLDS = {"default": default_world, "features": features_world}
