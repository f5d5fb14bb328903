"""Streaming decoder for W5500 SPI frames: address (2) | control (1) | data (N).

Layer: sans-IO. The decoder sees the bytes clocked in on MOSI between a chip-select fall (`select`) and rise
(`deselect`) and hands the data phase to a register space in chunks (so buffer bursts are cheap). Variable-
length mode (OM=00) lasts until chip select rises; fixed-length modes (OM=01/10/11 -> 1/2/4 bytes) start a new
frame after that many data bytes even while chip select stays low. MISO during the header is the constant 01
02 03.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

HEADER_MISO = b"\x01\x02\x03"
_FDM_LENGTHS = {0: 0, 1: 1, 2: 2, 3: 4}


@dataclass
class FrameInfo:
    """One frame's header and how many data bytes it carried; the offset auto-increments from `start`."""

    block: int
    write: bool
    start: int
    length: int = 0


class RegisterSpace(Protocol):
    def read(self, block: int, offset: int, count: int) -> bytes: ...

    def write(self, block: int, offset: int, data: bytes) -> None: ...

    def frame_done(self, frame: FrameInfo) -> None: ...


class FrameDecoder:
    def __init__(self, space: RegisterSpace) -> None:
        self._space = space
        self._header = bytearray()
        self._frame: FrameInfo | None = None
        self._fixed_len = 0
        self.frames = 0

    def select(self) -> None:
        self._header = bytearray()
        self._frame = None

    def exchange(self, mosi: bytes) -> bytes:
        out = bytearray()
        pos = 0
        while pos < len(mosi):
            frame = self._frame
            if frame is None:
                take = min(3 - len(self._header), len(mosi) - pos)
                out += HEADER_MISO[len(self._header) : len(self._header) + take]
                self._header += mosi[pos : pos + take]
                pos += take
                if len(self._header) == 3:
                    self._start_frame()
                continue
            take = len(mosi) - pos
            if self._fixed_len:
                take = min(take, self._fixed_len - frame.length)
            offset = (frame.start + frame.length) & 0xFFFF
            if frame.write:
                self._space.write(frame.block, offset, mosi[pos : pos + take])
                out += bytes(take)
            else:
                out += self._space.read(frame.block, offset, take)
            frame.length += take
            pos += take
            if self._fixed_len and frame.length == self._fixed_len:
                self._finish()
        return bytes(out)

    def deselect(self) -> None:
        self._finish()

    def _start_frame(self) -> None:
        addr_hi, addr_lo, control = self._header
        self._fixed_len = _FDM_LENGTHS[control & 0x03]
        self._frame = FrameInfo(block=control >> 3, write=bool(control & 0x04), start=(addr_hi << 8) | addr_lo)

    def _finish(self) -> None:
        if self._frame is not None:
            self.frames += 1
            self._space.frame_done(self._frame)
        self._frame = None
        self._header = bytearray()
