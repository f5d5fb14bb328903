"""Plain state records shared by the device model and its command handlers.

Layer: sans-IO data. No behaviour beyond trivial properties, so that the `cmd_*` modules and `device` can both
import it without an import cycle.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from .network import Connection
from .rtt import RttWindow

ERR_NO_AT = 0x01030000
ERR_PARSE = 0x01080000
ERR_UNSUPPORTED = 0x01090000
ERR_EXEC = 0x010A0000
ERR_BUSY = 0x010B0000


class WifiState(enum.IntEnum):
    """The values of AT+CWSTATE."""

    NEVER = 0
    NO_IP = 1
    GOT_IP = 2
    CONNECTING = 3
    DISCONNECTED = 4


class InputMode(enum.Enum):
    LINE = "line"
    DATA = "data"
    BOOTING = "booting"
    SILENT = "silent"
    PASSTHROUGH = "passthrough"


@dataclass
class Link:
    id: int
    kind: str
    conn: Connection
    server: bool
    remote_ip: str
    remote_port: int
    local_port: int
    last_activity: float
    rx: bytearray = field(default_factory=bytearray)
    datagrams: deque[tuple[bytes, str, int]] = field(default_factory=deque)
    notice_pending: bool = False
    #: Bytes announced in passive notices that can never be read (the `ssl_encrypted_length` quirk).
    tls_overhead: int = 0
    peer_closed: bool = False
    #: NonOS: CLOSED already printed but buffered data still readable (reference §2.2).
    dead: bool = False
    #: The sender's view of this link's receive window (`Timing.network_rtt`).
    window: RttWindow = field(default_factory=RttWindow)

    @property
    def buffered(self) -> int:
        if self.kind == "UDP":
            return sum(len(d[0]) for d in self.datagrams)
        return len(self.rx)


@dataclass
class SendJob:
    link: Link
    length: int
    extended: bool
    address: tuple[str, int] | None
    raw_count: int = 0
    payload: bytearray = field(default_factory=bytearray)
    escape_state: int = 0
    last_byte_at: float = 0.0


@dataclass
class UartSettings:
    baud: int = 115200
    databits: int = 8
    stopbits: int = 1
    parity: int = 0
    flow: int = 0
