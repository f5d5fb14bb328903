"""The W5500's integrated PHY as PHYCFGR shows it: cable, PHY reset, operation mode and autonegotiation.

Layer: sans-IO; time comes in as `now` (seconds, monotonic). The harness plugs or pulls the cable
(`set_cable`); the driver resets the PHY by writing PHYCFGR.RST 0 then 1, or powers it down through OPMDC. A
new OPMD/OPMDC takes effect when the PHY leaves reset. The link comes up `autoneg_delay` after the last reset
release, power-up or cable plug.
"""

from __future__ import annotations

from .registers import OPMDC_POWER_DOWN, PHYCFGR_DPX, PHYCFGR_LNK, PHYCFGR_OPMD, PHYCFGR_RST, PHYCFGR_SPD

# Speed/duplex reported for each effective OPMDC once the link is up: (100 Mb/s, full duplex).
_MODE_SPEED_DUPLEX = {
    0b000: (False, False),
    0b001: (False, True),
    0b010: (True, False),
    0b011: (True, True),
    0b100: (True, False),
    0b101: (True, True),
    0b110: (False, False),
    0b111: (True, True),
}


class Phy:
    def __init__(self, autoneg_delay: float = 0.0, cable: bool = True) -> None:
        self.autoneg_delay = autoneg_delay
        self.cable = cable
        self._written = 0xB8
        self._effective_mode = 0b111
        self._ready_at = 0.0

    def reset(self, now: float) -> None:
        self._written = 0xB8
        self._effective_mode = 0b111
        self._ready_at = now + self.autoneg_delay

    def set_cable(self, plugged: bool, now: float) -> None:
        if plugged and not self.cable:
            self._ready_at = now + self.autoneg_delay
        self.cable = plugged

    def write(self, value: int, now: float) -> None:
        was_in_reset = not self._written & PHYCFGR_RST
        self._written = value & 0xF8
        if was_in_reset and value & PHYCFGR_RST:
            self._effective_mode = (value >> 3) & 0x07 if value & PHYCFGR_OPMD else 0b111
            self._ready_at = now + self.autoneg_delay

    def link_up(self, now: float) -> bool:
        return (
            self.cable
            and bool(self._written & PHYCFGR_RST)
            and self._effective_mode != OPMDC_POWER_DOWN
            and now >= self._ready_at
        )

    def next_change(self, now: float) -> float | None:
        """When the link will come up by itself, if it is waiting for auto-negotiation."""
        return self._ready_at if self._ready_at > now else None

    def read(self, now: float) -> int:
        value = self._written
        if self.link_up(now):
            speed, duplex = _MODE_SPEED_DUPLEX[self._effective_mode]
            value |= PHYCFGR_LNK | (PHYCFGR_SPD if speed else 0) | (PHYCFGR_DPX if duplex else 0)
        return value
