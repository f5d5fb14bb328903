"""Power saving: AT+SLEEP (modem and light sleep) and AT+GSLP (deep sleep).

Layer: sans-IO command handlers of the device model. Sleep modes change nothing on the emulated wire (a real
module in modem or light sleep still answers its UART); the mode numbers differ per family and live in the
profile (reference §3.26). Deep sleep is a power-off: ``<ms>`` and ``OK`` go out, every link vanishes without
``CLOSED``, host bytes are lost, and after the sleep time (scaled by `timescale`) the module boots and prints
``ready`` like after a reset. This assumes that an ESP8266 has GPIO16 wired to RST (reference §1.8); without it a
real ESP8266 never wakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .atline import Command, Form

if TYPE_CHECKING:
    from .device import EspAtDevice

#: "The maximum Deep-sleep time is about 28.8 days (2^31-1 milliseconds)" (Espressif's AT+GSLP docs).
_GSLP_MAX_MS = 2**31 - 1


def _sleep(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is Form.QUERY:
        shown = dict(dev.profile.sleep_query_alias).get(dev.features.sleep_mode, dev.features.sleep_mode)
        dev.info(f"+SLEEP:{shown}")
        dev.ok(now)
        return
    if cmd.form is not Form.SET or len(cmd.params) != 1:
        dev.error(now)
        return
    mode = cmd.int_at(0)
    if mode not in dev.profile.sleep_modes or dev.cwmode not in (1, 3):
        dev.error(now)  # sleep modes need the station (reference §3.26)
        return
    dev.features.sleep_mode = mode
    dev.ok(now)


def _gslp(dev: EspAtDevice, cmd: Command, now: float) -> None:
    if cmd.form is not Form.SET or len(cmd.params) != 1:
        dev.error(now)
        return
    millis = cmd.int_at(0)
    if not 0 <= millis <= _GSLP_MAX_MS:
        dev.error(now)
        return
    dev.info(str(millis))
    dev.ok(now)
    if millis == 0 and dev.profile.gslp_zero_restarts:
        dev.reboot(now)
    elif millis == 0:
        dev.deep_sleep(now, None)  # ESP8266: asleep until an external reset (`inject_reset`)
    else:
        dev.deep_sleep(now, dev.timing.scaled(millis / 1000.0))


HANDLERS: dict[str, Callable[[EspAtDevice, Command, float], None]] = {
    "SLEEP": _sleep,
    "GSLP": _gslp,
}
