"""Wi-Fi station commands: AT+CWMODE, AT+CWJAP, AT+CWQAP, AT+CWLAP/CWLAPOPT, AT+CWSTATE, AT+CWAUTOCONN,
AT+CWHOSTNAME, AT+CWDHCP and the address queries AT+CIPSTA, AT+CIFSR, AT+CIPSTAMAC.

Layer: sans-IO command handlers of the device model. Joins and scans take their `Timing` delays with the
module busy meanwhile (reference §3.1, checklist items 24 and 32).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import cmd_ipv6, cmd_joinmodes, cmd_softap
from .atline import Command, Form
from .state import WifiState
from .world import CIPHERS, AccessPoint, Security

if TYPE_CHECKING:
    from .device import EspAtDevice


def _sta_enabled(dev: EspAtDevice) -> bool:
    return dev.cwmode in (1, 3)


def _cwmode(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+{cmd.name}:{dev.cwmode}")
        dev.ok(now)
        return
    if cmd.form is Form.TEST and dev.profile.cwmode_test_form:
        dev.info(f"+{cmd.name}:(1-3)")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 1 <= len(cmd.params) <= dev.profile.cwmode_max_params:
        dev.error(now)
        return
    mode = cmd.int_at(0)
    lowest = 0 if dev.profile.cwmode_zero_allowed else 1
    if not lowest <= mode <= 3:
        dev.error(now)
        return

    def switched(at: float) -> None:
        if mode not in (1, 3) and dev.wifi in (WifiState.GOT_IP, WifiState.NO_IP):
            dev.emit(b"WIFI DISCONNECT\r\n")
            dev.close_links_on_wifi_loss()
            dev.wifi = WifiState.DISCONNECTED
        was_up = cmd_softap.softap_up(dev)
        dev.cwmode = mode
        dev.ok(at)
        cmd_softap.softap_mode_changed(dev, at, was_up)

    dev.run_busy(dev.delay("cwmode"), switched, now)


def _cwjap(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        ap = dev.ap
        if ap is not None and dev.wifi_connected():
            dev.info(f'+{cmd.name}:"{ap.ssid}","{ap.bssid}",{ap.channel},{ap.rssi}{dev.profile.cwjap_query_tail}')
        else:
            dev.info("No AP")
        dev.ok(now)
        return
    if cmd.form is Form.EXECUTE and dev.profile.cwjap_execute_reconnects:
        if dev.stored_ap is None:
            dev.error(now)
            return
        ssid, password, bssid = dev.stored_ap[0], dev.stored_ap[1], None
    elif cmd.form is Form.SET and len(cmd.params) >= 2:
        ssid = cmd.str_at(0)
        password = cmd.str_at(1, "")
        bssid = cmd.str_at(2) if cmd.has(2) else None
    else:
        dev.error(now)
        return
    if not _sta_enabled(dev) or not 0 < len(ssid.encode()) <= 32 or len(password.encode()) > 64:
        dev.error(now)
        return
    stores = not cmd.name.endswith("_CUR") and (dev.sysstore or not dev.profile.join_store_follows_sysstore)
    was_connected = dev.wifi in (WifiState.GOT_IP, WifiState.NO_IP)
    if was_connected:
        dev.emit(b"WIFI DISCONNECT\r\n")
        dev.close_links_on_wifi_loss()
    dev.wifi = WifiState.CONNECTING
    dev.ap = None
    ap = dev.world.find_ap(ssid, bssid)
    if ap is not None and cmd_joinmodes.seen_security(dev, ap) is None:
        ap = None  # a security this firmware does not know (WPA3 before ESP-AT 3.x): as good as absent
    if ap is None:
        dev.run_busy(dev.delay("join_fail_not_found"), lambda at: _join_failed(dev, 3, at), now)
        return
    if not ap.accepts(password):
        dev.run_busy(dev.delay("join_fail_wrong_password"), lambda at: _join_failed(dev, 2, at), now)
        return

    def remember() -> None:
        if stores:
            dev.stored_ap = (ssid, password)

    dev.join_accepted(ap, now, remember)


def _join_failed(dev: EspAtDevice, code: int, now: float) -> None:
    dev.wifi = WifiState.DISCONNECTED
    quirk = dev.quirk("join_connected_then_fail")
    if quirk:
        dev.emit(b"WIFI CONNECTED\r\n")
    dev.info(f"+CWJAP:{code}")
    dev.injection_point("before_final", now)
    dev.emit(dev.profile.cwjap_failure_final)
    if quirk:
        dev.emit(b"WIFI DISCONNECT\r\n")


def _cwqap(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    was_connected = dev.wifi in (WifiState.GOT_IP, WifiState.NO_IP)
    dev.wifi = WifiState.DISCONNECTED if dev.wifi != WifiState.NEVER else WifiState.NEVER
    dev.ap = None
    early = was_connected and dev.quirk("cwqap_disconnect_before_ok")
    if early:
        dev.emit(b"WIFI DISCONNECT\r\n")
    dev.ok(now)
    if was_connected:
        if not early:
            dev.emit(b"WIFI DISCONNECT\r\n")
        dev.close_links_on_wifi_loss()


def _cwstate(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.QUERY:
        dev.error(now)
        return
    ssid = dev.ap.ssid if dev.ap is not None and dev.wifi in (WifiState.GOT_IP, WifiState.NO_IP) else ""
    dev.info(f'+CWSTATE:{int(dev.wifi)},"{ssid}"')
    dev.ok(now)


def _cwlap_line(dev: EspAtDevice, ap: AccessPoint, ecn: int) -> str:
    cipher = CIPHERS[Security(ecn)]
    values = [
        str(ecn),
        f'"{ap.ssid}"',
        str(ap.rssi),
        f'"{ap.bssid}"',
        str(ap.channel),
        "-1",
        "-1",
        str(cipher),
        str(cipher),
        "7",
        "0",
    ]
    mask = dev.cwlapopt[1]
    fields = [value for bit, value in enumerate(values) if mask & (1 << bit)]
    return "+CWLAP:(" + ",".join(fields) + ")"


def _cwlap(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form not in (Form.EXECUTE, Form.SET) or not _sta_enabled(dev):
        dev.error(now)
        return
    wanted_ssid = cmd.str_at(0) if cmd.form is Form.SET and cmd.has(0) else None
    wanted_mac = cmd.str_at(1) if cmd.form is Form.SET and cmd.has(1) else None
    wanted_channel = cmd.int_at(2) if cmd.form is Form.SET and cmd.has(2) else None

    def done(at: float) -> None:
        sort, _, rssi_min, auth_mask = dev.cwlapopt
        seen = [(ap, cmd_joinmodes.seen_security(dev, ap)) for ap in dev.world.access_points]
        found = [
            (ap, ecn)
            for ap, ecn in seen
            if ap.available
            and ecn is not None
            and (wanted_ssid is None or ap.ssid == wanted_ssid)
            and (wanted_mac is None or ap.bssid.lower() == wanted_mac.lower())
            and (wanted_channel is None or ap.channel == wanted_channel)
            and ap.rssi >= rssi_min
            and auth_mask & (1 << ecn)
        ]
        if sort:
            found.sort(key=lambda pair: pair[0].rssi, reverse=True)
        for ap, ecn in found:
            dev.info(_cwlap_line(dev, ap, ecn))
        dev.ok(at)

    dev.run_busy(dev.delay("scan"), done, now)


def _cwlapopt(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or not 2 <= len(cmd.params) <= dev.profile.cwlapopt_max_params:
        dev.error(now)
        return
    sort = cmd.int_at(0)
    mask = cmd.int_at(1)
    rssi_min = cmd.int_at(2, -100)
    auth_mask = cmd.int_at(3, 0xFFFF)
    if sort not in (0, 1) or not 0 <= mask <= 0x7FF or not -100 <= rssi_min <= 40:
        dev.error(now)
        return
    # ESP-AT calls the first parameter "reserved": only NonOS sorts by RSSI (reference §3.9).
    dev.cwlapopt = (sort if dev.profile.cwlapopt_sorts else 0, mask, rssi_min, auth_mask)
    dev.ok(now)


def _cwautoconn(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CWAUTOCONN:{int(dev.autoconnect)}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or cmd.int_at(0) not in (0, 1):
        dev.error(now)
        return
    dev.autoconnect = bool(cmd.int_at(0))
    dev.ok(now)


def _cwhostname(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CWHOSTNAME:{dev.hostname}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not _sta_enabled(dev):
        dev.error(now)
        return
    name = cmd.str_at(0)
    if not 0 < len(name) <= 32:
        dev.error(now)
        return
    dev.hostname = name
    dev.ok(now)


def _cwdhcp(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+{cmd.name}:3")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 2:
        dev.error(now)
        return
    cmd.int_at(0)
    cmd.int_at(1)
    dev.ok(now)


def _station_addresses(dev: EspAtDevice) -> tuple[str, str, str]:
    if dev.wifi_connected():
        return dev.world.station_ip, dev.world.gateway, dev.world.netmask
    return "0.0.0.0", "0.0.0.0", "0.0.0.0"


def _cipsta(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        ip, gateway, netmask = _station_addresses(dev)
        dev.info(f'+{cmd.name}:ip:"{ip}"')
        dev.info(f'+{cmd.name}:gateway:"{gateway}"')
        dev.info(f'+{cmd.name}:netmask:"{netmask}"')
        for line in cmd_ipv6.cipsta_lines(dev, cmd.name):
            dev.info(line)
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) not in (1, 3):
        dev.error(now)
        return
    values = [cmd.str_at(i) for i in range(len(cmd.params))]
    dev.world.station_ip = values[0]
    if len(values) == 3:
        dev.world.gateway, dev.world.netmask = values[1], values[2]
    dev.ok(now)


def _cifsr(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    if dev.cwmode in (2, 3):
        dev.info(f'+CIFSR:APIP,"{dev.world.softap_ip}"')
        dev.info(f'+CIFSR:APMAC,"{dev.world.softap_mac}"')
    if dev.cwmode in (1, 3):
        dev.info(f'+CIFSR:STAIP,"{_station_addresses(dev)[0]}"')
        dev.info(f'+CIFSR:STAMAC,"{dev.world.station_mac}"')
    dev.ok(now)


def _cipstamac(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f'+{cmd.name}:"{dev.world.station_mac}"')
        dev.ok(now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    mac = cmd.str_at(0)
    parts = mac.split(":")
    try:
        octets = [int(p, 16) for p in parts]
    except ValueError:
        octets = []
    if len(octets) != 6 or any(not 0 <= o <= 255 for o in octets) or octets[0] & 1:
        dev.error(now)
        return
    dev.world.station_mac = mac.lower()
    dev.ok(now)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "CWMODE": _cwmode,
    "CWJAP": _cwjap,
    "CWQAP": _cwqap,
    "CWSTATE": _cwstate,
    "CWLAP": _cwlap,
    "CWLAPOPT": _cwlapopt,
    "CWAUTOCONN": _cwautoconn,
    "CWHOSTNAME": _cwhostname,
    "CWDHCP": _cwdhcp,
    "CIPSTA": _cipsta,
    "CIFSR": _cifsr,
    "CIPSTAMAC": _cipstamac,
}
