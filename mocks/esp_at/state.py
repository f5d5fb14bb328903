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


@dataclass
class SoftApConfig:
    """AT+CWSAP's settings (stored in "flash" like the station's AP, reference §3.6)."""

    ssid: str = "ESP_010203"
    password: str = ""
    channel: int = 1
    ecn: int = 0
    max_conn: int = 4
    hidden: int = 0


@dataclass
class TlsLinkConfig:
    """AT+CIPSSLCCONF / AT+CIPSSLCSNI for one link (NonOS keeps one for all, under link 0)."""

    auth_mode: int = 0  # bit0: present the client certificate, bit1: verify the server against the CA
    pki_number: int = 0
    ca_number: int = 0
    sni: str | None = None


@dataclass
class MdnsRecord:
    """What AT+MDNS announces (inspect it with ``emulator.call(lambda dev, now: dev.features.mdns)``)."""

    hostname: str
    service_type: str
    port: int
    instance: str
    proto: str = "_tcp"
    txt: dict[str, str] = field(default_factory=dict)


@dataclass
class FeatureState:
    """RAM state of the module features of issue 13; a reboot (or deep sleep) starts a fresh one."""

    #: SoftAP stations: MAC -> IP ("" until the DHCP lease went out).
    stations: dict[str, str] = field(default_factory=dict)
    sleep_mode: int = 0
    ipv6_enabled: bool = False
    #: True once ``WIFI GOT IPv6 LL/GL`` went out for the current association.
    ipv6_addresses: bool = False
    mdns: MdnsRecord | None = None
    tls: dict[int, TlsLinkConfig] = field(default_factory=dict)
    #: The enterprise AP joined with AT+CWJEAP: (ssid, method, identity, username, password, security).
    eap_join: tuple[str, int, str, str, str, int] | None = None
