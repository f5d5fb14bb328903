"""W5500 register map (sans-IO): block select values, register offsets, command/status/interrupt values.

Layer rule: constants and pure helpers only; no I/O. Values follow the W5500 datasheet as summarised in
``shared/reference/w5500.md`` §1-§3. A register is addressed by a block (``BSB``) and a 16-bit offset in it.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

SOCKET_COUNT = 8
BUFFER_TOTAL_KB = 16
BUFFER_SIZES_KB = (0, 1, 2, 4, 8, 16)
CHIP_VERSION = 0x04
RTR_RESET_VALUE = 0x07D0


class Block(IntEnum):
    """The block-select bits (BSB[4:0]) of the common block; socket blocks come from the helpers below."""

    COMMON = 0x00


def socket_registers(n: int) -> int:
    """BSB of socket ``n``'s register block (4n+1)."""
    _check_socket(n)
    return 4 * n + 1


def socket_tx_buffer(n: int) -> int:
    """BSB of socket ``n``'s TX buffer (4n+2)."""
    _check_socket(n)
    return 4 * n + 2


def socket_rx_buffer(n: int) -> int:
    """BSB of socket ``n``'s RX buffer (4n+3)."""
    _check_socket(n)
    return 4 * n + 3


def _check_socket(n: int) -> None:
    if not 0 <= n < SOCKET_COUNT:
        raise ValueError(f"W5500 socket number {n} is outside 0..{SOCKET_COUNT - 1}")


class Common(IntEnum):
    """Offsets in the common register block (BSB 0)."""

    MR = 0x0000
    GAR = 0x0001
    SUBR = 0x0005
    SHAR = 0x0009
    SIPR = 0x000F
    INTLEVEL = 0x0013
    IR = 0x0015
    IMR = 0x0016
    SIR = 0x0017
    SIMR = 0x0018
    RTR = 0x0019
    RCR = 0x001B
    PTIMER = 0x001C
    PMAGIC = 0x001D
    PHAR = 0x001E
    PSID = 0x0024
    PMRU = 0x0026
    UIPR = 0x0028
    UPORTR = 0x002C
    PHYCFGR = 0x002E
    VERSIONR = 0x0039


class Sn(IntEnum):
    """Offsets in a socket register block (BSB 4n+1)."""

    MR = 0x00
    CR = 0x01
    IR = 0x02
    SR = 0x03
    PORT = 0x04
    DHAR = 0x06
    DIPR = 0x0C
    DPORT = 0x10
    MSSR = 0x12
    TOS = 0x15
    TTL = 0x16
    RXBUF_SIZE = 0x1E
    TXBUF_SIZE = 0x1F
    TX_FSR = 0x20
    TX_RD = 0x22
    TX_WR = 0x24
    RX_RSR = 0x26
    RX_RD = 0x28
    RX_WR = 0x2A
    IMR = 0x2C
    FRAG = 0x2D
    KPALVTR = 0x2F


class ModeFlag(IntFlag):
    """Common MR bits."""

    RST = 0x80
    WOL = 0x20
    PB = 0x10
    PPPOE = 0x08
    FARP = 0x02


class SocketMode(IntFlag):
    """Sn_MR: protocol in bits 3..0 plus per-protocol flags."""

    CLOSED = 0x00
    TCP = 0x01
    UDP = 0x02
    MACRAW = 0x04
    ND = 0x20  # TCP: no delayed ACK
    UCASTB = 0x10
    BCASTB = 0x40
    MULTI = 0x80


class Command(IntEnum):
    """Sn_CR commands; the register reads 0 once the chip accepted one."""

    OPEN = 0x01
    LISTEN = 0x02
    CONNECT = 0x04
    DISCON = 0x08
    CLOSE = 0x10
    SEND = 0x20
    SEND_MAC = 0x21
    SEND_KEEP = 0x22
    RECV = 0x40


class SocketInterrupt(IntFlag):
    """Sn_IR bits (write 1 to clear)."""

    CON = 0x01
    DISCON = 0x02
    RECV = 0x04
    TIMEOUT = 0x08
    SEND_OK = 0x10
    ALL = 0x1F


class Status(IntEnum):
    """Sn_SR values. Unknown values are treated as transient by the driver (a W5100 shows 0x01 on a failed
    connect)."""

    CLOSED = 0x00
    INIT = 0x13
    LISTEN = 0x14
    SYNSENT = 0x15
    SYNRECV = 0x16
    ESTABLISHED = 0x17
    FIN_WAIT = 0x18
    CLOSING = 0x1A
    TIME_WAIT = 0x1B
    CLOSE_WAIT = 0x1C
    LAST_ACK = 0x1D
    UDP = 0x22
    MACRAW = 0x42


class Phy(IntFlag):
    """PHYCFGR bits."""

    LNK = 0x01
    SPD = 0x02
    DPX = 0x04
    OPMD = 0x40
    RST = 0x80


UDP_HEADER_SIZE = 8
"""Each UDP datagram in the RX buffer starts with src IP (4), src port (2, BE), payload length (2, BE)."""

UDP_MAX_PAYLOAD = 1472
"""The chip splits larger UDP SENDs into several datagrams (it never fragments), so the driver refuses them."""

KEEPALIVE_UNIT_S = 5
"""Sn_KPALVTR counts in 5-second units."""


def buffer_size_code(kb: int) -> int:
    """Check a Sn_TX/RXBUF_SIZE value (KB); ``ValueError`` unless it is one the chip accepts."""
    if kb not in BUFFER_SIZES_KB:
        raise ValueError(f"W5500 socket buffers are 0, 1, 2, 4, 8 or 16 KB, not {kb}")
    return kb
