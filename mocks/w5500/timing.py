"""The chip's own retransmission timeouts, computed from RTR and RCR (datasheet formulas).

Layer: pure functions. Units: RTR counts 100 microseconds; results are in seconds.
"""

from __future__ import annotations

_RTR_UNIT_S = 100e-6
_RTR_CAP = 0xFFFF


def arp_timeout(rtr: int, rcr: int) -> float:
    """ARPTO = RTR x 0.1 ms x (RCR + 1)."""
    return rtr * _RTR_UNIT_S * (rcr + 1)


def tcp_timeout(rtr: int, rcr: int) -> float:
    """TCPTO with exponential back-off: each retry doubles RTR until the doubled value would exceed 65535."""
    total = 0
    interval = rtr
    for _ in range(rcr + 1):
        total += interval
        if interval * 2 <= _RTR_CAP:
            interval *= 2
    return total * _RTR_UNIT_S
