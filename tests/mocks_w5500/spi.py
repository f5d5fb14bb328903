"""Test helper: W5500 frames built byte by byte per the datasheet, one `xfer2` per frame.

Frame = address high, address low, control byte ((BSB << 3) | (RWB << 2) | OM), data. Nothing here knows the
emulator's internals; it only clocks bytes and decodes what comes back, like a driver would.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from netsocket.mocks.w5500 import FakeSpiDev

COMMON = 0x00
MR, GAR, SUBR, SHAR, SIPR, INTLEVEL, IR, IMR, SIR, SIMR, RTR, RCR = (
    0x00, 0x01, 0x05, 0x09, 0x0F, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1B,
)  # fmt: skip
UIPR, UPORTR, PHYCFGR, VERSIONR = 0x28, 0x2C, 0x2E, 0x39
Sn_MR, Sn_CR, Sn_IR, Sn_SR, Sn_PORT, Sn_DHAR, Sn_DIPR, Sn_DPORT, Sn_MSSR = (
    0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0C, 0x10, 0x12,
)  # fmt: skip
Sn_TTL, Sn_RXBUF_SIZE, Sn_TXBUF_SIZE, Sn_TX_FSR, Sn_TX_RD, Sn_TX_WR = 0x16, 0x1E, 0x1F, 0x20, 0x22, 0x24
Sn_RX_RSR, Sn_RX_RD, Sn_RX_WR, Sn_IMR, Sn_FRAG, Sn_KPALVTR = 0x26, 0x28, 0x2A, 0x2C, 0x2D, 0x2F
OPEN, LISTEN, CONNECT, DISCON, CLOSE, SEND, SEND_MAC, SEND_KEEP, RECV = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x21, 0x22, 0x40,
)  # fmt: skip
CLOSED, INIT, SOCK_LISTEN, SYNSENT, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, UDP, MACRAW = (
    0x00, 0x13, 0x14, 0x15, 0x17, 0x18, 0x1C, 0x1D, 0x22, 0x42,
)  # fmt: skip
IR_CON, IR_DISCON, IR_RECV, IR_TIMEOUT, IR_SEND_OK = 0x01, 0x02, 0x04, 0x08, 0x10
TCP_MODE, UDP_MODE, MACRAW_MODE = 0x01, 0x02, 0x04


def sreg(n: int) -> int:
    return 4 * n + 1


def txbuf(n: int) -> int:
    return 4 * n + 2


def rxbuf(n: int) -> int:
    return 4 * n + 3


def ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def free_port(udp: bool = False) -> int:
    """A loopback port nobody uses right now, for chip sockets the host must reach at the same number."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll (through SPI frames inside `predicate`) until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")


class Wire:
    """A driver-shaped view of the bus: every method is one or more literal frames."""

    def __init__(self, spi: FakeSpiDev) -> None:
        self.spi = spi

    def read(self, block: int, addr: int, count: int) -> bytes:
        miso = self.spi.xfer2([addr >> 8, addr & 0xFF, block << 3] + [0] * count)
        assert miso[:3] == [1, 2, 3]
        return bytes(miso[3:])

    def write(self, block: int, addr: int, data: bytes | list[int]) -> None:
        self.spi.xfer2([addr >> 8, addr & 0xFF, (block << 3) | 0x04, *data])

    def r8(self, block: int, addr: int) -> int:
        return self.read(block, addr, 1)[0]

    def r16(self, block: int, addr: int) -> int:
        return int.from_bytes(self.read(block, addr, 2), "big")

    def w8(self, block: int, addr: int, value: int) -> None:
        self.write(block, addr, [value])

    def w16(self, block: int, addr: int, value: int) -> None:
        self.write(block, addr, [(value >> 8) & 0xFF, value & 0xFF])

    def r16_stable(self, n: int, addr: int) -> int:
        """The datasheet rule for chip-updated 16-bit counters: read until two reads agree."""
        first = self.r16(sreg(n), addr)
        while True:
            second = self.r16(sreg(n), addr)
            if second == first:
                return second
            first = second

    def status(self, n: int) -> int:
        return self.r8(sreg(n), Sn_SR)

    def ir(self, n: int) -> int:
        return self.r8(sreg(n), Sn_IR)

    def command(self, n: int, cmd: int, timeout: float = 1.0) -> None:
        self.w8(sreg(n), Sn_CR, cmd)
        wait_until(lambda: self.r8(sreg(n), Sn_CR) == 0, timeout)

    def configure(self, address: str, mask: str = "255.255.255.0", gateway: str = "192.168.77.1") -> None:
        self.write(COMMON, SHAR, bytes.fromhex("020000aabbcc"))
        self.write(COMMON, GAR, ip(gateway))
        self.write(COMMON, SUBR, ip(mask))
        self.write(COMMON, SIPR, ip(address))

    def set_timeouts(self, rtr: int = 100, rcr: int = 1) -> None:
        """RTR in 100 us units; default 10 ms x 2 tries, so ARPTO = 20 ms and TCPTO = 30 ms."""
        self.w16(COMMON, RTR, rtr)
        self.w8(COMMON, RCR, rcr)

    def open(self, n: int, mode: int, port: int) -> int:
        self.w8(sreg(n), Sn_MR, mode)
        self.w16(sreg(n), Sn_PORT, port)
        self.w8(sreg(n), Sn_IR, 0xFF)
        self.command(n, OPEN)
        return self.status(n)

    def connect(self, n: int, address: tuple[str, int], port: int = 50000) -> None:
        assert self.open(n, TCP_MODE, port) == INIT
        self.write(sreg(n), Sn_DIPR, ip(address[0]))
        self.w16(sreg(n), Sn_DPORT, address[1])
        self.command(n, CONNECT)

    def send(self, n: int, data: bytes, wait_ok: bool = True) -> None:
        wait_until(lambda: self.r16_stable(n, Sn_TX_FSR) >= len(data))
        ptr = self.r16(sreg(n), Sn_TX_WR)
        self.write(txbuf(n), ptr, data)
        self.w16(sreg(n), Sn_TX_WR, (ptr + len(data)) & 0xFFFF)
        self.command(n, SEND)
        if wait_ok:
            wait_until(lambda: bool(self.ir(n) & (IR_SEND_OK | IR_TIMEOUT)))
            assert self.ir(n) & IR_SEND_OK
            self.w8(sreg(n), Sn_IR, IR_SEND_OK)

    def recv(self, n: int, limit: int = 65536) -> bytes:
        size = min(self.r16_stable(n, Sn_RX_RSR), limit)
        if size == 0:
            return b""
        ptr = self.r16(sreg(n), Sn_RX_RD)
        data = self.read(rxbuf(n), ptr, size)
        self.w16(sreg(n), Sn_RX_RD, (ptr + size) & 0xFFFF)
        self.command(n, RECV)
        return data

    def recv_exactly(self, n: int, count: int, timeout: float = 5.0, chunk: int = 4093) -> bytes:
        out = bytearray()

        def more() -> bool:
            out.extend(self.recv(n, min(chunk, count - len(out))))
            return len(out) >= count

        wait_until(more, timeout)
        return bytes(out)

    def recv_datagram(self, n: int, timeout: float = 5.0) -> tuple[str, int, bytes]:
        wait_until(lambda: self.r16_stable(n, Sn_RX_RSR) >= 8, timeout)
        ptr = self.r16(sreg(n), Sn_RX_RD)
        header = self.read(rxbuf(n), ptr, 8)
        length = int.from_bytes(header[6:8], "big")
        payload = self.read(rxbuf(n), ptr + 8, length)
        self.w16(sreg(n), Sn_RX_RD, (ptr + 8 + length) & 0xFFFF)
        self.command(n, RECV)
        source = ".".join(str(b) for b in header[:4])
        return source, int.from_bytes(header[4:6], "big"), payload
