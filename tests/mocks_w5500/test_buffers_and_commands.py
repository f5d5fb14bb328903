"""Checklist items 10-19: buffer allocation and wrap-around, pointers, TX_FSR/RX_RSR, torn reads, Sn_CR."""

from __future__ import annotations

import socket

import pytest
from netsocket.mocks.w5500 import FakeSpiDev

from .spi import (
    CLOSE,
    CLOSED,
    CONNECT,
    DISCON,
    ESTABLISHED,
    INIT,
    IR_SEND_OK,
    LISTEN,
    RECV,
    SEND,
    SOCK_LISTEN,
    TCP_MODE,
    UDP,
    UDP_MODE,
    Sn_CR,
    Sn_IR,
    Sn_MR,
    Sn_RX_RD,
    Sn_RX_RSR,
    Sn_RX_WR,
    Sn_RXBUF_SIZE,
    Sn_TX_FSR,
    Sn_TX_RD,
    Sn_TX_WR,
    Sn_TXBUF_SIZE,
    Wire,
    rxbuf,
    sreg,
    txbuf,
    wait_until,
)


def test_buffer_offsets_wrap_inside_the_socket_buffer(wire: Wire) -> None:
    # Socket 1 has 2 KB: a burst written at offset 0x07FE wraps to offset 0 of the same buffer,
    # and offsets differing by a multiple of the size (0x8800 = Arduino-style upper bits) alias.
    wire.write(txbuf(1), 0x07FE, b"ABCD")
    assert wire.read(txbuf(1), 0x0000, 2) == b"CD"
    assert wire.read(txbuf(1), 0x87FE, 4) == b"ABCD"
    assert wire.read(txbuf(0), 0x07FE, 2) == b"\x00\x00"  # socket 0's buffer is a different region
    wire.write(rxbuf(7), 0xFFFF, b"xy")
    assert wire.read(rxbuf(7), 0x07FF, 2) == b"xy"


def test_buffer_sizes_allocate_sequentially(wire: Wire) -> None:
    wire.w8(sreg(0), Sn_TXBUF_SIZE, 16)
    for n in range(1, 8):
        wire.w8(sreg(n), Sn_TXBUF_SIZE, 0)
    wire.write(txbuf(0), 0x3FFF, b"Q")
    assert wire.read(txbuf(0), 0x7FFF, 1) == b"Q"
    assert wire.read(txbuf(1), 0x0000, 4) == bytes(4)  # size 0: nothing there
    wire.w8(sreg(0), Sn_MR, UDP_MODE)
    wire.command(0, 0x01)
    assert wire.r16(sreg(0), Sn_TX_FSR) == 16384


def test_more_than_16k_of_buffers_is_refused_loudly(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    wire.w8(sreg(0), Sn_RXBUF_SIZE, 16)  # 16 + 7 x 2 KB
    assert wire.open(1, UDP_MODE, 4000) == CLOSED
    assert spi.emulator.chip.errors
    wire.w8(sreg(0), Sn_RXBUF_SIZE, 2)
    assert wire.open(1, UDP_MODE, 4000) == UDP


def test_pointers_after_open_start_at_the_configured_value() -> None:
    with FakeSpiDev(initial_pointer=0xFFF0) as spi:
        wire = Wire(spi)
        wire.open(0, UDP_MODE, 4000)
        assert wire.r16(sreg(0), Sn_TX_WR) == 0xFFF0
        assert wire.r16(sreg(0), Sn_TX_RD) == 0xFFF0
        assert wire.r16(sreg(0), Sn_RX_RD) == 0xFFF0
        assert wire.r16(sreg(0), Sn_RX_WR) == 0xFFF0


def test_tx_wr_takes_effect_on_send_and_rx_rd_on_recv(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    wait_until(lambda: wire.status(0) == ESTABLISHED)
    peer, _ = tcp_server.accept()
    with peer:
        wire.write(txbuf(0), 0, b"hello")
        wire.w16(sreg(0), Sn_TX_WR, 5)
        assert wire.r16(sreg(0), Sn_TX_WR) == 5
        assert wire.r16(sreg(0), Sn_TX_FSR) == 2048  # nothing committed before SEND
        wire.command(0, SEND)
        wait_until(lambda: bool(wire.ir(0) & IR_SEND_OK))
        assert wire.r16(sreg(0), Sn_TX_RD) == 5
        assert wire.r16(sreg(0), Sn_TX_FSR) == 2048
        assert peer.recv(16) == b"hello"
        peer.sendall(b"0123456789")
        wait_until(lambda: wire.r16_stable(0, Sn_RX_RSR) == 10)
        wire.w16(sreg(0), Sn_RX_RD, 4)
        assert wire.r16(sreg(0), Sn_RX_RD) == 4
        assert wire.r16(sreg(0), Sn_RX_RSR) == 10  # not committed yet
        wire.command(0, RECV)
        assert wire.r16(sreg(0), Sn_RX_RSR) == 6
        assert wire.r16(sreg(0), Sn_RX_WR) == 10


def test_torn_reads_change_rsr_between_the_high_and_low_byte(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    wire.spi.faults.torn_reads = True
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    wait_until(lambda: wire.status(0) == ESTABLISHED)
    peer, _ = tcp_server.accept()
    with peer:
        peer.sendall(b"x" * 0x105)
        seen: list[int] = []

        def read_once() -> bool:
            high = wire.r8(sreg(0), Sn_RX_RSR)  # one-byte frames, ioLibrary/Adafruit style
            low = wire.r8(sreg(0), Sn_RX_RSR + 1)
            seen.append((high << 8) | low)
            return seen[-1] == 0x105

        wait_until(read_once)
        assert 0x0005 in seen  # old high byte (0x00) with the new low byte (0x05): a torn value
        assert wire.recv_exactly(0, 0x105) == b"x" * 0x105


def test_sn_cr_clears_after_acceptance_and_open_result_is_visible_at_once(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    spi.faults.cr_busy_reads = 2
    wire.w8(sreg(0), Sn_MR, TCP_MODE)
    wire.w8(sreg(0), Sn_CR, 0x01)
    assert [wire.r8(sreg(0), Sn_CR) for _ in range(3)] == [0x01, 0x01, 0x00]
    assert wire.status(0) == INIT
    wire.w8(sreg(0), Sn_CR, LISTEN)
    assert [wire.r8(sreg(0), Sn_CR) for _ in range(3)] == [LISTEN, LISTEN, 0]
    assert wire.status(0) == SOCK_LISTEN
    wire.command(0, CLOSE)


def test_open_reinitialises_from_any_state(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    wait_until(lambda: wire.status(0) == ESTABLISHED)
    peer, _ = tcp_server.accept()
    with peer:
        peer.sendall(b"pending")
        wait_until(lambda: wire.r16_stable(0, Sn_RX_RSR) == 7)
        wire.w8(sreg(0), Sn_MR, UDP_MODE)
        wire.command(0, 0x01)  # OPEN straight from ESTABLISHED, no CLOSE
        assert wire.status(0) == UDP
        assert wire.r16(sreg(0), Sn_RX_RSR) == 0
        assert wire.r16(sreg(0), Sn_TX_FSR) == 2048
        peer.settimeout(5)
        with pytest.raises(ConnectionResetError):  # the host connection was dropped abortively
            peer.recv(16)


def test_commands_invalid_for_the_mode_are_accepted_and_ignored(lan_wire: Wire) -> None:
    wire = lan_wire
    assert wire.open(0, UDP_MODE, 4000) == UDP
    for cmd in (CONNECT, LISTEN, DISCON):
        wire.command(0, cmd)
        assert wire.status(0) == UDP
    assert wire.open(1, TCP_MODE, 4001) == INIT
    wire.command(1, SEND)
    wire.command(1, RECV)
    assert wire.status(1) == INIT
    assert wire.ir(1) == 0
    wire.command(2, RECV)
    wire.command(2, 0x7F)  # not a command at all
    assert wire.status(2) == CLOSED


def test_close_is_immediate_and_keeps_sn_ir(lan_wire: Wire) -> None:
    wire = lan_wire
    assert wire.open(0, UDP_MODE, 4000) == UDP
    wire.command(0, SEND)  # zero-length SEND: SEND_OK, no datagram
    wait_until(lambda: wire.ir(0) == IR_SEND_OK)
    wire.command(0, CLOSE)
    assert wire.status(0) == CLOSED
    assert wire.ir(0) == IR_SEND_OK
    wire.w8(sreg(0), Sn_IR, 0xFF)
    assert wire.ir(0) == 0
