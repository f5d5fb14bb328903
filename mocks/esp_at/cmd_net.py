"""Name and time services: AT+CIPDOMAIN, AT+CIPDNS, AT+PING, AT+CIPSNTPCFG, AT+CIPSNTPTIME.

Layer: sans-IO command handlers of the device model. Names resolve only from the world's table (DESIGN.md §5);
a ping answers only for reachable (loopback, unless opted in) addresses. SNTP "syncs" from the host's wall
clock passed to the device, without any network traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import cmd_ipv6
from .atline import Command, Form, ParseError

if TYPE_CHECKING:
    from .device import EspAtDevice


def _cipdomain(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= dev.profile.cipdomain_max_params:
        dev.error(now)
        return
    name = cmd.str_at(0)
    network = cmd.int_at(1, 1)
    if not 0 < len(name) <= 64 or network not in (1, 2, 3) or (network == 3 and not cmd_ipv6.enabled(dev)):
        dev.error(now)
        return

    def resolved(at: float) -> None:
        ip = cmd_ipv6.resolve(dev, name, network) if dev.wifi_connected() else None
        if ip is None:
            dev.error(at, text=dev.profile.dns_fail_text)
            return
        dev.info(f'+CIPDOMAIN:"{ip}"' if dev.profile.cipdomain_quoted else f"+CIPDOMAIN:{ip}")
        dev.ok(at)

    dev.run_busy(dev.delay("dns"), resolved, now)


def _cipdns(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        if dev.profile.cipdns_one_line_per_server:
            for server in dev.dns_servers[: dev.profile.cipdns_max_servers]:
                dev.info(f"+{cmd.name}:{server}")
        else:
            listed = ",".join(f'"{s}"' for s in dev.dns_servers)
            dev.info(f"+CIPDNS:{int(dev.dns_manual)},{listed}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= 1 + dev.profile.cipdns_max_servers:
        dev.error(now)
        return
    enable = cmd.int_at(0)
    servers = [cmd.str_at(i) for i in range(1, len(cmd.params))]
    if enable not in (0, 1) or (enable == 1 and not servers) or (enable == 0 and servers):
        dev.error(now)
        return
    dev.dns_manual = bool(enable)
    dev.dns_servers = servers if servers else ["208.67.222.222", "114.114.114.114", "8.8.8.8"]
    dev.ok(now)


def _ping(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or len(cmd.params) != 1:
        dev.error(now)
        return
    host = cmd.str_at(0)
    ip = dev.world.resolve(host) if dev.wifi_connected() else None
    if ip is not None and dev.world.reachable(ip):
        millis = dev.rng.randint(1, 4)

        def answered(at: float) -> None:
            dev.info(dev.profile.ping_ok % millis)
            dev.ok(at)

        dev.run_busy(dev.delay("ping_loopback"), answered, now)
        return

    def timed_out(at: float) -> None:
        dev.error(at, text=dev.profile.ping_fail)

    dev.run_busy(dev.delay("ping_timeout"), timed_out, now)


def _parse_tz(dev: EspAtDevice, cmd: Command) -> int:
    """Whole hours within the profile's range; ESP-AT also takes ``[+|-]hhmm`` (reference §3.25)."""
    text = cmd.params[1].text
    value = cmd.int_at(1)
    if dev.profile.sntp_min_tz <= value <= dev.profile.sntp_max_tz and len(text.lstrip("+-")) <= 2:
        return value * 60
    if dev.profile.sntp_hhmm_tz and len(text.lstrip("+-")) in (3, 4):
        hours, minutes = divmod(abs(value), 100)
        sign = -1 if value < 0 else 1
        if minutes < 60 and -12 <= sign * hours <= 14:
            return sign * (hours * 60 + minutes)
    raise ParseError("timezone out of range")


def _sntpcfg(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        listed = ",".join(f'"{s}"' for s in dev.sntp_servers)
        tz_hours, tz_minutes = divmod(abs(dev.sntp_tz), 60)
        sign = "-" if dev.sntp_tz < 0 else ""
        shown = f"{sign}{tz_hours}" if tz_minutes == 0 else f"{sign}{tz_hours:02d}{tz_minutes:02d}"
        dev.info(f"+CIPSNTPCFG:{int(dev.sntp_enabled)},{shown},{listed}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= 5:
        dev.error(now)
        return
    enable = cmd.int_at(0)
    if enable not in (0, 1):
        dev.error(now)
        return
    try:
        tz = _parse_tz(dev, cmd) if cmd.has(1) else 0
    except ParseError:
        dev.error(now)
        return
    servers = [cmd.str_at(i) for i in range(2, len(cmd.params)) if cmd.has(i)]
    dev.sntp_enabled = bool(enable)
    dev.sntp_tz = tz
    if servers:
        dev.sntp_servers = servers
    if not enable:
        dev.sntp_synced = False
    dev.ok(now)
    if enable and dev.wifi_connected() and not dev.sntp_synced:
        dev.schedule(dev.delay("sntp_sync"), dev.sntp_sync_done, now)


def _sntptime(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.QUERY:
        dev.error(now)
        return
    seconds = dev.wall_clock() + dev.sntp_tz * 60 if dev.sntp_synced else 0.0
    dev.info("+CIPSNTPTIME:" + time.asctime(time.gmtime(seconds)))
    dev.ok(now)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CIPDOMAIN": _cipdomain,
    "CIPDNS": _cipdns,
    "PING": _ping,
    "CIPSNTPCFG": _sntpcfg,
    "CIPSNTPTIME": _sntptime,
}
