"""Firmware dialects of Espressif AT, as data (no protocol logic here).

Three families differ in command names, limits and answer shapes (reference esp_at.md §4.1). The driver picks
one from the ``AT+GMR`` answer with :func:`detect_dialect` and reads every difference from the table below, so
supporting another firmware means adding a row, not an if-chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final

from netsocket.types import NsapiSecurity, NsapiVersion


class SleepMode(Enum):
    """Power saving while associated (``AT+SLEEP``); the firmware's numbers for them differ (reference §3.26)."""

    NONE = "none"
    MODEM = "modem"
    """Modem sleep woken at each DTIM beacon."""
    LIGHT = "light"
    MODEM_LISTEN = "modem_listen"
    """Modem sleep woken at the listen interval (ESP-AT only)."""


@dataclass(frozen=True)
class Dialect:
    name: str
    send_limit: int
    """Largest AT+CIPSEND length."""
    command_limit: int
    """Longest command line the firmware accepts (bytes, without CR LF)."""
    passive_command: bytes | None
    """Turns on passive receive (None: active only)."""
    passive_udp: bool
    """Whether passive receive also covers UDP (NonOS: TCP only)."""
    recvlen_inactive: int
    """What AT+CIPRECVLEN? prints for an unused link."""
    recvdata_has_addr: bool
    """Whether +CIPRECVDATA carries "<ip>",<port> when AT+CIPDINFO=1 (ESP-AT only)."""
    cwmode: bytes
    cwjap: bytes
    cwjap_query: bytes
    cipsta_query: bytes
    cipsta_set: bytes
    cipstamac_query: bytes
    cwdhcp_on: bytes
    cwdhcp_off: bytes
    cwhostname: bytes | None
    cwcountry: bytes
    server_stop: bytes
    """Stops the server and closes its clients."""
    sysstore_off: bytes | None
    """Makes later settings RAM-only (ESP-AT); None where every command has a _CUR form."""
    ipd_chunk: int
    """Largest payload of one active +IPD."""
    passive_window: int
    """Bytes the module holds per link in passive mode."""
    wpa3: bool = False
    """Whether the firmware joins WPA3-only networks (ESP-AT 3.x; older firmware joins a WPA2/WPA3 one as WPA2)."""
    mdns: bool = True
    """Whether the firmware has AT+MDNS (every family does; the extended 3.x parameters are not used)."""
    ping_reply: bytes | None = b"+PING:"
    """The prefix of AT+PING's round-trip line (NonOS prints a bare ``+<ms>``); None: no AT+PING."""
    sleep_codes: tuple[tuple[SleepMode, int], ...] = (
        (SleepMode.NONE, 0),
        (SleepMode.MODEM, 1),
        (SleepMode.LIGHT, 2),
        (SleepMode.MODEM_LISTEN, 3),
    )
    """AT+SLEEP's number for each mode the firmware has (a mode left out is UNSUPPORTED)."""
    udp_active_command: bytes | None = None
    """Puts one link (``%d``) in active receive (AT+CIPRECVTYPE, ESP-AT >= 3.3): passive UDP merges queued
    datagrams (esp-at #451), active +IPD keeps each one whole with its sender."""
    link_passive_command: bytes | None = None
    """Puts one link id (``%d``) back in passive receive after a link that ``udp_active_command`` switched closes
    (the module keeps the mode per id: a TCP link on it would otherwise get active +IPD)."""
    cwmode_set: bytes = b"AT+CWMODE="
    """AT+CWMODE's set form without the mode (NonOS: the RAM-only ``_CUR`` name; reference §3.6)."""
    cwsap: bytes = b"AT+CWSAP"
    """AT+CWSAP's name: ``=`` sets the SoftAP, ``?`` answers ``+<name without AT>:...``."""
    softap_max_stations: int = 8
    """AT+CWSAP's largest ``<max conn>`` (also the firmware's default)."""
    softap_securities: tuple[tuple[NsapiSecurity, int], ...] = (
        (NsapiSecurity.NONE, 0),
        (NsapiSecurity.WPA, 2),
        (NsapiSecurity.WPA2, 3),
        (NsapiSecurity.WPA_WPA2, 4),
    )
    """AT+CWSAP's ``<ecn>`` for each security the SoftAP offers (a security left out is UNSUPPORTED; no WEP)."""
    softap_channels: tuple[int, int] = (1, 13)
    """AT+CWSAP's channel range."""
    softap_urcs: bool = True
    """Whether ``+STA_CONNECTED``/``+DIST_STA_IP``/``+STA_DISCONNECTED`` report stations (NonOS prints none)."""
    cwlif_prefix: bytes = b"+CWLIF:"
    """What starts each AT+CWLIF line before ``<ip>,<mac>`` (NonOS: nothing)."""
    # -- module-side TLS (``module_tls``) and WPA2-Enterprise (``enterprise``); reference §3.13, §3.23 --
    ssl_links: int = 1
    """How many SSL links the firmware runs at once (ESP8266: one, for memory; ESP-AT 3.x on ESP32: five)."""
    sslcconf_per_link: bool = True
    """AT+CIPSSLCCONF takes ``<link>,<auth_mode>`` (ESP-AT); NonOS has one global ``<mode>`` for every link."""
    ssl_sni: bool = True
    """Whether the firmware has AT+CIPSSLCSNI (NonOS does not: its TLS sends no server name)."""
    ssl_size_command: bytes | None = None
    """Sent before an SSL link starts (NonOS needs ``AT+CIPSSLSIZE=4096`` or the handshake fails or reboots)."""
    eap_join: bool = False
    """Whether the firmware has AT+CWJEAP, the WPA2-Enterprise join (ESP-AT on ESP32 only)."""
    ipv6_command: bytes | None = None
    """Turns IPv6 on before the join (``AT+CIPV6=1``, ESP-AT 3.x for the ESP32): the TCPv6/UDPv6 link types, the
    ip6ll/ip6gl lines of AT+CIPSTA? and AAAA look-ups; None: IPv4-only firmware."""
    resolve_network: tuple[tuple[NsapiVersion, int], ...] = ()
    """AT+CIPDOMAIN's ``<ip network>`` for an IP version asked for (ESP-AT 3.x: 2 IPv4 only, 3 IPv6 only); a
    version left out sends none (the firmware's default: IPv4, or IPv4 first where IPv6 is on)."""


NONOS_17: Final = Dialect(
    name="nonos17",
    send_limit=2048,
    command_limit=128,
    passive_command=b"AT+CIPRECVMODE=1",
    passive_udp=False,
    recvlen_inactive=0,
    recvdata_has_addr=False,
    cwmode=b"AT+CWMODE_CUR=1",
    cwjap=b"AT+CWJAP_CUR=",
    cwjap_query=b"AT+CWJAP_CUR?",
    cipsta_query=b"AT+CIPSTA_CUR?",
    cipsta_set=b"AT+CIPSTA_CUR=",
    cipstamac_query=b"AT+CIPSTAMAC_CUR?",
    cwdhcp_on=b"AT+CWDHCP_CUR=1,1",
    cwdhcp_off=b"AT+CWDHCP_CUR=1,0",
    cwhostname=None,
    cwcountry=b"AT+CWCOUNTRY_CUR=",
    server_stop=b"AT+CIPSERVER=0",
    sysstore_off=None,
    ipd_chunk=1460,
    passive_window=5760,
    ping_reply=b"+",
    sleep_codes=((SleepMode.NONE, 0), (SleepMode.LIGHT, 1), (SleepMode.MODEM, 2)),
    cwmode_set=b"AT+CWMODE_CUR=",
    cwsap=b"AT+CWSAP_CUR",
    softap_max_stations=4,
    softap_urcs=False,
    cwlif_prefix=b"",
    sslcconf_per_link=False,
    ssl_sni=False,
    ssl_size_command=b"AT+CIPSSLSIZE=4096",
)

AT2_ESP8266: Final = Dialect(
    name="at2_esp8266",
    send_limit=2048,
    command_limit=256,
    passive_command=b"AT+CIPRECVMODE=1",
    passive_udp=True,
    recvlen_inactive=-1,
    recvdata_has_addr=True,
    cwmode=b"AT+CWMODE=1",
    cwjap=b"AT+CWJAP=",
    cwjap_query=b"AT+CWJAP?",
    cipsta_query=b"AT+CIPSTA?",
    cipsta_set=b"AT+CIPSTA=",
    cipstamac_query=b"AT+CIPSTAMAC?",
    cwdhcp_on=b"AT+CWDHCP=1,1",
    cwdhcp_off=b"AT+CWDHCP=0,1",
    cwhostname=b"AT+CWHOSTNAME=",
    cwcountry=b"AT+CWCOUNTRY=",
    server_stop=b"AT+CIPSERVER=0,1",
    sysstore_off=b"AT+SYSSTORE=0",
    ipd_chunk=2920,
    passive_window=5760,
)

AT3_ESP32: Final = replace(
    AT2_ESP8266,
    name="at3_esp32",
    send_limit=8192,
    passive_window=5744,
    wpa3=True,
    udp_active_command=b"AT+CIPRECVTYPE=%d,0",
    link_passive_command=b"AT+CIPRECVTYPE=%d,1",
    softap_max_stations=10,
    ssl_links=5,
    eap_join=True,
    ipv6_command=b"AT+CIPV6=1",
    resolve_network=((NsapiVersion.IPv4, 2), (NsapiVersion.IPv6, 3)),
)

DIALECTS: Final = {d.name: d for d in (NONOS_17, AT2_ESP8266, AT3_ESP32)}

_VERSION_RE: Final = re.compile(rb"AT version:(\d+)\.(\d+)\.(\d+)\.(\d+)([^(\r\n]*)\(([^)\r\n]*)")
_SDK_RE: Final = re.compile(rb"SDK version:v?(\d+)")


@dataclass(frozen=True)
class FirmwareInfo:
    version: tuple[int, int, int, int]
    dialect: Dialect
    text: str
    """The AT+GMR lines, for logs and bug reports."""


def detect_dialect(gmr_lines: list[bytes]) -> FirmwareInfo | None:
    """Pick the dialect from the information lines of ``AT+GMR``; None if no ``AT version:`` line is there.

    Major 0-1 is NonOS. Major >= 2 is ESP-AT: on an ESP8266 when the parentheses name it, or (2.0/2.1 builds that
    omit the chip) when the SDK is ESP8266_RTOS_SDK 3.x; otherwise ESP32 family.
    """
    text = b"\n".join(gmr_lines)
    match = _VERSION_RE.search(text)
    if match is None:
        return None
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3)), int(match.group(4)))
    if version[0] < 2:
        dialect = NONOS_17
    elif b"ESP8266" in match.group(6):
        dialect = AT2_ESP8266
    else:
        sdk = _SDK_RE.search(text)
        chip_named = re.search(rb"ESP32", match.group(6)) is not None
        dialect = AT2_ESP8266 if (sdk is not None and sdk.group(1) == b"3" and not chip_named) else AT3_ESP32
        if dialect is AT3_ESP32 and version < (3, 3, 0, 0):
            dialect = replace(
                AT3_ESP32,
                name="at2_esp32",
                udp_active_command=None,
                link_passive_command=None,
                wpa3=False,
                ipv6_command=None,
                resolve_network=(),
            )
    return FirmwareInfo(version, dialect, text.decode("ascii", "replace"))
