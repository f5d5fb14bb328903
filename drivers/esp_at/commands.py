"""AT commands as data: each has a builder (with the firmware's escaping and length rules) and, where its answer
carries values, a reader of its reply lines. Sans-IO: no I/O, no clock.

A ``Command`` says what goes on the wire and how its answer is recognised (``expect``: an ``OK`` without an
information line starting with it belongs to someone else); the protocol core runs it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final, Literal

from .dialects import Dialect, SleepMode
from .links import LINK_COUNT

Kind = Literal["plain", "send", "recvdata"]

COMMAND_TIMEOUT: Final = 5.0
CONNECT_TIMEOUT: Final = 20.0
DNS_TIMEOUT: Final = 15.0
SEND_TIMEOUT: Final = 10.0
JOIN_TIMEOUT: Final = 25.0
SCAN_TIMEOUT: Final = 15.0


class ParameterError(ValueError):
    """A user string that cannot be put on a command line (maps to NSAPI_ERROR_PARAMETER)."""


@dataclass(frozen=True)
class Command:
    """One AT command: its line (without CR LF), how long its answer may take, and how to tell the answer."""

    line: bytes
    timeout: float = COMMAND_TIMEOUT
    kind: Kind = "plain"
    link: int | None = None
    payload: bytes | None = None
    """The data written after the ``>`` prompt (``kind == "send"``)."""
    expect: bytes | None = None
    wanted: int = 0
    """Bytes asked for (``kind == "recvdata"``)."""


def quote(value: str, limit: int = 64) -> bytes:
    """A double-quoted AT string parameter, escaped per the firmware rules (``\\``, ``"`` and ``,`` get a
    backslash). CR, LF, NUL and other control characters, and values over ``limit`` bytes, are refused."""
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise ParameterError(f"string parameter longer than {limit} bytes")
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise ParameterError("string parameter contains a control character")
    out = bytearray(b'"')
    for b in raw:
        if b in b'\\",':
            out.append(0x5C)
        out.append(b)
    out.append(0x22)
    return bytes(out)


# -- builders -------------------------------------------------------------------------------------------------------
def plain(line: bytes, timeout: float = COMMAND_TIMEOUT, expect: bytes | None = None) -> Command:
    return Command(line, timeout, expect=expect)


def is_ipv6(ip: str) -> bool:
    """Whether ``ip`` is an IPv6 literal (it then needs a ``v6`` link type)."""
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def tcp_start(link: int, ip: str, port: int, keepalive: int = 0) -> Command:
    """``AT+CIPSTART=<link>,"TCP"|"TCPv6","<ip>",<port>[,<keepalive>]`` (TCPv6 for an IPv6 literal)."""
    kind = b"TCPv6" if is_ipv6(ip) else b"TCP"
    line = b'AT+CIPSTART=%d,"%s","%s",%d' % (link, kind, ip.encode(), port)
    if keepalive:
        line += b",%d" % keepalive
    return Command(line, CONNECT_TIMEOUT, link=link)


def udp_start(link: int, local_port: int, ipv6: bool = False) -> Command:
    """A UDP link bound to ``local_port`` whose remote follows each sender (mode 2): ``"UDP","0.0.0.0"``, or
    ``"UDPv6","::"`` for an IPv6 socket (a link carries one IP version)."""
    kind, anywhere = (b"UDPv6", b"::") if ipv6 else (b"UDP", b"0.0.0.0")
    line = b'AT+CIPSTART=%d,"%s","%s",0,%d,2' % (link, kind, anywhere, local_port)
    return Command(line, CONNECT_TIMEOUT, link=link)


def tcp_send(link: int, payload: bytes) -> Command:
    return Command(b"AT+CIPSEND=%d,%d" % (link, len(payload)), SEND_TIMEOUT, "send", link, payload)


def udp_send(link: int, payload: bytes, ip: str, port: int) -> Command:
    line = b'AT+CIPSEND=%d,%d,"%s",%d' % (link, len(payload), ip.encode(), port)
    return Command(line, SEND_TIMEOUT, "send", link, payload)


def fetch(link: int, size: int) -> Command:
    return Command(b"AT+CIPRECVDATA=%d,%d" % (link, size), COMMAND_TIMEOUT, "recvdata", link, wanted=size)


def close(link: int) -> Command:
    return Command(b"AT+CIPCLOSE=%d" % link, COMMAND_TIMEOUT, link=link)


def server_start(port: int) -> Command:
    return Command(b"AT+CIPSERVER=1,%d" % port)


def server_max_connections(backlog: int) -> Command:
    return Command(b"AT+CIPSERVERMAXCONN=%d" % max(1, min(LINK_COUNT, backlog or 1)))


SERVER_STOP: Final = Command(b"AT+CIPSERVER=0")
PEER_TABLE: Final = Command(b"AT+CIPSTATUS", expect=b"STATUS:")
RECV_LENGTHS: Final = Command(b"AT+CIPRECVLEN?", expect=b"+CIPRECVLEN:")


def resolve(host: str, network: int | None = None) -> Command:
    """``AT+CIPDOMAIN="<host>"[,<ip network>]`` (2: IPv4 only, 3: IPv6 only, ESP-AT 3.x); ParameterError for a
    name the command line cannot carry."""
    line = b"AT+CIPDOMAIN=" + quote(host, 64)
    if network is not None:
        line += b",%d" % network
    return Command(line, DNS_TIMEOUT, expect=b"+CIPDOMAIN:")


def ping(dialect: Dialect, host: str, timeout: float) -> Command | None:
    """``AT+PING="<host>"`` (None where the firmware has no AT+PING); ParameterError for an unsafe name."""
    if dialect.ping_reply is None:
        return None
    return Command(b"AT+PING=" + quote(host, 64), timeout, expect=dialect.ping_reply)


def ping_time(dialect: Dialect, lines: list[bytes]) -> int | None:
    """The milliseconds in ``+PING:<ms>`` (ESP-AT) or ``+<ms>`` (NonOS); None for ``TIMEOUT``/``timeout``."""
    if dialect.ping_reply is None:
        return None
    for line in lines:
        value = line[len(dialect.ping_reply) :].strip() if line.startswith(dialect.ping_reply) else b""
        if value.isdigit():
            return int(value)
    return None


def mdns(dialect: Dialect, hostname: str | None, service: str, port: int) -> Command | None:
    """``AT+MDNS=1,"<host>","<service>",<port>`` or ``AT+MDNS=0`` (hostname None); None where the firmware lacks
    it. ParameterError for an unsafe string or a port outside 1..65535."""
    if not dialect.mdns:
        return None
    if hostname is None:
        return Command(b"AT+MDNS=0")
    if not hostname or not service or not 0 < port <= 65535:
        raise ParameterError("mDNS needs a host name, a service and a port in 1..65535")
    return Command(b"AT+MDNS=1," + quote(hostname, 32) + b"," + quote(service, 32) + b",%d" % port)


DEEP_SLEEP_MAX_MS: Final = 2**31 - 1
"""AT+GSLP's longest sleep (about 24.8 days)."""


def sleep_mode(dialect: Dialect, mode: SleepMode) -> Command | None:
    """``AT+SLEEP=<n>`` with the firmware's number for ``mode``; None where the firmware lacks the mode."""
    code = dict(dialect.sleep_codes).get(mode)
    return None if code is None else Command(b"AT+SLEEP=%d" % code)


def deep_sleep(millis: int) -> Command:
    """``AT+GSLP=<ms>``: the module echoes ``<ms>`` and ``OK``, then powers down until it reboots."""
    if not 0 < millis <= DEEP_SLEEP_MAX_MS:
        raise ParameterError(f"a deep sleep lasts 1..{DEEP_SLEEP_MAX_MS} ms")
    return Command(b"AT+GSLP=%d" % millis, expect=b"%d" % millis)


def join(dialect: Dialect, ssid: str, pass_phrase: str, bssid: str | None, timeout: float) -> Command:
    """``AT+CWJAP``; ParameterError when a string is unsafe or the line is longer than the firmware takes."""
    line = dialect.cwjap + quote(ssid, 32) + b"," + quote(pass_phrase, 64)
    if len(line) > dialect.command_limit:
        raise ParameterError("the join command is longer than the firmware's command line once escaped")
    if bssid is not None:
        line += b',"' + bssid.encode() + b'"'
    return Command(line, timeout)


def hostname(dialect: Dialect, name: str) -> Command | None:
    return None if dialect.cwhostname is None else Command(dialect.cwhostname + quote(name, 32))


def static_address(dialect: Dialect, ip: str, netmask: str, gateway: str) -> Command:
    return Command(dialect.cipsta_set + b'"%s","%s","%s"' % (ip.encode(), gateway.encode(), netmask.encode()))


def uart(baudrate: int, rtscts: bool) -> Command:
    return Command(b"AT+UART_CUR=%d,8,1,0,%d" % (baudrate, 3 if rtscts else 0))


# -- reply readers ----------------------------------------------------------------------------------------------------
_IP_RE: Final = re.compile(rb'"?([0-9A-Fa-f.:]+)"?')


def line_with(lines: list[bytes], prefix: bytes) -> bytes | None:
    for line in lines:
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


def peer(ip: bytes, port: bytes) -> tuple[str, int] | None:
    """A peer address from the module's text (IPv4, or IPv6 in any case, printed in its compressed lower-case
    form), or None when it is not an IP address and a port in 1..65535."""
    try:
        address = ipaddress.ip_address(ip.decode("ascii"))
        number = int(port)
    except (ValueError, UnicodeDecodeError):
        return None
    return (str(address), number) if 0 < number <= 65535 else None


def peer_table(lines: list[bytes]) -> dict[int, tuple[str, int]]:
    """``+CIPSTATUS:<id>,"TCP","<ip>",<port>,...`` lines (or ``+CIPSTATE:`` ones, the same fields): the peer of
    each listed id (malformed ones left out). An IPv6 peer's colons sit inside its quotes, not between fields."""
    found: dict[int, tuple[str, int]] = {}
    for line in lines:
        prefix = next((p for p in (b"+CIPSTATUS:", b"+CIPSTATE:") if line.startswith(p)), None)
        if prefix is not None:
            parts = line[len(prefix) :].split(b",")
            if len(parts) >= 4 and parts[0].isdigit() and int(parts[0]) < LINK_COUNT:
                address = peer(parts[2].strip(b'"'), parts[3])
                if address is not None:
                    found[int(parts[0])] = address
    return found


def recv_lengths(lines: list[bytes]) -> dict[int, int]:
    """``+CIPRECVLEN:<n0>,<n1>,...``: bytes the module holds per link (unused links left out)."""
    values = line_with(lines, b"+CIPRECVLEN:")
    held: dict[int, int] = {}
    if values is None:
        return held
    for link_id, field_ in enumerate(values.split(b",")[:LINK_COUNT]):
        field_ = field_.strip()
        if field_.lstrip(b"-").isdigit() and int(field_) > 0:
            held[link_id] = int(field_)
    return held


def resolved_address(lines: list[bytes]) -> str | None:
    """The IPv4 or IPv6 address in ``+CIPDOMAIN:<ip>`` (quoted on ESP-AT), or None."""
    value = line_with(lines, b"+CIPDOMAIN:")
    match = _IP_RE.fullmatch(value.strip()) if value is not None else None
    return _ip_text(match.group(1)) if match is not None else None


def _ip_text(raw: bytes) -> str | None:
    """An address the module printed, in Python's normal form (IPv6 lower case, compressed), or None."""
    try:
        return str(ipaddress.ip_address(raw.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None


# -- start-up and the Wi-Fi side ----------------------------------------------------------------------------------
SYNC: Final = Command(b"AT", 0.5)
"""A probe (short timeout: a booting or confused module may need several)."""
ECHO_OFF: Final = Command(b"ATE0")
VERSION: Final = Command(b"AT+GMR", expect=b"AT version:")
PASSTHROUGH_OFF: Final = Command(b"AT+CIPMODE=0")
CLOSE_ALL: Final = Command(b"AT+CIPCLOSE=5")
MULTI_LINK: Final = Command(b"AT+CIPMUX=1")
AUTOCONNECT_OFF: Final = Command(b"AT+CWAUTOCONN=0")
LEAVE: Final = Command(b"AT+CWQAP")
PEER_INFO_ON: Final = Command(b"AT+CIPDINFO=1")
SNTP_TIME: Final = Command(b"AT+CIPSNTPTIME?", expect=b"+CIPSNTPTIME:")


def scan(timeout: float = SCAN_TIMEOUT) -> Command:
    return Command(b"AT+CWLAP", timeout)


def dhcp_on(dialect: Dialect) -> Command:
    return Command(dialect.cwdhcp_on)


def station_query(dialect: Dialect) -> Command:
    return Command(dialect.cipsta_query, expect=b"+CIPSTA")


def mac_query(dialect: Dialect) -> Command:
    return Command(dialect.cipstamac_query, expect=b"+CIPSTAMAC")


def rssi_query(dialect: Dialect) -> Command:
    return Command(dialect.cwjap_query)


def country(dialect: Dialect, code: str, start: int, count: int) -> Command:
    return Command(dialect.cwcountry + b'1,"%s",%d,%d' % (code.encode("ascii"), start, count))


def sntp_config(enable: bool, timezone: int, servers: tuple[str, ...]) -> Command:
    """``AT+CIPSNTPCFG``; ParameterError for a server name the command line cannot carry."""
    names = b"".join(b"," + quote(name, 64) for name in servers)
    return Command(b"AT+CIPSNTPCFG=%d,%d" % (int(bool(enable)), timezone) + names)


_CIPSTA_RE: Final = re.compile(rb'\+CIPSTA(?:_CUR)?:(\w+):"?([0-9A-Fa-f.:]+)"?')
_CWLAP_RE: Final = re.compile(rb'\+CWLAP:\((\d+),"((?:[^"\\]|\\.)*)",(-?\d+),"([0-9a-fA-F:]{17})",(\d+)')
_QUOTED_RE: Final = re.compile(rb'"([^"]*)"')
_RSSI_RE: Final = re.compile(rb'"[0-9a-fA-F:]{17}",(\d+),(-?\d+)')


def station_addresses(lines: list[bytes]) -> dict[str, str]:
    """``+CIPSTA[_CUR]:ip:"..."`` and its netmask/gateway lines, and with IPv6 on ``ip6ll``/``ip6gl``, by name
    (IPv6 in Python's lower-case form; a line whose address does not parse is left out)."""
    values: dict[str, str] = {}
    for line in lines:
        match = _CIPSTA_RE.match(line)
        address = _ip_text(match.group(2)) if match else None
        if match and address is not None:
            values[match.group(1).decode("ascii", "replace")] = address
    return values


def mac_address(lines: list[bytes]) -> str | None:
    for line in lines:
        match = _QUOTED_RE.search(line)
        if line.startswith(b"+CIPSTAMAC") and match:
            return match.group(1).decode("ascii", "replace")
    return None


@dataclass(frozen=True)
class AccessPoint:
    """One ``+CWLAP`` line: encryption code, SSID (unescaped), RSSI, BSSID text, channel."""

    ecn: int
    ssid: str
    rssi: int
    bssid: str
    channel: int


def access_points(lines: list[bytes]) -> list[AccessPoint]:
    found = []
    for line in lines:
        match = _CWLAP_RE.match(line)
        if match is not None:
            ecn, ssid, rssi, mac, channel = match.groups()
            text = re.sub(rb"\\(.)", rb"\1", ssid).decode("utf-8", "replace")
            found.append(AccessPoint(int(ecn), text, int(rssi), mac.decode(), int(channel)))
    return found


def rssi(lines: list[bytes]) -> int | None:
    """``+CWJAP[_CUR]:"<ssid>","<bssid>",<channel>,<rssi>[,...]``: anchored on the BSSID (an SSID may hold commas)."""
    for line in lines:
        match = _RSSI_RE.search(line) if line.startswith(b"+CWJAP") else None
        if match is not None:
            return int(match.group(2))
    return None


def join_error(lines: list[bytes]) -> int | None:
    """The code of a failed join's ``+CWJAP:<code>`` (1 timeout, 2 wrong password, 3 no AP, 4 failed)."""
    code = line_with(lines, b"+CWJAP:")
    return int(code) if code is not None and code.strip().isdigit() else None


# -- the SoftAP -------------------------------------------------------------------------------------------------------
STATION_LIST: Final = Command(b"AT+CWLIF")
"""The stations joined to the SoftAP that hold a DHCP lease (one ``[+CWLIF:]<ip>,<mac>`` line each)."""


def wifi_mode(dialect: Dialect, softap: bool) -> Command:
    """``AT+CWMODE[_CUR]=3`` (station and SoftAP) or ``=1`` (station only): the station side stays up in both."""
    return Command(dialect.cwmode_set + (b"3" if softap else b"1"))


def softap_config(
    dialect: Dialect, ssid: str, pass_phrase: str, channel: int, ecn: int, max_stations: int, hidden: bool
) -> Command:
    """``AT+CWSAP[_CUR]="<ssid>","<pwd>",<ch>,<ecn>,<max conn>,<hidden>``; ParameterError when a string is unsafe
    or the line is longer than the firmware takes (the caller checks the numbers against the dialect)."""
    line = (
        dialect.cwsap
        + b"="
        + quote(ssid, 32)
        + b","
        + quote(pass_phrase, 64)
        + b",%d,%d,%d,%d" % (channel, ecn, max_stations, int(hidden))
    )
    if len(line) > dialect.command_limit:
        raise ParameterError("the SoftAP command is longer than the firmware's command line once escaped")
    return Command(line)


_CWLIF_RE: Final = re.compile(rb"(\d{1,3}(?:\.\d{1,3}){3}),([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})")


def softap_stations(dialect: Dialect, lines: list[bytes]) -> list[tuple[str, str]]:
    """``AT+CWLIF``'s ``<ip>,<mac>`` lines (after the dialect's prefix) as (MAC in lower case, IP); others skipped."""
    found = []
    for line in lines:
        if not line.startswith(dialect.cwlif_prefix):
            continue
        match = _CWLIF_RE.fullmatch(line[len(dialect.cwlif_prefix) :].strip())
        if match is not None:
            found.append((match.group(2).decode().lower(), match.group(1).decode()))
    return found
