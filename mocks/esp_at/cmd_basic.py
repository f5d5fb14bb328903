"""Basic and system commands: AT+RST, AT+RESTORE, AT+GMR, AT+UART_CUR/_DEF, AT+SYSMSG, AT+SYSSTORE, AT+SYSLOG
and the NonOS-only commands a driver probes the dialect with (AT+CIPSSLSIZE; AT+CIPSSLCCONF is in `cmd_tls`).

Layer: sans-IO command handlers of the device model; each takes (device, command, now) and only calls the
device's emit/ok/error/schedule helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form, ParseError
from .state import SoftApConfig, UartSettings

if TYPE_CHECKING:
    from .device import EspAtDevice


def _rst(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    dev.ok(now)
    if dev.profile.wifi_disconnect_on_rst and dev.wifi_connected():
        dev.emit(b"WIFI DISCONNECT\r\n")
    dev.reboot(now)


def _restore(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    for link_id in sorted(dev.links):
        dev.drop_link(link_id, announce=True)
    dev.stored_ap = None
    dev.autoconnect = True
    dev.cwmode = 1
    dev.uart_def = UartSettings()
    dev.sysmsg_stored = 0
    dev.softap_config_stored = SoftApConfig(max_conn=dev.profile.softap_max_conn)
    dev.ok(now)
    dev.reboot(now)


def _gmr(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.EXECUTE:
        dev.error(now)
        return
    for line in dev.profile.gmr_lines:
        dev.info(line)
    dev.injection_point("before_final", now)
    dev.emit(dev.profile.gmr_final)


def actual_baud(dev: EspAtDevice, baud: int) -> int:
    """The baud the UART divider really produces (reference §3.4: 115273 for 115200 on an ESP8266)."""
    scale = 1 << dev.profile.uart_divider_frac_bits
    divider = round(dev.profile.uart_clock_hz * scale / baud)
    return int(dev.profile.uart_clock_hz * scale / divider)


def _uart(dev: EspAtDevice, cmd: Command, now: float) -> None:
    settings = dev.uart if cmd.name.endswith("_CUR") else dev.uart_def
    if cmd.form is Form.QUERY:
        dev.info(
            f"+{cmd.name}:{actual_baud(dev, settings.baud)},{settings.databits},{settings.stopbits},"
            f"{settings.parity},{settings.flow}"
        )
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 5:
        dev.error(now)
        return
    baud, databits, stopbits, parity, flow = (cmd.int_at(i) for i in range(5))
    if not (80 <= baud <= dev.profile.uart_max_baud and 5 <= databits <= 8 and 1 <= stopbits <= 3 and 0 <= parity <= 2):
        dev.error(now)
        return
    if not 0 <= flow <= 3:
        dev.error(now)
        return
    new = UartSettings(baud, databits, stopbits, parity, flow)
    if cmd.name.endswith("_DEF"):
        dev.uart_def = UartSettings(**vars(new))
    dev.ok(now)
    # OK goes out at the old settings; the switch happens once TX has drained (the adapter does that part).
    dev.uart = new
    dev.request_baud(baud)


def _sysmsg(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+{cmd.name}:{dev.sysmsg}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    value = cmd.int_at(0)
    if not 0 <= value <= dev.profile.sysmsg_max:
        dev.error(now)
        return
    dev.sysmsg = value
    if not cmd.name.endswith("_CUR"):
        dev.sysmsg_stored = value
    dev.ok(now)


def _flag(attribute: str) -> Callable[[EspAtDevice, Command, float], None]:
    def handler(dev: EspAtDevice, cmd: Command, now: float) -> None:
        if cmd.form is Form.QUERY:
            dev.info(f"+{cmd.name}:{int(getattr(dev, attribute))}")
            dev.ok(now)
            return
        if cmd.form is not Form.SET or len(cmd.params) != 1 or cmd.int_at(0) not in (0, 1):
            dev.error(now)
            return
        setattr(dev, attribute, bool(cmd.int_at(0)))
        dev.ok(now)

    return handler


def _sslsize(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        dev.info(f"+CIPSSLSIZE:{dev.ssl_size}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    size = cmd.int_at(0)
    if not 2048 <= size <= 4096:
        dev.error(now)
        return
    dev.ssl_size = size
    dev.ok(now)


def _accept_set(dev: EspAtDevice, cmd: Command, now: float) -> None:
    """Commands whose effect the emulator does not model, but which a real module accepts."""
    if cmd.form is not Form.SET:
        dev.error(now)
        return
    try:
        for i in range(len(cmd.params)):
            cmd.int_at(i)
    except ParseError:
        dev.error(now)
        return
    dev.ok(now)


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "RST": _rst,
    "RESTORE": _restore,
    "GMR": _gmr,
    "UART_CUR": _uart,
    "UART_DEF": _uart,
    "SYSMSG": _sysmsg,
    "SYSSTORE": _flag("sysstore"),
    "SYSLOG": _flag("syslog"),
    "CIPSSLSIZE": _sslsize,
    "CIPCLOSEMODE": _accept_set,
    "CIPSENDBUF": _accept_set,
}
