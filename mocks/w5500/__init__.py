"""netsocket.mocks.w5500: a WIZnet W5500 behind a fake SPI bus, on an emulated LAN bridged to loopback.

`FakeSpiDev()` is the entry point (py-spidev's surface); `W5500Emulator` is the device itself, `LanConfig` the
network around it (DHCP pool, lease time, DNS relay), `ChipFaults` the fault-injection switches, and
`W5500Chip` the sans-IO register-level model for tests that want no threads at all.
"""

from __future__ import annotations

from .chip import W5500Chip
from .dhcp_server import DhcpConfig, DhcpServer
from .emulator import SpiStats, W5500Emulator, open_emulators
from .fake_spidev import FakeSpiDev
from .faults import ChipFaults
from .lan import LanConfig

__all__ = [
    "ChipFaults",
    "DhcpConfig",
    "DhcpServer",
    "FakeSpiDev",
    "LanConfig",
    "SpiStats",
    "W5500Chip",
    "W5500Emulator",
    "open_emulators",
]
