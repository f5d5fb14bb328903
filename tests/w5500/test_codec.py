"""The sans-IO register map and frame codec of drivers.w5500 (no bus, no threads)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from netsocket.drivers.w5500 import frame
from netsocket.drivers.w5500.registers import (
    Common,
    Sn,
    buffer_size_code,
    socket_registers,
    socket_rx_buffer,
    socket_tx_buffer,
)


@pytest.mark.parametrize("n", range(8))
def test_control_bytes_match_the_datasheet_table(n: int) -> None:
    assert frame.control_byte(socket_registers(n), write=False) == 0x08 + 0x20 * n
    assert frame.control_byte(socket_registers(n), write=True) == 0x0C + 0x20 * n
    assert frame.control_byte(socket_tx_buffer(n), write=False) == 0x10 + 0x20 * n
    assert frame.control_byte(socket_tx_buffer(n), write=True) == 0x14 + 0x20 * n
    assert frame.control_byte(socket_rx_buffer(n), write=False) == 0x18 + 0x20 * n
    assert frame.control_byte(socket_rx_buffer(n), write=True) == 0x1C + 0x20 * n


def test_common_block_frames() -> None:
    assert frame.read_frame(0, Common.VERSIONR, 1) == [0x00, 0x39, 0x00, 0x00]
    assert frame.write_frame(0, Common.MR, b"\x80") == [0x00, 0x00, 0x04, 0x80]
    assert frame.write_frame(socket_registers(2), Sn.TX_WR, frame.u16_bytes(0x1234)) == [0x00, 0x24, 0x4C, 0x12, 0x34]


def test_out_of_range_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        frame.control_byte(0x20, write=False)
    with pytest.raises(ValueError):
        frame.header(0, 0x10000, write=False)
    with pytest.raises(ValueError):
        frame.read_frame(0, 0, 0)
    with pytest.raises(ValueError):
        frame.write_frame(0, 0, b"")
    with pytest.raises(ValueError):
        socket_registers(8)
    with pytest.raises(ValueError):
        buffer_size_code(3)


def test_parse_read_skips_the_header_and_checks_the_length() -> None:
    assert frame.parse_read([1, 2, 3, 0xAB, 0xCD], 2) == b"\xab\xcd"
    with pytest.raises(ValueError):
        frame.parse_read([1, 2, 3, 0xAB], 2)


def test_pointers_wrap_at_16_bits() -> None:
    assert frame.u16_bytes(0x10005) == b"\x00\x05"
    assert frame.u16(b"\xff\xfe") == 0xFFFE


@given(
    offset=st.integers(0, 0xFFFF),
    length=st.integers(0, 20_000),
    max_data=st.integers(1, 5000),
)
def test_chunks_cover_the_span_in_order_with_wrapping_offsets(offset: int, length: int, max_data: int) -> None:
    pieces = list(frame.chunks(offset, length, max_data))
    assert sum(size for _, _, size in pieces) == length
    position = 0
    for chunk_offset, start, size in pieces:
        assert start == position
        assert 1 <= size <= max_data
        assert chunk_offset == (offset + start) & 0xFFFF
        position += size
