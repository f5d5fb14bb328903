"""W5500 SPI frame codec (sans-IO): ``[ADDR_HI][ADDR_LO][CONTROL][DATA...]`` builders and the read-reply parser.

Layer rule: pure functions over bytes; the chip layer sends what these build, one frame per chip-select
assertion. Only variable-data-length mode (VDM, OM=00) is built: the host drives chip select, so every frame can
be as long as the bus allows. Frames longer than a bus transfer are split by :func:`chunks`, each chunk with its
own header and advanced offset (buffer blocks wrap inside the socket's ring on the chip, so offsets simply count
on, modulo 2^16).
"""

from __future__ import annotations

from collections.abc import Iterator

HEADER_SIZE = 3
RWB_WRITE = 0x04
OM_VDM = 0x00
MAX_BSB = 0x1F
MAX_OFFSET = 0xFFFF


def control_byte(bsb: int, write: bool) -> int:
    """``(BSB << 3) | (RWB << 2) | OM`` for a VDM frame."""
    if not 0 <= bsb <= MAX_BSB:
        raise ValueError(f"block select {bsb:#x} is outside 0..0x1f")
    return (bsb << 3) | (RWB_WRITE if write else 0) | OM_VDM


def header(bsb: int, offset: int, write: bool) -> list[int]:
    """The three header bytes: offset big-endian, then the control byte."""
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset {offset:#x} is outside 0..0xffff")
    return [offset >> 8, offset & 0xFF, control_byte(bsb, write)]


def read_frame(bsb: int, offset: int, length: int) -> list[int]:
    """A read of ``length`` bytes: the header followed by ``length`` dummy bytes clocked out on MOSI."""
    if length < 1:
        raise ValueError("a W5500 frame carries at least one data byte")
    return header(bsb, offset, write=False) + [0] * length


def write_frame(bsb: int, offset: int, data: bytes | bytearray | memoryview | list[int]) -> list[int]:
    """A write of ``data`` starting at ``offset``."""
    if len(data) < 1:
        raise ValueError("a W5500 frame carries at least one data byte")
    return header(bsb, offset, write=True) + list(data)


def parse_read(reply: list[int] | bytes | bytearray, length: int) -> bytes:
    """The data bytes of a read frame's reply (MISO during the header is meaningless and skipped).

    ``ValueError`` if the bus returned fewer bytes than were clocked: the transfer did not happen as framed."""
    if len(reply) != HEADER_SIZE + length:
        raise ValueError(f"SPI reply of {len(reply)} bytes for a {HEADER_SIZE + length}-byte frame")
    return bytes(reply[HEADER_SIZE:])


def chunks(offset: int, length: int, max_data: int) -> Iterator[tuple[int, int, int]]:
    """Split ``length`` bytes at ``offset`` into frames of at most ``max_data`` data bytes.

    Yields ``(offset, start, size)``: the chip offset of the chunk (wrapping at 2^16), where it starts in the
    caller's data, and its size."""
    if max_data < 1:
        raise ValueError("max_data must be at least 1")
    start = 0
    while start < length:
        size = min(max_data, length - start)
        yield (offset + start) & MAX_OFFSET, start, size
        start += size


def u16(data: bytes, index: int = 0) -> int:
    """A big-endian 16-bit value at ``index``."""
    return (data[index] << 8) | data[index + 1]


def u16_bytes(value: int) -> bytes:
    """``value`` (taken modulo 2^16, as the chip's free-running pointers are) as two big-endian bytes."""
    value &= 0xFFFF
    return bytes((value >> 8, value & 0xFF))
