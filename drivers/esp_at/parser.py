"""Sans-IO tokenizer for the Espressif AT protocol (bytes in, events out; h11 style).

Layer rules: no threads, no ports, no clocks. ``receive_data(bytes)`` appends what the UART delivered,
``next_event()`` returns one event or ``NEED_DATA``. The result does not depend on how the input was split.

What it recognises, at the start of a line (after any CR/LF):
- ``>`` (the CIPSEND prompt; the NonOS trailing space is swallowed),
- ``+IPD,...:`` followed by exactly N raw bytes (active receive; every field layout of every firmware), and the
  passive notice ``+IPD,[<link>,]<total>`` that ends with CR LF,
- ``+CIPRECVDATA,<n>:`` (NonOS) and ``+CIPRECVDATA:<n>,["<ip>",<port>,]`` (ESP-AT) followed by exactly N bytes,
- any other CR/LF-terminated line, classified (final results, busy, ``Recv N bytes``, link and Wi-Fi notices,
  ``ready``) or passed on as an information ``Line``.

Bounded: a line longer than ``MAX_LINE`` or a data length above the configured limit is reported as ``Garbage``
and skipped up to the next line end, so a hostile length cannot make it allocate without limit; the data bytes
of a rejected header are then parsed as (garbage) lines, which resynchronises at the next CR LF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

MAX_LINE: Final = 1024
"""Longest line kept (real lines are < 300 bytes; +CWLAP lines are the longest)."""
MAX_HEADER: Final = 80
"""Longest +IPD / +CIPRECVDATA header before its ':' or ',' data separator."""
DEFAULT_MAX_DATA: Final = 8192
"""Default cap on one +IPD / +CIPRECVDATA payload (the largest firmware limit)."""
LINK_COUNT: Final = 5


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


@dataclass(frozen=True)
class Line:
    """An information or unknown line, without its CR LF (e.g. ``+CWJAP:3``, ``STATUS:2``, echo, boot text)."""

    text: bytes


@dataclass(frozen=True)
class Result:
    """A final result: ``OK``, ``ERROR``, ``FAIL``, ``SEND OK``, ``SEND FAIL``, ``SEND CANCELED``."""

    kind: Literal["OK", "ERROR", "FAIL", "SEND OK", "SEND FAIL", "SEND CANCELED"]


@dataclass(frozen=True)
class Busy:
    """``busy p...`` (processing) or ``busy s...`` (NonOS: a send is still outstanding)."""

    kind: Literal["p", "s"]


@dataclass(frozen=True)
class RecvBytes:
    """``Recv N bytes``: the module took N bytes of CIPSEND payload from the UART."""

    count: int


@dataclass(frozen=True)
class Prompt:
    """The ``>`` prompt of AT+CIPSEND."""


@dataclass(frozen=True)
class Ready:
    """``ready``: the module (re)booted."""


@dataclass(frozen=True)
class LinkEvent:
    """``<link>,CONNECT`` / ``<link>,CLOSED`` / ``<link>,CONNECT FAIL``; link is None in single-link mode."""

    link: int | None
    kind: Literal["CONNECT", "CLOSED", "CONNECT FAIL"]


WifiKind = Literal["CONNECTED", "GOT IP", "DISCONNECT", "GOT IPv6 LL", "GOT IPv6 GL"]


@dataclass(frozen=True)
class WifiEvent:
    """``WIFI CONNECTED`` / ``WIFI GOT IP`` / ``WIFI DISCONNECT``, and with IPv6 on (ESP-AT 3.x)
    ``WIFI GOT IPv6 LL`` / ``WIFI GOT IPv6 GL`` (link-local, global address; they may follow the join's OK)."""

    kind: WifiKind


@dataclass(frozen=True)
class StationEvent:
    """A station joined (``+STA_CONNECTED:"<mac>"``), got an address (``+DIST_STA_IP:"<mac>","<ip>"``) from, or
    left (``+STA_DISCONNECTED:"<mac>"``) the module's SoftAP (ESP-AT; NonOS prints none of them). MAC in lower case."""

    kind: Literal["CONNECTED", "GOT IP", "DISCONNECTED"]
    mac: str
    ip: str | None = None


@dataclass(frozen=True)
class IpdData:
    """Active-mode data: ``+IPD,[<link>,]<len>[,<ip>,<port>]:<data>``."""

    link: int | None
    data: bytes
    ip: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class IpdNotice:
    """Passive-mode notice ``+IPD,[<link>,]<total>``: total bytes the module holds for the link."""

    link: int | None
    total: int


@dataclass(frozen=True)
class RecvData:
    """A ``+CIPRECVDATA`` payload (answer to AT+CIPRECVDATA; the link is the one asked for)."""

    data: bytes
    ip: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class Garbage:
    """Bytes skipped: an over-long line, or a header with a bad or hostile length."""

    reason: str
    size: int


Event = (
    Line
    | Result
    | Busy
    | RecvBytes
    | Prompt
    | Ready
    | LinkEvent
    | WifiEvent
    | StationEvent
    | IpdData
    | IpdNotice
    | RecvData
    | Garbage
)

_FINALS: Final[dict[bytes, Result]] = {
    b"OK": Result("OK"),
    b"ERROR": Result("ERROR"),
    b"FAIL": Result("FAIL"),
    b"SEND OK": Result("SEND OK"),
    b"SEND FAIL": Result("SEND FAIL"),
    b"SEND Canceled": Result("SEND CANCELED"),
    b"SEND CANCELLED": Result("SEND CANCELED"),
}
_WIFI: Final[dict[bytes, WifiEvent]] = {
    b"WIFI CONNECTED": WifiEvent("CONNECTED"),
    b"WIFI GOT IP": WifiEvent("GOT IP"),
    b"WIFI DISCONNECT": WifiEvent("DISCONNECT"),
    b"WIFI GOT IPv6 LL": WifiEvent("GOT IPv6 LL"),
    b"WIFI GOT IPv6 GL": WifiEvent("GOT IPv6 GL"),
}
_MAC: Final = rb'"([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})"'
# Espressif's docs print a space after the colon; the firmware does not (reference §2.4): both are taken.
_STATION_RE: Final = re.compile(rb"\+(STA_CONNECTED|STA_DISCONNECTED): ?" + _MAC)
_STATION_IP_RE: Final = re.compile(rb"\+DIST_STA_IP: ?" + _MAC + rb',"(\d{1,3}(?:\.\d{1,3}){3})"')
_LINK_RE: Final = re.compile(rb"(?:([0-4]),)?(CONNECT|CLOSED|CONNECT FAIL)")
_RECV_RE: Final = re.compile(rb"Recv (\d{1,9}) bytes")
_INT_RE: Final = re.compile(rb"-?\d{1,10}")
_Step = Event | Literal["more", "continue"]
_IPD: Final = b"+IPD,"
_RECVDATA: Final = b"+CIPRECVDATA"
_PREFIXES: Final = (_IPD, _RECVDATA)
_GLUED_HEADERS: Final = (_IPD, _RECVDATA + b":", _RECVDATA + b",")
"""Data headers looked for after noise within a line (not an echoed ``AT+CIPRECVDATA=``)."""


def classify_line(text: bytes) -> Event:
    """Map one complete line (no CR LF) to its event."""
    final = _FINALS.get(text)
    if final is not None:
        return final
    if text.startswith(b"busy "):
        return Busy("s" if text[5:6] == b"s" else "p")
    if text == b"ready":
        return Ready()
    wifi = _WIFI.get(text)
    if wifi is not None:
        return wifi
    if text.startswith((b"+STA_", b"+DIST_STA_IP:")):
        return _station_event(text)
    match = _LINK_RE.fullmatch(text)
    if match is not None:
        link = int(match.group(1)) if match.group(1) is not None else None
        kind = match.group(2).decode()
        return LinkEvent(link, kind)  # type: ignore[arg-type]
    match = _RECV_RE.fullmatch(text)
    if match is not None:
        return RecvBytes(int(match.group(1)))
    return Line(text)


def _station_event(text: bytes) -> Event:
    match = _STATION_RE.fullmatch(text)
    if match is not None:
        kind = "CONNECTED" if match.group(1) == b"STA_CONNECTED" else "DISCONNECTED"
        return StationEvent(kind, match.group(2).decode().lower())  # type: ignore[arg-type]
    match = _STATION_IP_RE.fullmatch(text)
    if match is not None:
        return StationEvent("GOT IP", match.group(1).decode().lower(), match.group(2).decode())
    return Line(text)  # malformed: an information line like any other


def _parse_int(field: bytes, low: int, high: int) -> int | None:
    if not _INT_RE.fullmatch(field):
        return None
    value = int(field)
    return value if low <= value <= high else None


def _split_fields(header: bytes) -> list[bytes] | None:
    """Split on commas outside double quotes; quotes are kept on the fields."""
    fields: list[bytes] = []
    start = 0
    quoted = False
    for i, byte in enumerate(header):
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x2C and not quoted:
            fields.append(header[start:i])
            start = i + 1
    if quoted:
        return None
    fields.append(header[start:])
    return fields


def _parse_addr(ip_field: bytes, port_field: bytes) -> tuple[str, int] | None:
    ip = ip_field[1:-1] if len(ip_field) >= 2 and ip_field[:1] == b'"' and ip_field[-1:] == b'"' else ip_field
    if not ip or len(ip) > 45 or not re.fullmatch(rb"[0-9A-Fa-f.:]+", ip):
        return None
    port = _parse_int(port_field, 0, 65535)
    if port is None:
        return None
    return ip.decode("ascii"), port


class ATParser:
    """Incremental AT tokenizer. ``max_data`` caps one payload; ``recvdata_addr`` says whether ESP-AT
    ``+CIPRECVDATA`` carries ``"<ip>",<port>,`` before its data (AT+CIPDINFO=1)."""

    def __init__(self, max_data: int = DEFAULT_MAX_DATA, recvdata_addr: bool = False) -> None:
        self.max_data = max_data
        self.recvdata_addr = recvdata_addr
        self.expect_prompt = False
        """Set by the engine while an AT+CIPSEND waits for its '>' (see the noise rule in next_event)."""
        self._buf = bytearray()
        self._pos = 0
        self._skipping = False  # discarding up to the next line end
        self._skipped = 0
        self._skip_reason = ""
        self._after_prompt = False
        # an open payload: (kind, link, needed, ip, port) plus the bytes gathered so far
        self._data_kind: Literal["ipd", "recvdata"] | None = None
        self._data_link: int | None = None
        self._data_need = 0
        self._data_addr: tuple[str, int] | None = None
        self._data = bytearray()

    # -- input ----------------------------------------------------------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes held (unparsed input plus a partial payload); bounded when the caller drains events."""
        return len(self._buf) - self._pos + len(self._data)

    def reset(self) -> None:
        """Forget all state (after the port was reopened or the baud rate changed)."""
        self.__init__(self.max_data, self.recvdata_addr)  # type: ignore[misc]

    # -- output ---------------------------------------------------------------------------------------------------
    def next_event(self) -> Event | _NeedData:
        while True:
            if self._data_kind is not None:
                return self._continue_data()
            if self._skipping:
                event = self._continue_skip()
                if event is not None:
                    return event
                if self._skipping:
                    return NEED_DATA
                continue
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while pos < end and buf[pos] in (0x0D, 0x0A):
                pos += 1
            if self._after_prompt and pos < end:
                self._after_prompt = False
                if buf[pos] == 0x20 and pos == self._pos:  # NonOS prints "> "
                    self._pos = pos + 1
                    continue
            self._pos = pos
            if pos >= end:
                return NEED_DATA
            if buf[pos] == 0x3E:  # '>'
                self._pos = pos + 1
                self._after_prompt = True
                return Prompt()
            head = bytes(buf[pos : pos + 12])
            for prefix in _PREFIXES:
                if prefix.startswith(head[: len(prefix)]) and len(head) < len(prefix):
                    return NEED_DATA  # could still become a framed header
            if head.startswith(_IPD) or head.startswith(_RECVDATA):
                step = self._start_ipd() if head.startswith(_IPD) else self._start_recvdata()
                if step == "more":
                    return NEED_DATA
                if step == "continue":
                    continue
                return step
            nl = buf.find(b"\n", pos, pos + MAX_LINE + 1)
            # Line noise glued before a data header would hide the header and turn its payload into lines: the
            # bytes would be lost unnoticed. The noise is skipped and the header parsed.
            header = min(
                (at for at in (buf.find(head, pos, nl if nl >= 0 else end) for head in _GLUED_HEADERS) if at > pos),
                default=-1,
            )
            if header > pos:
                self._pos = header
                return Garbage("noise before a data header", header - pos)
            if nl < 0:
                if end - pos > MAX_LINE:
                    self._begin_skip("line too long", 0)
                    continue
                if self.expect_prompt:
                    # Line noise just before the prompt would hide it (the module then waits for data forever):
                    # while a CIPSEND waits for '>', a '>' that ends the input is the prompt.
                    tail = bytes(buf[max(pos, end - 2) : end])
                    at = end - 1 if tail.endswith(b">") else (end - 2 if tail == b"> " else -1)
                    if at > pos:
                        self._pos = at
                        return Garbage("noise before the prompt", at - pos)
                return NEED_DATA
            text = bytes(buf[pos:nl]).rstrip(b"\r")
            self._pos = nl + 1
            return classify_line(text)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _begin_skip(self, reason: str, already: int) -> None:
        self._skipping = True
        self._skip_reason = reason
        self._skipped = already

    def _continue_skip(self) -> Garbage | None:
        buf, pos = self._buf, self._pos
        nl = buf.find(b"\n", pos)
        if nl < 0:
            self._skipped += len(buf) - pos
            self._pos = len(buf)
            return None
        self._skipped += nl + 1 - pos
        self._pos = nl + 1
        self._skipping = False
        return Garbage(self._skip_reason, self._skipped)

    def _reject_header(self, reason: str) -> _Step:
        """Skip the rest of the header's line; its data bytes will be parsed as lines and resynchronise."""
        self._begin_skip(reason, 0)
        return "continue"

    def _find_header_end(self, start: int, stops: bytes) -> tuple[int, int] | Literal["more", "bad"]:
        """Index and byte of the first stop character outside quotes, None if more input is needed."""
        buf, end = self._buf, len(self._buf)
        quoted = False
        limit = min(end, start + MAX_HEADER)
        for i in range(start, limit):
            byte = buf[i]
            if byte == 0x22:
                quoted = not quoted
            elif not quoted and byte in stops:
                return i, byte
        if end - start >= MAX_HEADER:
            return "bad"
        return "more"

    def _start_ipd(self) -> _Step:
        start = self._pos + len(_IPD)
        found = self._find_header_end(start, b":\r\n")
        if found == "more":
            return "more"
        if found == "bad":
            return self._reject_header("+IPD header too long")
        assert isinstance(found, tuple)
        stop, byte = found
        fields = _split_fields(bytes(self._buf[start:stop]))
        if fields is None:
            return self._reject_header("+IPD header malformed")
        if byte != 0x3A:  # passive notice: [link,]total
            link: int | None = None
            if len(fields) == 2:
                link = _parse_int(fields[0], 0, LINK_COUNT - 1)
                if link is None:
                    return self._reject_header("+IPD bad link id")
                fields = fields[1:]
            total = _parse_int(fields[0], 0, 0x7FFFFFFF) if len(fields) == 1 else None
            if total is None:
                return self._reject_header("+IPD bad notice")
            self._pos = stop
            return IpdNotice(link, total)
        link = None
        addr: tuple[str, int] | None = None
        if len(fields) in (2, 4):
            link = _parse_int(fields[0], 0, LINK_COUNT - 1)
            if link is None:
                return self._reject_header("+IPD bad link id")
            fields = fields[1:]
        if len(fields) == 3:
            addr = _parse_addr(fields[1], fields[2])
            if addr is None:
                return self._reject_header("+IPD bad remote address")
        elif len(fields) != 1:
            return self._reject_header("+IPD bad field count")
        length = _parse_int(fields[0], 0, 0x7FFFFFFF)
        if length is None or length > self.max_data:
            return self._reject_header("+IPD length out of range")
        self._pos = stop + 1
        self._open_data("ipd", link, length, addr)
        return "continue"

    def _start_recvdata(self) -> _Step:
        sep_pos = self._pos + len(_RECVDATA)
        if sep_pos >= len(self._buf):
            return "more"
        sep = self._buf[sep_pos]
        start = sep_pos + 1
        if sep == 0x2C:  # NonOS: +CIPRECVDATA,<n>:<data>
            found = self._find_header_end(start, b":\n")
            if found == "more":
                return "more"
            if not isinstance(found, tuple) or found[1] != 0x3A:
                return self._reject_header("+CIPRECVDATA header malformed")
            stop = found[0]
            length = _parse_int(bytes(self._buf[start:stop]), 0, 0x7FFFFFFF)
            if length is None or length > self.max_data:
                return self._reject_header("+CIPRECVDATA length out of range")
            self._pos = stop + 1
            self._open_data("recvdata", None, length, None)
            return "continue"
        if sep != 0x3A:  # not a data header (e.g. a test-command answer): an ordinary line
            return self._as_line()
        found = self._find_header_end(start, b",\n")
        if found == "more":
            return "more"
        if not isinstance(found, tuple) or found[1] != 0x2C:
            return self._reject_header("+CIPRECVDATA header malformed")
        stop = found[0]
        length = _parse_int(bytes(self._buf[start:stop]), 0, 0x7FFFFFFF)
        if length is None or length > self.max_data:
            return self._reject_header("+CIPRECVDATA length out of range")
        addr: tuple[str, int] | None = None
        data_start = stop + 1
        if self.recvdata_addr:
            if data_start >= len(self._buf):
                return "more"
            if self._buf[data_start] == 0x22:
                found2 = self._find_header_end(data_start, b",")
                if found2 == "more":
                    return "more"
                if not isinstance(found2, tuple):
                    return self._reject_header("+CIPRECVDATA address malformed")
                comma = found2[0]
                nxt = self._buf.find(b",", comma + 1, comma + 8)
                if nxt < 0:
                    if len(self._buf) - comma < 8:
                        return "more"
                    return self._reject_header("+CIPRECVDATA address malformed")
                addr = _parse_addr(bytes(self._buf[data_start:comma]), bytes(self._buf[comma + 1 : nxt]))
                if addr is None:
                    return self._reject_header("+CIPRECVDATA address malformed")
                data_start = nxt + 1
        self._pos = data_start
        self._open_data("recvdata", None, length, addr)
        return "continue"

    def _as_line(self) -> _Step:
        nl = self._buf.find(b"\n", self._pos, self._pos + MAX_LINE + 1)
        if nl < 0:
            if len(self._buf) - self._pos > MAX_LINE:
                self._begin_skip("line too long", 0)
                return "continue"
            return "more"
        text = bytes(self._buf[self._pos : nl]).rstrip(b"\r")
        self._pos = nl + 1
        return classify_line(text)

    def _open_data(
        self, kind: Literal["ipd", "recvdata"], link: int | None, length: int, addr: tuple[str, int] | None
    ) -> None:
        self._data_kind = kind
        self._data_link = link
        self._data_need = length
        self._data_addr = addr
        self._data = bytearray()

    def _continue_data(self) -> Event | _NeedData:
        take = min(self._data_need - len(self._data), len(self._buf) - self._pos)
        if take:
            self._data += self._buf[self._pos : self._pos + take]
            self._pos += take
        if len(self._data) < self._data_need:
            return NEED_DATA
        data = bytes(self._data)
        addr = self._data_addr
        kind, link = self._data_kind, self._data_link
        self._data_kind = None
        self._data = bytearray()
        ip, port = addr if addr is not None else (None, None)
        if kind == "ipd":
            return IpdData(link, data, ip, port)
        return RecvData(data, ip, port)
