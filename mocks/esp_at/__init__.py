"""netsocket.mocks.esp_at: an emulated ESP8266/ESP32 module running Espressif AT firmware, on a serial port.

Importing this package registers the ``espemu://`` scheme with pyserial::

    import serial, netsocket.mocks.esp_at
    port = serial.serial_for_url("espemu://?profile=at3_esp32&timescale=0.01", timeout=1)
    netsocket.mocks.esp_at.find_emulator(port).drop_wifi()

Layers (each module's docstring says which it belongs to): the sans-IO device model (`device`, `cmd_*`,
`atline`, `profiles`, `world`, `timing`, `state`, `pacer`), the host-socket bridge (`network`) and the I/O
adapters (`emulator`, `transport`, `urlhandler`, `cli`). See docs/esp_emulator.md.
"""

from __future__ import annotations

import serial

from .device import INJECTION_POINTS, QUIRKS, EspAtDevice, Faults
from .emulator import Emulator
from .network import HostNetwork
from .options import EmulatorOptions
from .profiles import PROFILES, Profile, get_profile
from .registry import find_emulator, running_emulators
from .timing import Timing
from .world import AccessPoint, EapCredentials, Security, World, default_world, features_world

_HANDLER_PACKAGE = "netsocket.mocks.esp_at.urlhandler"


def register_url_handler() -> None:
    """Make ``espemu://`` known to `serial.serial_for_url` (idempotent)."""
    if _HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(_HANDLER_PACKAGE)


register_url_handler()

__all__ = [
    "INJECTION_POINTS",
    "PROFILES",
    "QUIRKS",
    "AccessPoint",
    "EapCredentials",
    "Emulator",
    "EmulatorOptions",
    "EspAtDevice",
    "Faults",
    "HostNetwork",
    "Profile",
    "Security",
    "Timing",
    "World",
    "default_world",
    "features_world",
    "find_emulator",
    "get_profile",
    "register_url_handler",
    "running_emulators",
]
