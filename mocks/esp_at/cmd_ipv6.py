"""IPv6 on ESP-AT 3.x for ESP32: AT+CIPV6, the IPv6 lines of AT+CIPSTA?, ``WIFI GOT IPv6 LL/GL``, and the
address rules of the TCPv6/UDPv6/SSLv6 link types and AAAA lookups.

Layer: sans-IO command handlers and helpers of the device model. Only profiles with `Profile.ipv6` list the
command; elsewhere AT+CIPV6 is an unknown command (ERROR) and ``"TCPv6"`` a bad link type. IPv6 links reach ::1
only (DESIGN.md §5). Addresses print in upper case, as lwIP's ``ip6addr_ntoa`` writes them (seen in drivers'
traces such as ``+CIPSTA:ip6ll:"FE80::3E61:5FF:FED0:9523"``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form

if TYPE_CHECKING:
    from .device import EspAtDevice

#: Link types that need AT+CIPV6=1, and the IPv4 type whose bridge they use.
IPV6_TYPES = {"TCPv6": "TCP", "UDPv6": "UDP", "SSLv6": "SSL"}


def wire_ipv6(address: str) -> str:
    """An IPv6 address the way the module prints it: compressed, upper case."""
    return str(ipaddress.IPv6Address(address)).upper()


def enabled(dev: EspAtDevice) -> bool:
    return dev.profile.ipv6 and dev.features.ipv6_enabled


def _cipv6(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPV6:{int(dev.features.ipv6_enabled)}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1 or cmd.int_at(0) not in (0, 1):
        dev.error(now)
        return
    dev.features.ipv6_enabled = bool(cmd.int_at(0))
    if not dev.features.ipv6_enabled:
        dev.features.ipv6_addresses = False
    dev.ok(now)


def after_got_ip(dev: EspAtDevice, now: float) -> None:
    """With IPv6 on, the station's IPv6 addresses follow the IPv4 one (after the join's OK, reference §2.3)."""
    if not enabled(dev):
        return
    dev.features.ipv6_addresses = True
    dev.emit(b"WIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n")


def cipsta_lines(dev: EspAtDevice, name: str) -> list[str]:
    """The ``ip6ll``/``ip6gl`` lines of AT+CIPSTA? (Espressif's AT+CIPSTA docs, 3.x)."""
    if not (enabled(dev) and dev.features.ipv6_addresses and dev.wifi_connected()):
        return []
    return [
        f'+{name}:ip6ll:"{wire_ipv6(dev.world.station_ip6_ll)}"',
        f'+{name}:ip6gl:"{wire_ipv6(dev.world.station_ip6_gl)}"',
    ]


def resolve(dev: EspAtDevice, host: str, network: int) -> str | None:
    """AT+CIPDOMAIN's ``<ip network>``: 1 IPv4 first then IPv6, 2 IPv4 only, 3 IPv6 only (3.x docs)."""
    v4 = dev.world.resolve(host) if network in (1, 2) else None
    if v4 is not None:
        return v4
    if network in (1, 3) and enabled(dev):
        v6 = dev.world.resolve6(host)
        return wire_ipv6(v6) if v6 is not None else None
    return None


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {"CIPV6": _cipv6}
