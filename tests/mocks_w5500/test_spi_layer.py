"""Checklist items 1-9 (SPI framing, reset, identity, PHY) and the spidev surface of FakeSpiDev."""

from __future__ import annotations

import time

import pytest
from netsocket.mocks.w5500 import FakeSpiDev

from .spi import (
    COMMON,
    GAR,
    IR,
    MR,
    PHYCFGR,
    RCR,
    RTR,
    SHAR,
    SIPR,
    SIR,
    SUBR,
    TCP_MODE,
    UDP,
    UDP_MODE,
    VERSIONR,
    Sn_DHAR,
    Sn_FRAG,
    Sn_IMR,
    Sn_IR,
    Sn_MR,
    Sn_PORT,
    Sn_RX_RSR,
    Sn_RXBUF_SIZE,
    Sn_SR,
    Sn_TTL,
    Sn_TX_FSR,
    Sn_TXBUF_SIZE,
    Wire,
    sreg,
    wait_until,
)


def test_versionr_literal_frame_reads_0x04_after_header_bytes_01_02_03(spi: FakeSpiDev) -> None:
    assert spi.xfer2([0x00, 0x39, 0x00, 0x00]) == [0x01, 0x02, 0x03, 0x04]


def test_fixed_length_frames_follow_each_other_while_cs_stays_low(spi: FakeSpiDev) -> None:
    # OM=01 (1 byte) write of MR=0x08, then OM=10 (2 bytes) read of RTR, then OM=11 (4 bytes) read of MR..
    miso = spi.xfer2([0x00, 0x00, 0x05, 0x08, 0x00, 0x19, 0x02, 0, 0, 0x00, 0x00, 0x03, 0, 0, 0, 0])
    assert miso[4:9] == [1, 2, 3, 0x07, 0xD0]
    assert miso[9:16] == [1, 2, 3, 0x08, 0, 0, 0]  # MR written by the first frame, then GAR[0..2]
    assert Wire(spi).r8(COMMON, MR) == 0x08


def test_burst_crosses_register_boundaries_and_register_block_reads_zero_past_its_end(wire: Wire) -> None:
    wire.write(COMMON, GAR, bytes(range(1, 19)))  # GAR, SUBR, SHAR, SIPR in one frame
    assert wire.read(COMMON, SUBR, 4) == bytes([5, 6, 7, 8])
    assert wire.read(COMMON, SIPR, 4) == bytes([15, 16, 17, 18])
    assert wire.read(COMMON, VERSIONR, 4) == bytes([4, 0, 0, 0])
    assert wire.read(sreg(0), 0x2F, 4) == bytes(4)


def test_reserved_blocks_and_unmapped_offsets_read_zero_and_ignore_writes(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    for block in (0x04, 0x08, 0x10, 0x1C):  # BSB 4n: reserved
        wire.write(block, 0x0000, [0xAA, 0xBB])
        assert wire.read(block, 0x0000, 2) == b"\x00\x00"
    # Adafruit's W5100S probe on a W5500: "F0 00 00 80" writes, "0F 00 00 xx" reads must not give 0x03.
    spi.xfer2([0xF0, 0x00, 0x00, 0x80])
    assert spi.xfer2([0x0F, 0x00, 0x00, 0x00])[3] == 0x00
    assert wire.r8(COMMON, MR) == 0x00


def test_sixteen_bit_register_written_as_two_one_byte_frames(wire: Wire) -> None:
    wire.w8(sreg(2), Sn_PORT, 0x13)
    assert wire.r16(sreg(2), Sn_PORT) == 0x1300
    wire.w8(sreg(2), Sn_PORT + 1, 0x88)
    assert wire.r8(sreg(2), Sn_PORT) == 0x13
    assert wire.r8(sreg(2), Sn_PORT + 1) == 0x88


def test_read_only_registers_ignore_writes_and_interrupt_registers_clear_on_one(wire: Wire) -> None:
    wire.write(sreg(0), Sn_TX_FSR, [0, 0, 0, 0])
    assert wire.r16(sreg(0), Sn_TX_FSR) == 0x0800
    wire.w16(sreg(0), Sn_RX_RSR, 0x1234)
    assert wire.r16(sreg(0), Sn_RX_RSR) == 0
    wire.w8(sreg(0), Sn_SR, 0x17)
    assert wire.r8(sreg(0), Sn_SR) == 0
    for offset in (SIR, VERSIONR, 0x28, 0x2C):
        wire.w8(COMMON, offset, 0x5A)
        assert wire.r8(COMMON, offset) == (4 if offset == VERSIONR else 0)
    wire.w8(COMMON, PHYCFGR, 0xB8)  # LNK/SPD/DPX are status bits
    assert wire.r8(COMMON, PHYCFGR) & 0x07 == 0x07
    # Sn_IR: a zero-length SEND on UDP raises SEND_OK; writing 1 clears it, writing 0 does not.
    wire.configure("192.168.77.50")
    assert wire.open(0, UDP_MODE, 5000) == UDP
    wire.command(0, 0x20)
    wait_until(lambda: wire.ir(0) == 0x10)
    wire.w8(sreg(0), Sn_IR, 0x00)
    assert wire.ir(0) == 0x10
    wire.w8(sreg(0), Sn_IR, 0x10)
    assert wire.ir(0) == 0
    wire.w8(COMMON, IR, 0xFF)
    assert wire.r8(COMMON, IR) == 0


def _assert_reset_values(wire: Wire) -> None:
    assert wire.r8(COMMON, MR) == 0
    assert wire.read(COMMON, GAR, 18) == bytes(18)
    assert wire.r16(COMMON, RTR) == 0x07D0
    assert wire.r8(COMMON, RCR) == 8
    assert wire.r8(COMMON, 0x1C) == 0x28
    for n in range(8):
        assert wire.r8(sreg(n), Sn_MR) == 0
        assert wire.r8(sreg(n), Sn_SR) == 0
        assert wire.read(sreg(n), Sn_DHAR, 6) == b"\xff" * 6
        assert wire.r8(sreg(n), Sn_TTL) == 0x80
        assert wire.r8(sreg(n), Sn_RXBUF_SIZE) == 2
        assert wire.r8(sreg(n), Sn_TXBUF_SIZE) == 2
        assert wire.r8(sreg(n), Sn_IMR) == 0xFF
        assert wire.r16(sreg(n), Sn_FRAG) == 0x4000
        assert wire.r16(sreg(n), Sn_TX_FSR) == 0x0800


def test_power_on_and_mr_rst_restore_reset_values(wire: Wire) -> None:
    _assert_reset_values(wire)
    wire.configure("192.168.77.9")
    wire.w16(COMMON, RTR, 100)
    wire.w8(sreg(3), Sn_TTL, 5)
    assert wire.open(1, UDP_MODE, 7000) == UDP
    wire.w8(COMMON, MR, 0x80)
    _assert_reset_values(wire)


def test_mr_bits_read_back_as_written_for_chip_detection(wire: Wire) -> None:
    for value in (0x08, 0x10, 0x20, 0x02, 0x00):
        wire.w8(COMMON, MR, value)
        assert wire.r8(COMMON, MR) == value


def test_hardware_reset_pin_restores_reset_values(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    wire.write(COMMON, SHAR, b"\x02\x00\x00\x00\x00\x01")
    spi.hardware_reset()
    assert wire.read(COMMON, SHAR, 6) == bytes(6)


def test_phy_link_status_follows_cable_phy_reset_and_power_down(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    assert wire.r8(COMMON, PHYCFGR) == 0xBF  # RST=1, all-capable, 100 Mb/s full duplex, link up
    spi.set_link(False)
    assert wire.r8(COMMON, PHYCFGR) == 0xB8
    spi.set_link(True)
    assert wire.r8(COMMON, PHYCFGR) & 0x01
    wire.w8(COMMON, PHYCFGR, 0x38)  # PHY reset asserted: link drops
    assert wire.r8(COMMON, PHYCFGR) & 0x81 == 0
    wire.w8(COMMON, PHYCFGR, 0xB8)
    assert wire.r8(COMMON, PHYCFGR) & 0x81 == 0x81
    wire.w8(COMMON, PHYCFGR, 0x70)  # OPMD=1, OPMDC=110 power down; takes effect after a PHY reset
    wire.w8(COMMON, PHYCFGR, 0xF0)
    assert wire.r8(COMMON, PHYCFGR) & 0x01 == 0
    wire.w8(COMMON, PHYCFGR, 0x48)  # 10BT full duplex, auto-negotiation off
    wire.w8(COMMON, PHYCFGR, 0xC8)
    assert wire.r8(COMMON, PHYCFGR) & 0x07 == 0b101


def test_link_comes_up_after_the_configured_autonegotiation_delay() -> None:
    now = [10.0]
    with FakeSpiDev(link_up_delay=1.5, threaded=False, clock=lambda: now[0]) as spi:
        wire = Wire(spi)
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 0
        now[0] = 11.49
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 0
        now[0] = 11.5
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 1
        wire.w8(COMMON, MR, 0x80)  # a reset restarts auto-negotiation
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 0
        spi.set_link(False)
        now[0] = 20.0
        spi.set_link(True)
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 0
        now[0] = 21.5
        assert wire.r8(COMMON, PHYCFGR) & 0x01 == 1


def test_xfer2_is_one_frame_and_rejects_more_than_bufsiz(spi: FakeSpiDev) -> None:
    with pytest.raises(OverflowError):
        spi.xfer2([0] * 4097)
    with pytest.raises(OverflowError):
        spi.readbytes(4097)
    before = spi.stats.frames
    spi.xfer2(bytes([0x00, 0x09, 0x04, 1, 2, 3, 4, 5, 6]))
    assert spi.stats.frames == before + 1


def test_xfer3_and_writebytes2_cut_long_lists_into_separate_frames(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    spi.bufsiz = 8
    # 3 header + 10 data bytes: the second chunk starts a new frame, so its bytes are taken as a header.
    spi.writebytes2([0x00, 0x09, 0x04, *range(1, 11)])
    spi.bufsiz = 4096
    assert wire.read(COMMON, SHAR, 6) == bytes([1, 2, 3, 4, 5, 0])
    assert spi.stats.frames >= 2


def test_xfer_is_one_frame_like_py_spidevs_default_build(spi: FakeSpiDev) -> None:
    before = spi.stats.frames
    assert spi.xfer([0x00, 0x39, 0x00, 0x00]) == [1, 2, 3, 4]
    assert spi.stats.frames == before + 1


def test_wrong_spi_mode_gives_garbage(spi: FakeSpiDev) -> None:
    spi.mode = 1
    assert spi.xfer2([0x00, 0x39, 0x00, 0x00]) == [0xFF] * 4
    spi.mode = 3
    assert spi.xfer2([0x00, 0x39, 0x00, 0x00])[3] == 4


def test_closed_device_refuses_transfers_and_close_is_idempotent() -> None:
    spi = FakeSpiDev()
    spi.open(0, 0)
    spi.close()
    spi.close()
    with pytest.raises(RuntimeError):
        spi.xfer2([0x00, 0x39, 0x00, 0x00])


def test_counters_and_bus_speed_model() -> None:
    with FakeSpiDev(spi_hz=1_000_000) as spi:
        wire = Wire(spi)
        spi.stats.reset()
        wire.read(sreg(0), Sn_TX_FSR, 2)
        wire.write(COMMON, SHAR, bytes(6))
        assert (spi.stats.frames, spi.stats.bytes) == (2, 5 + 9)
        assert (spi.stats.read_frames, spi.stats.write_frames) == (1, 1)
        assert spi.stats.bus_seconds == pytest.approx(14 * 8 / 1_000_000)
    with FakeSpiDev(spi_hz=1_000_000, frame_cost=0.001) as spi:
        started = time.monotonic()
        for _ in range(20):
            Wire(spi).r8(COMMON, VERSIONR)
        assert spi.stats.bus_seconds == pytest.approx(20 * (4 * 8 / 1_000_000 + 0.001))
        assert time.monotonic() - started >= 0.02  # the modelled bus time really passes


def test_tcp_mode_register_reads_back_exactly(wire: Wire) -> None:
    wire.w8(sreg(4), Sn_MR, 0x21)
    assert wire.r8(sreg(4), Sn_MR) == 0x21
    wire.w8(sreg(4), Sn_MR, TCP_MODE)
    assert wire.r8(sreg(4), Sn_MR) == TCP_MODE
