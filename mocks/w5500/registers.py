"""W5500 register map: offsets, bit values and reset values (datasheet facts, no behaviour).

Layer: constants only. Imported by the sans-IO chip model and by tests that speak literal SPI frames.
"""

from __future__ import annotations

from enum import IntEnum

# Control byte fields: (BSB << 3) | (RWB << 2) | OM.
RWB_WRITE = 0x04
OM_VDM = 0x00
BLOCK_COMMON = 0


def socket_register_block(n: int) -> int:
    return 4 * n + 1


def socket_tx_block(n: int) -> int:
    return 4 * n + 2


def socket_rx_block(n: int) -> int:
    return 4 * n + 3


# Common register block offsets.
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
COMMON_SIZE = 0x003A

MR_RST = 0x80

PHYCFGR_RST = 0x80
PHYCFGR_OPMD = 0x40
PHYCFGR_OPMDC_MASK = 0x38
PHYCFGR_DPX = 0x04
PHYCFGR_SPD = 0x02
PHYCFGR_LNK = 0x01
OPMDC_POWER_DOWN = 0b110

# Socket register block offsets.
Sn_MR = 0x00
Sn_CR = 0x01
Sn_IR = 0x02
Sn_SR = 0x03
Sn_PORT = 0x04
Sn_DHAR = 0x06
Sn_DIPR = 0x0C
Sn_DPORT = 0x10
Sn_MSSR = 0x12
Sn_TOS = 0x15
Sn_TTL = 0x16
Sn_RXBUF_SIZE = 0x1E
Sn_TXBUF_SIZE = 0x1F
Sn_TX_FSR = 0x20
Sn_TX_RD = 0x22
Sn_TX_WR = 0x24
Sn_RX_RSR = 0x26
Sn_RX_RD = 0x28
Sn_RX_WR = 0x2A
Sn_IMR = 0x2C
Sn_FRAG = 0x2D
Sn_KPALVTR = 0x2F
SOCKET_SIZE = 0x30

# Registers the chip computes; host writes to them are ignored.
SOCKET_READ_ONLY = frozenset(
    {
        Sn_SR,
        Sn_TX_FSR,
        Sn_TX_FSR + 1,
        Sn_TX_RD,
        Sn_TX_RD + 1,
        Sn_RX_RSR,
        Sn_RX_RSR + 1,
        Sn_RX_WR,
        Sn_RX_WR + 1,
    }
)

Sn_MR_PROTOCOL_MASK = 0x0F
Sn_MR_MULTI = 0x80


class Protocol(IntEnum):
    CLOSED = 0x00
    TCP = 0x01
    UDP = 0x02
    MACRAW = 0x04


class Command(IntEnum):
    OPEN = 0x01
    LISTEN = 0x02
    CONNECT = 0x04
    DISCON = 0x08
    CLOSE = 0x10
    SEND = 0x20
    SEND_MAC = 0x21
    SEND_KEEP = 0x22
    RECV = 0x40


class Status(IntEnum):
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


class SocketIrq(IntEnum):
    CON = 0x01
    DISCON = 0x02
    RECV = 0x04
    TIMEOUT = 0x08
    SEND_OK = 0x10


SOCKET_IR_MASK = 0x1F
COMMON_IR_MASK = 0xF0

VERSION = 0x04
NUM_SOCKETS = 8
BUFFER_RAM = 16 * 1024
VALID_BUFFER_KB = frozenset({0, 1, 2, 4, 8, 16})
TCP_MSS = 1460
UDP_MSS = 1472
UDP_HEADER_SIZE = 8

COMMON_RESET: dict[int, int] = {
    RTR: 0x07,
    RTR + 1: 0xD0,
    RCR: 0x08,
    PTIMER: 0x28,
    PMRU: 0xFF,
    PMRU + 1: 0xFF,
}

SOCKET_RESET: dict[int, int] = {
    **{Sn_DHAR + i: 0xFF for i in range(6)},
    Sn_TTL: 0x80,
    Sn_RXBUF_SIZE: 0x02,
    Sn_TXBUF_SIZE: 0x02,
    Sn_IMR: 0xFF,
    Sn_FRAG: 0x40,
    Sn_FRAG + 1: 0x00,
}
