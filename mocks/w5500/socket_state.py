"""Per-socket state of the chip model: register bytes, status, interrupt bits, ring pointers, the one timer.

Layer: sans-IO data. Pointers are free-running 16-bit counters. `rx_wr`/`tx_rd` are where the chip really is;
`rx_wr_seen`/`tx_rd_seen` are what the host can read. They differ only in torn-read mode, where updates are
published in the middle of the host's two single-byte reads of a 16-bit counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .registers import SOCKET_RESET, SOCKET_SIZE, Status


class TimerAction(Enum):
    CLOSE_WITH_TIMEOUT = "close"
    """ARPTO/TCPTO on a TCP socket: Sn_IR.TIMEOUT and SR=CLOSED."""
    UDP_ARP_TIMEOUT = "udp_arp"
    """ARPTO on a UDP SEND: Sn_IR.TIMEOUT, the datagram is dropped, the socket stays open."""


def reset_registers() -> bytearray:
    regs = bytearray(SOCKET_SIZE)
    for offset, value in SOCKET_RESET.items():
        regs[offset] = value
    return regs


@dataclass
class SocketState:
    regs: bytearray = field(default_factory=reset_registers)
    status: int = Status.CLOSED
    ir: int = 0
    pending_ir: int = 0
    tx_rd: int = 0
    tx_rd_seen: int = 0
    tx_wr: int = 0
    send_pending: bool = False
    rx_wr: int = 0
    rx_wr_seen: int = 0
    rx_rd: int = 0
    deadline: float | None = None
    timer_action: TimerAction | None = None
    held_tx: bytearray = field(default_factory=bytearray)
    cr_value: int = 0
    cr_busy_reads: int = 0
    cr_stuck: bool = False

    def reg16(self, offset: int) -> int:
        return (self.regs[offset] << 8) | self.regs[offset + 1]

    def set_reg16(self, offset: int, value: int) -> None:
        self.regs[offset] = (value >> 8) & 0xFF
        self.regs[offset + 1] = value & 0xFF

    def set_timer(self, at: float, action: TimerAction) -> None:
        self.deadline = at
        self.timer_action = action

    def clear_timer(self) -> None:
        self.deadline = None
        self.timer_action = None

    def reset_pointers(self, initial: int) -> None:
        for name in ("tx_rd", "tx_rd_seen", "tx_wr", "rx_wr", "rx_wr_seen", "rx_rd"):
            setattr(self, name, initial & 0xFFFF)
        self.send_pending = False
        self.held_tx.clear()
