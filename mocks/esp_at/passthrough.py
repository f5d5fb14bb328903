"""Passthrough ("transparent") mode: AT+CIPMODE=1 plus a bare AT+CIPSEND makes every UART byte payload.

Layer: sans-IO part of the device model. Rules from the reference's §1.7 and checklist item 30: payload goes
out when the buffer reaches the send limit or after a 20 ms idle gap; ``+++`` alone, with the guard time of
silence before and after and less than the guard between the pluses, leaves the mode silently (``+QUITT`` with
SYSMSG bit 0); anything else containing ``+++`` is payload. Data from the peer is written raw, with no
``+IPD``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .state import InputMode, Link

if TYPE_CHECKING:
    from .device import EspAtDevice

_PLUS = 0x2B


@dataclass
class Passthrough:
    link: Link
    last_byte_at: float
    buffer: bytearray = field(default_factory=bytearray)
    guarded_before: bool = False
    pluses_close: bool = True


def enter(dev: EspAtDevice, link: Link, now: float) -> None:
    dev.passthrough = Passthrough(link, now)
    dev.input_mode = InputMode.PASSTHROUGH


def feed_byte(dev: EspAtDevice, state: Passthrough, byte: int, now: float) -> None:
    guard = dev.delay("plus_guard")
    gap = now - state.last_byte_at
    if byte == _PLUS and not state.buffer:
        state.guarded_before = gap >= guard
        state.pluses_close = True
    elif byte == _PLUS and bytes(state.buffer) in (b"+", b"++") and gap >= guard:
        state.pluses_close = False
    state.buffer.append(byte)
    state.last_byte_at = now
    if len(state.buffer) >= dev.profile.max_send_len:
        _flush(state, now)


def _flush(state: Passthrough, now: float) -> None:
    if state.buffer:
        state.link.conn.send(bytes(state.buffer))
        state.link.last_activity = now
        state.buffer.clear()


def deadline(dev: EspAtDevice, state: Passthrough) -> float | None:
    return state.last_byte_at + dev.delay("plus_guard") if state.buffer else None


def tick(dev: EspAtDevice, state: Passthrough, now: float) -> None:
    if not state.buffer or now - state.last_byte_at < dev.delay("plus_guard"):
        return
    if state.buffer == b"+++" and state.guarded_before and state.pluses_close:
        state.buffer.clear()
        leave(dev)
        if dev.sysmsg & 1:
            dev.emit(b"+QUITT\r\n")
        return
    _flush(state, now)


def leave(dev: EspAtDevice) -> None:
    dev.passthrough = None
    dev.input_mode = InputMode.LINE


def poll(dev: EspAtDevice, state: Passthrough, now: float, tx_backlog: int) -> None:
    """Peer data goes to the UART raw; a peer close ends the mode silently."""
    if tx_backlog >= 4096:
        return
    data = state.link.conn.recv(dev.profile.ipd_max_chunk)
    if data is None:
        return
    if data == b"":
        leave(dev)
        dev.drop_link(state.link.id, announce=False)
        return
    state.link.last_activity = now
    dev.emit(data)
