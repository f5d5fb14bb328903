"""AT+MDNS: announce a host name and one service over mDNS.

Layer: sans-IO command handler of the device model. The emulator records the announcement in
`FeatureState.mdns` (nothing is multicast: the emulated module's network is loopback only). NonOS and ESP-AT 2.x
take ``AT+MDNS=<enable>[,"<hostname>","<service>",<port>]``; ESP-AT 3.x adds
``[,"<instance>"][,"<proto>"][,<txt_number>][,"<key>","<value>"]...`` (Espressif's AT+MDNS docs, master).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form, ParseError
from .state import MdnsRecord

if TYPE_CHECKING:
    from .device import EspAtDevice


def _mdns(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or not cmd.params:
        dev.error(now)
        return
    try:
        record = _parse(dev, cmd)
    except (ParseError, ValueError):
        dev.error(now)
        return
    dev.features.mdns = record
    dev.ok(now)


def _parse(dev: EspAtDevice, cmd: Command) -> MdnsRecord | None:
    enable = cmd.int_at(0)
    count = len(cmd.params)
    if enable == 0:
        if count != 1:
            raise ValueError("AT+MDNS=0 takes nothing more")
        return None
    if enable != 1 or count < 4 or (count > 4 and not dev.profile.mdns_extended):
        raise ValueError("AT+MDNS=1 needs hostname, service and port")
    hostname, service, port = cmd.str_at(1), cmd.str_at(2), cmd.int_at(3)
    if not hostname or not service or not 0 < port <= 65535:
        raise ValueError("bad mDNS host, service or port")
    instance = cmd.str_at(4, hostname)
    proto = cmd.str_at(5, "_tcp")
    txt: dict[str, str] = {}
    if cmd.has(6):
        pairs = cmd.int_at(6)
        if not 1 <= pairs <= 10 or count != 7 + 2 * pairs:
            raise ValueError("TXT count does not match the key/value pairs")
        txt = {cmd.str_at(7 + 2 * i): cmd.str_at(8 + 2 * i) for i in range(pairs)}
    elif count > 6:
        raise ValueError("key/value pairs without a count")
    return MdnsRecord(hostname, service, port, instance, proto, txt)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {"MDNS": _mdns}
