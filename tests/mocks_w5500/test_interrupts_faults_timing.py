"""Checklist items 39-45: MACRAW stub, interrupts, the chip's own timeouts (on the sans-IO model with explicit
time), link behaviour, state persistence and fault injection."""

from __future__ import annotations

import socket

import pytest
from netsocket.mocks.w5500 import FakeSpiDev, W5500Chip
from netsocket.mocks.w5500.network_port import NullNetwork

from .spi import (
    CLOSED,
    CONNECT,
    ESTABLISHED,
    IMR,
    INTLEVEL,
    IR,
    IR_RECV,
    IR_SEND_OK,
    IR_TIMEOUT,
    MACRAW,
    MACRAW_MODE,
    OPEN,
    SEND,
    SIMR,
    SIR,
    SYNSENT,
    TCP_MODE,
    UDP,
    UDP_MODE,
    Sn_CR,
    Sn_DIPR,
    Sn_DPORT,
    Sn_IMR,
    Sn_IR,
    Sn_MR,
    Sn_RX_RD,
    Sn_TX_RD,
    Sn_TX_WR,
    Wire,
    free_port,
    ip,
    rxbuf,
    sreg,
    txbuf,
    wait_until,
)


def _frame(chip: W5500Chip, block: int, addr: int, data: bytes = b"", read: int = 0) -> bytes:
    control = (block << 3) | (0x04 if data else 0)
    return chip.transfer(bytes([addr >> 8, addr & 0xFF, control]) + (data or bytes(read)))[3:]


class _SilentPeer(NullNetwork):
    """Everyone answers ARP; nobody answers a SYN."""

    def arp(self, next_hop: bytes, destination: bytes) -> bytes | None:
        return b"\x02\x00\x00\x00\x00\x01"


@pytest.mark.parametrize(("network", "timeout"), [(NullNetwork(), 1.8), (_SilentPeer(), 31.8)], ids=["ARPTO", "TCPTO"])
def test_default_arp_and_tcp_timeouts_on_the_sans_io_chip(network: NullNetwork, timeout: float) -> None:
    chip = W5500Chip(network, now=100.0)
    assert _frame(chip, 0, 0x39, read=1) == b"\x04"
    _frame(chip, 0, 0x01, bytes([192, 168, 77, 1, 255, 255, 255, 0]))  # GAR, SUBR
    _frame(chip, 0, 0x0F, bytes([192, 168, 77, 50]))
    _frame(chip, 1, Sn_MR, bytes([TCP_MODE]))
    _frame(chip, 1, Sn_CR, bytes([OPEN]))
    _frame(chip, 1, Sn_DIPR, bytes([127, 0, 0, 1, 0, 80]))
    _frame(chip, 1, Sn_CR, bytes([CONNECT]))
    chip.tick(100.0 + timeout - 0.01)
    assert _frame(chip, 1, 0x03, read=1) == bytes([SYNSENT])
    chip.tick(100.0 + timeout + 0.01)
    assert _frame(chip, 1, 0x02, read=2) == bytes([IR_TIMEOUT, CLOSED])


def test_macraw_opens_on_socket_0_only_and_completes_sends(wire: Wire) -> None:
    assert wire.open(1, MACRAW_MODE, 0) == CLOSED
    assert wire.open(0, MACRAW_MODE, 0) == MACRAW
    wire.write(txbuf(0), 0, b"\xff" * 60)
    wire.w16(sreg(0), Sn_TX_WR, 60)
    wire.command(0, SEND)
    wait_until(lambda: wire.ir(0) == IR_SEND_OK)


def test_sn_ir_is_set_regardless_of_mask_and_intn_follows_the_masks(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    edges: list[bool] = []
    unsubscribe = spi.on_int_edge(edges.append)
    wire.w8(sreg(2), Sn_IMR, 0x00)
    assert wire.open(2, UDP_MODE, 7000) == UDP
    wire.command(2, SEND)  # zero-length: SEND_OK
    wait_until(lambda: wire.ir(2) == IR_SEND_OK)
    assert wire.r8(0, SIR) == 0  # masked by Sn_IMR
    assert spi.intn and not edges
    wire.w8(sreg(2), Sn_IMR, IR_SEND_OK)
    assert wire.r8(0, SIR) == 0x04
    assert spi.intn  # SIMR still 0
    wire.w8(0, SIMR, 0x04)
    assert not spi.intn
    assert edges == [False]
    wire.w8(sreg(2), Sn_IR, IR_SEND_OK)
    assert spi.intn
    assert edges == [False, True]
    unsubscribe()
    assert wire.r8(0, IR) == 0  # CONFLICT/UNREACH/PPPoE/MP are never produced
    wire.w8(0, IMR, 0xF0)
    assert spi.intn


def test_intlevel_delays_reassertion() -> None:
    chip = W5500Chip(now=0.0)  # explicit time: the hold is only 1.75 ms
    _frame(chip, 0, INTLEVEL, b"\xff\xff")  # (65535 + 1) x 4 / 150 MHz = 1.75 ms
    _frame(chip, 0, SIMR, b"\x01")
    _frame(chip, 1, Sn_MR, bytes([UDP_MODE]))
    _frame(chip, 1, Sn_CR, bytes([OPEN]))
    _frame(chip, 1, Sn_CR, bytes([SEND]))  # zero-length SEND: SEND_OK
    assert not chip.intn_high
    chip.tick(1.0)
    _frame(chip, 1, Sn_IR, b"\xff")
    assert chip.intn_high
    _frame(chip, 1, Sn_CR, bytes([SEND]))
    assert _frame(chip, 1, Sn_IR, read=1) == bytes([IR_SEND_OK])
    chip.tick(1.0017)
    assert chip.intn_high  # held high for the assert wait time
    chip.tick(1.0018)
    assert not chip.intn_high
    assert chip.int_edges == [False, True, False]


def test_pump_thread_drives_intn_while_nobody_clocks_the_bus(lan_wire: Wire) -> None:
    wire = lan_wire
    wire.w8(0, SIMR, 0x01)
    port = free_port(udp=True)
    assert wire.open(0, UDP_MODE, port) == UDP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.sendto(b"wake up", ("127.0.0.1", port))
        assert wire.spi.wait_for_interrupt(timeout=5)
    assert wire.ir(0) & IR_RECV


def test_state_persists_across_a_driver_restart_without_reset(spi: FakeSpiDev) -> None:
    first = Wire(spi)
    first.configure("192.168.77.60")
    assert first.open(4, UDP_MODE, 7003) == UDP
    second = Wire(spi)  # a new driver instance on the same chip (Adafruit #109)
    assert second.status(4) == UDP
    assert second.read(0, 0x0F, 4) == ip("192.168.77.60")


def test_stuck_command_register(spi: FakeSpiDev) -> None:
    wire = Wire(spi)
    spi.faults.stuck_cr.add(1)
    wire.w8(sreg(1), Sn_MR, UDP_MODE)
    wire.w8(sreg(1), Sn_CR, OPEN)
    assert all(wire.r8(sreg(1), Sn_CR) == OPEN for _ in range(20))
    assert wire.status(1) == CLOSED


def test_missing_send_ok(lan_wire: Wire) -> None:
    wire = lan_wire
    wire.spi.faults.drop_send_ok.add(0)
    assert wire.open(0, UDP_MODE, 7004) == UDP
    wire.write(sreg(0), Sn_DIPR, ip("127.0.0.1"))
    wire.w16(sreg(0), Sn_DPORT, 9)
    wire.write(txbuf(0), 0, b"data")
    wire.w16(sreg(0), Sn_TX_WR, 4)
    wire.command(0, SEND)
    assert wire.r16(sreg(0), Sn_TX_RD) == 4
    assert all(wire.ir(0) == 0 for _ in range(20))


def test_corrupted_udp_header_and_spurious_status(lan_wire: Wire) -> None:
    wire = lan_wire
    port = free_port(udp=True)
    assert wire.open(0, UDP_MODE, port) == UDP
    wire.spi.faults.corrupt_rx_headers = 1
    wire.spi.faults.inject_spurious_sr(0, 0x01, reads=2)
    assert [wire.status(0) for _ in range(3)] == [0x01, 0x01, UDP]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.sendto(b"abc", ("127.0.0.1", port))
        wait_until(lambda: bool(wire.ir(0) & IR_RECV))
    ptr = wire.r16(sreg(0), Sn_RX_RD)
    assert wire.read(rxbuf(0), ptr + 6, 2) == b"\xff\xff"


def test_tcp_connect_with_the_link_down_is_an_arp_timeout(lan_wire: Wire, tcp_server: socket.socket) -> None:
    wire = lan_wire
    wire.spi.set_link(False)
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    wait_until(lambda: wire.status(0) == CLOSED)
    assert wire.ir(0) & IR_TIMEOUT
    wire.spi.set_link(True)
    wire.connect(0, ("127.0.0.1", tcp_server.getsockname()[1]))
    wait_until(lambda: wire.status(0) == ESTABLISHED)
    tcp_server.accept()[0].close()


def test_timeout_scale_shortens_the_chips_own_timeouts() -> None:
    chip = W5500Chip(timeout_scale=0.01, now=0.0)
    _frame(chip, 1, Sn_MR, bytes([TCP_MODE]))
    _frame(chip, 1, Sn_CR, bytes([OPEN]))
    _frame(chip, 1, Sn_DIPR, bytes([127, 0, 0, 1, 0, 80]))
    _frame(chip, 1, Sn_CR, bytes([CONNECT]))  # nobody answers ARP: ARPTO = 1.8 s x 0.01
    chip.tick(0.017)
    assert _frame(chip, 1, 0x03, read=1) == bytes([SYNSENT])
    chip.tick(0.019)
    assert _frame(chip, 1, 0x03, read=1) == bytes([CLOSED])
