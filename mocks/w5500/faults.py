"""Fault-injection switches for the chip model (reference checklist item 45).

Layer: plain data, read by the sans-IO chip. Tests flip these between SPI frames to prove that a driver bounds
every wait: a Sn_CR that never clears, a SEND that never completes, a corrupted UDP receive header, 16-bit
counters that change between the high and low byte reads, bogus Sn_SR values, and a MISO line stuck at one level.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChipFaults:
    stuck_cr: set[int] = field(default_factory=set)
    """Sockets whose Sn_CR keeps reading the written command and never executes it."""
    cr_busy_reads: int = 0
    """How many reads of Sn_CR return the command before it reads 0 (the command still runs at once)."""
    drop_send_ok: set[int] = field(default_factory=set)
    """Sockets on which SEND completes (TX_RD advances) but SEND_OK is never raised."""
    corrupt_rx_headers: int = 0
    """The next N UDP receive headers get a length field of 0xFFFF."""
    torn_reads: bool = False
    """Hold back RX arrivals and TX acknowledgements until a frame reads only the high byte of Sn_RX_RSR or
    Sn_TX_FSR, then apply them, so a driver reading the low byte next sees a torn 16-bit value."""
    spurious_sr: dict[int, list[int]] = field(default_factory=dict)
    """Per socket, values that the next reads of Sn_SR return (one per read) before the real status."""

    def inject_spurious_sr(self, sock: int, value: int = 0x01, reads: int = 1) -> None:
        self.spurious_sr.setdefault(sock, []).extend([value] * reads)

    miso_stuck: int | None = None
    """Every byte clocked in on MISO reads this value (0xFF: a chip that lost power or a broken MISO wire pulled
    high; 0x00: pulled low). MOSI still reaches the chip, so writes and commands go on taking effect."""
