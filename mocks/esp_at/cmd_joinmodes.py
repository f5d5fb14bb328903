"""Join modes beyond WPA2-PSK: which security values a firmware knows (WPA3 on ESP-AT 3.x only), and
AT+CWJEAP, the WPA2-Enterprise join of ESP-AT on ESP32.

Layer: sans-IO command handlers and helpers of the device model. Joining by BSSID is AT+CWJAP's third parameter
(`cmd_wifi`); this module decides what an access point looks like to the profile's firmware: an AP whose
security the firmware does not know is invisible to AT+CWLAP and AT+CWJAP (it fails with code 3), except a
WPA2/WPA3 transition-mode AP, which a WPA2-only firmware sees and joins as WPA2_PSK (`Profile.security_fallback`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form
from .state import WifiState
from .world import AccessPoint, Security

if TYPE_CHECKING:
    from .device import EspAtDevice


def seen_security(dev: EspAtDevice, ap: AccessPoint) -> int | None:
    """The ``<ecn>`` the profile's firmware reports for `ap`, or None when it cannot see or join it."""
    value = dict(dev.profile.security_fallback).get(int(ap.security), int(ap.security))
    return value if value in dev.profile.scan_securities else None


def _cwjeap(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        joined = dev.features.eap_join
        if joined is not None and dev.wifi_connected():
            ssid, method, identity, username, password, security = joined
            dev.info(f'+CWJEAP:"{ssid}",{method},"{identity}","{username}","{password}",{security}')
        dev.ok(now)
        return
    if cmd.form is not Form.SET or not 6 <= len(cmd.params) <= 7:
        dev.error(now)
        return
    ssid, method, identity = cmd.str_at(0), cmd.int_at(1), cmd.str_at(2)
    username, password, security = cmd.str_at(3, ""), cmd.str_at(4, ""), cmd.int_at(5)
    timeout = cmd.int_at(6, 15)
    needs_password = method in (1, 2)
    valid = (
        dev.cwmode in (1, 3)
        and 0 < len(ssid.encode()) <= 32
        and method in (0, 1, 2)
        and 1 <= len(identity) <= 32
        and (not needs_password or (1 <= len(username) <= 32 and 1 <= len(password) <= 32))
        and 0 <= security <= 3
        and 3 <= timeout <= 600
    )
    if not valid:
        dev.error(now)
        return
    if dev.wifi in (WifiState.GOT_IP, WifiState.NO_IP):
        dev.emit(b"WIFI DISCONNECT\r\n")
        dev.close_links_on_wifi_loss()
    dev.wifi = WifiState.CONNECTING
    dev.ap = None
    dev.features.eap_join = None
    ap = dev.world.find_ap(ssid)
    credentials = ap.eap if ap is not None and ap.security == Security.WPA2_ENTERPRISE else None
    accepted = (
        credentials is not None
        and method in credentials.methods
        and identity == credentials.identity
        # EAP-TLS authenticates with the client certificate (<security> bit 0) instead of a password.
        and (
            (method == 0 and security & 1 == 1)
            or (username == credentials.username and password == credentials.password)
        )
    )
    if ap is None or not accepted:

        def failed(at: float) -> None:
            dev.wifi = WifiState.DISCONNECTED
            dev.info("+CWJEAP:Timeout")  # the one failure line Espressif documents for AT+CWJEAP
            dev.injection_point("before_final", at)
            dev.emit(b"\r\nERROR\r\n")

        delay = "join_fail_not_found" if ap is None else "join_fail_wrong_password"
        dev.run_busy(dev.delay(delay), failed, now)
        return

    def remember() -> None:
        dev.features.eap_join = (ssid, method, identity, username, password, security)

    dev.join_accepted(ap, now, remember)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {"CWJEAP": _cwjeap}
