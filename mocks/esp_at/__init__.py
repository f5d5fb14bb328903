"""mocks.esp_at: an emulated ESP8266/ESP32 module running Espressif AT firmware, on a serial port.

Importing this package registers the ``espemu://`` scheme with pyserial::

    import serial, mocks.esp_at
    port = serial.serial_for_url("espemu://?profile=at3_esp32&timescale=0.01", timeout=1)
    mocks.esp_at.find_emulator(port).drop_wifi()

Layers (each module's docstring says which it belongs to): the sans-IO device model (`device`, `cmd_*`,
`atline`, `profiles`, `world`, `timing`, `state`, `pacer`), the host-socket bridge (`network`) and the I/O
adapters (`emulator`, `transport`, `urlhandler`, `cli`). See docs/esp_emulator.md.
"""

from __future__ import annotations

from mocks.esp_at.device import INJECTION_POINTS, QUIRKS, EspAtDevice, Faults
from mocks.esp_at.emulator import Emulator
from mocks.esp_at.network import HostNetwork
from mocks.esp_at.options import EmulatorOptions
from mocks.esp_at.profiles import PROFILES, Profile, get_profile
from mocks.esp_at.registry import find_emulator, running_emulators
from mocks.esp_at.timing import Timing
from mocks.esp_at.world import AccessPoint, Security, World, default_world

_HANDLER_PACKAGE = "mocks.esp_at.urlhandler"


def register_url_handler() -> None:
    """Make ``espemu://`` known to `serial.serial_for_url` (idempotent; a no-op without pyserial)."""
    try:
        import serial
    except ImportError:
        return
    if _HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(_HANDLER_PACKAGE)


register_url_handler()

__all__ = [
    "INJECTION_POINTS",
    "PROFILES",
    "QUIRKS",
    "AccessPoint",
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
    "find_emulator",
    "get_profile",
    "register_url_handler",
    "running_emulators",
]
