"""Passive reads in a replay: the module's side of ``AT+CIPRECVDATA``, served from a model of each link's buffer.

How much a host asks with ``AT+CIPRECVDATA=<id>,<len>`` (and how many reads it makes) depends on when the application
reads, not on the module: a module answers the next min(len, held) bytes of the link's buffer, or ``ERROR`` when it
holds nothing. So the replay takes the recorded reads out of the conversation (`split_reads`) and keeps, per link:

- the *stream*: every byte the recorded answers carried, in order;
- how much of it has *arrived* at the module: raised by the recorded passive notices (``+IPD,<id>,<held>``: what
  the recording had read by then, plus ``held``), by ``+CIPRECVLEN:`` answers and by the recorded answers themselves;
- how much the replay has *served*.

Each recorded piece of module output carries a *gate*: what the recording had read on each link at that point. A piece
goes out once the replay's host has read as much (the module's window fills again only as the host drains it); the
next step of the conversation opens every gate, so a host that reads less never waits on the module.

Notices follow the firmware's rule (`shared/reference/esp_at.md` §6.16): one outstanding ``+IPD,<id>,<held>`` until
the host reads, and a new one after a read that leaves data behind; their number is always what is held now.
A new ``<id>,CONNECT`` starts a new stream on that link id, and a ``ready`` (the module reset) on every link. A read the
module never answered in full (it reset in the middle) stays in the conversation, played as recorded once the host
has read what the recording had read before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from netsocket.transcript import Transcript

Key = tuple[int, int]
"""A link's id and its generation: how many ``<id>,CONNECT`` and ``ready`` the module printed before."""

READ_LINE = re.compile(rb"AT\+CIPRECVDATA=(\d+),(\d+)\r\n")
_TOKENS = re.compile(
    rb"\+CIPRECVDATA:(?P<esp>\d+),|\r\n\+CIPRECVDATA,(?P<nonos>\d+):|\r\nERROR\r\n|(?:\r\n)?\+IPD,"
    rb"|\r\nready\r\n|\+CIPRECVLEN:(?P<lens>-?\d+(?:,-?\d+)*)\r\n|(?:^|(?<=\n))(?P<conn>\d),CONNECT\r\n"
)
_ADDRESS = re.compile(rb'"[^"\r\n]*",\d+,')
_IPD_PASSIVE = re.compile(rb"(\d+),(\d+)\r\n")
_IPD_ACTIVE = re.compile(rb"(?:\d+,)?(\d+)(?:,[^:\r\n]*)?:")

PieceKind = Literal["bytes", "notice", "arrival", "recvlen", "connect", "reset"]


@dataclass
class Piece:
    """A part of the module's recorded output, with what it tells about the links' buffers."""

    kind: PieceKind
    data: bytes = b""
    """The recorded bytes (``bytes``, ``connect``), or a notice's or ``+CIPRECVLEN:`` line's text around its numbers."""
    gate: dict[Key, int] = field(default_factory=dict)
    """What the recording had read on each link when the module said this, where it read more after the host's last
    command (a command's own answer waits for no read)."""
    link: int = -1
    arrived: int = 0
    """``notice``/``arrival``: the link's stream had arrived at the module up to here."""
    lengths: list[int] = field(default_factory=list)
    """``recvlen``: the recorded values; ``arrived`` is then per link in `arrivals`."""
    arrivals: dict[int, int] = field(default_factory=dict)
    tail: bytes = b"\r\n"


@dataclass
class Event:
    """A transcript chunk after `split_reads`: a host chunk, or the module's pieces."""

    t: float
    direction: str
    line: int
    """The transcript line it came from (the header is line 1)."""
    data: bytes = b""
    pieces: list[Piece] = field(default_factory=list)
    gate: dict[Key, int] | None = None
    """A read the replay plays as recorded (its answer was cut by a reset): what the recording had read before."""


@dataclass
class ReadFormat:
    """The firmware's answer to a read, as recorded: ``head`` + length + ``middle`` + data + ``tail``."""

    head: bytes = b"+CIPRECVDATA:"
    middle: bytes = b","
    tail: bytes = b"\r\nOK\r\n"
    error: bytes = b"\r\nERROR\r\n"


@dataclass
class Recorded:
    """A transcript with the passive reads taken out, and what the replay needs to answer them."""

    events: list[Event]
    streams: dict[Key, bytes]
    form: ReadFormat
    notice_heads: dict[int, bytes]


def split_reads(transcript: Transcript) -> Recorded:
    """Take the host's ``AT+CIPRECVDATA`` lines and the module's answers to them out of the transcript."""
    module = bytearray()
    starts: list[int] = []  # where each module chunk starts in `module`
    reads: list[_Read] = []
    for chunk in transcript.chunks:
        if chunk.direction == "module":
            starts.append(len(module))
            module += chunk.data
            continue
        if reads and reads[-1].bound < 0:
            reads[-1].bound = len(module)
        read = READ_LINE.fullmatch(chunk.data)
        if read is not None:
            reads.append(_Read(len(module), int(read[1]), chunk.data))
    pieces, recorded, kept = _pieces(bytes(module), reads)
    events: list[Event] = []
    module_index = 0
    piece_at = 0
    read_number = 0
    baseline: dict[Key, int] | None = {}
    for number, chunk in enumerate(transcript.chunks):
        if chunk.direction == "host":
            if not READ_LINE.fullmatch(chunk.data):
                events.append(Event(chunk.t, "host", number + 2, chunk.data))
                baseline = None
            else:
                if read_number in kept:
                    events.append(Event(chunk.t, "host", number + 2, chunk.data, gate=kept[read_number]))
                    baseline = None
                read_number += 1
            continue
        begin = starts[module_index]
        end = begin + len(chunk.data)
        module_index += 1
        event = Event(chunk.t, "module", number + 2)
        while piece_at < len(pieces) and pieces[piece_at][0] < end:
            offset, piece = pieces[piece_at]
            if piece.kind == "bytes" and offset + len(piece.data) > end:
                # a plain run crossing into the next chunk keeps the next chunk's timing for its rest
                cut = end - offset
                event.pieces.append(Piece("bytes", piece.data[:cut], piece.gate))
                pieces[piece_at] = (end, Piece("bytes", piece.data[cut:], piece.gate))
                break
            event.pieces.append(piece)
            piece_at += 1
        for piece in event.pieces:
            # the answer to a command waits for no read; what came after a read in that step waits for it
            if baseline is None:
                baseline = piece.gate
            piece.gate = {k: count for k, count in piece.gate.items() if count > baseline.get(k, 0)}
        if event.pieces:
            events.append(event)
    recorded.events = events
    return recorded


@dataclass
class _Read:
    at: int
    """The module's output so far when the host asked."""
    link: int
    line: bytes
    bound: int = -1
    """... and when the host next spoke (-1: never): the answer ends before."""


def _pieces(module: bytes, reads: list[_Read]) -> tuple[list[tuple[int, Piece]], Recorded, dict[int, dict[Key, int]]]:
    """Cut the module's output into pieces (offset, piece); the read answers become ``arrival`` pieces. An answer
    cut short (the module reset in the middle of it) stays in the output, and its read in the conversation: the
    read numbers returned, with what the recording had read before."""
    out: list[tuple[int, Piece]] = []
    streams: dict[Key, bytearray] = {}
    generation: dict[int, int] = {}
    served: dict[Key, int] = {}
    gate: dict[Key, int] = {}
    form: ReadFormat | None = None
    has_address: bool | None = None
    notice_heads: dict[int, bytes] = {}
    pending = list(enumerate(reads))
    kept: dict[int, dict[Key, int]] = {}
    plain_from = 0
    pos = 0

    def plain(until: int) -> None:
        if until > plain_from:
            out.append((plain_from, Piece("bytes", module[plain_from:until], gate)))

    def key(link: int) -> Key:
        return (link, generation.get(link, 0))

    while True:
        match = _TOKENS.search(module, pos)
        if match is None:
            break
        start, pos = match.start(), match.end()
        token = match.group(0)
        while pending and 0 <= pending[0][1].bound <= start:
            kept[pending.pop(0)[0]] = dict(served)  # no answer before the host spoke again: a reset cut it
        answering = bool(pending) and pending[0][1].at <= start
        if (match["esp"] or match["nonos"]) and answering:
            read_number, read = pending.pop(0)
            link = read.link
            size = int(match["esp"] or match["nonos"])
            data_at = pos
            if match["esp"]:
                if has_address is None:
                    has_address = _ADDRESS.match(module, pos) is not None
                address = _ADDRESS.match(module, pos) if has_address else None
                data_at = address.end() if address else pos
            data = module[data_at : data_at + size]
            end = data_at + len(data)
            if (0 <= read.bound < end) or b"\r\nready\r\n" in data:
                kept[read_number] = dict(served)
                continue
            tail = b"\r\nOK\r\n" if module.startswith(b"\r\nOK\r\n", end) else b""
            if form is None:
                number = match.start("esp") if match["esp"] else match.start("nonos")
                form = ReadFormat(module[start:number], module[match.end() - 1 : data_at], tail or b"\r\nOK\r\n")
            plain(start)
            k = key(link)
            streams.setdefault(k, bytearray()).extend(data)
            out.append((start, Piece("arrival", gate=gate, link=link, arrived=len(streams[k]))))
            served[k] = len(streams[k])
            gate = dict(served)
            pos = plain_from = end + len(tail)
        elif token == b"\r\nERROR\r\n" and answering:
            read = pending.pop(0)[1]
            if form is None:
                form = ReadFormat()
            form.error = token
            # an echo of the read (a module that reset has echo on) goes with the answer
            plain(start - len(read.line) if module.endswith(read.line, read.at, start) else start)
            plain_from = pos
        elif token == b"\r\nready\r\n":
            plain(start)
            for link in range(5):  # the module reset: what it held is gone
                generation[link] = generation.get(link, 0) + 1
            out.append((start, Piece("reset", token, gate)))
            plain_from = pos
        elif token.endswith(b"+IPD,"):
            passive = _IPD_PASSIVE.match(module, pos)
            if passive is None:
                active = _IPD_ACTIVE.match(module, pos)
                if active is not None:
                    pos = active.end() + int(active[1])  # active data: skip it, whatever it holds
                continue
            link, held = int(passive[1]), int(passive[2])
            plain(start)
            head = module[start : passive.start(2)]
            notice_heads[link] = head
            k = key(link)
            out.append((start, Piece("notice", head, gate, link, served.get(k, 0) + held)))
            pos = plain_from = passive.end()
        elif match["lens"] is not None:
            plain(start)
            lengths = [int(v) for v in match["lens"].split(b",")]
            arrivals = {i: served.get(key(i), 0) + v for i, v in enumerate(lengths) if v >= 0}
            head = token[: token.index(b":") + 1]
            out.append((start, Piece("recvlen", head, gate, lengths=lengths, arrivals=arrivals)))
            plain_from = pos
        elif match["conn"] is not None:
            link = int(match["conn"])
            plain(start)
            generation[link] = generation.get(link, 0) + 1
            out.append((start, Piece("connect", token, gate, link)))
            plain_from = pos
    plain(len(module))
    recorded = Recorded([], {k: bytes(v) for k, v in streams.items()}, form or ReadFormat(), notice_heads)
    return out, recorded, kept


class LinkBuffers:
    """The links' buffers during a replay: renders the gated pieces and answers the host's reads."""

    def __init__(self, recorded: Recorded) -> None:
        self._streams = recorded.streams
        self._form = recorded.form
        self._heads = recorded.notice_heads
        self._generation: dict[int, int] = {}
        self._arrived: dict[Key, int] = {}
        self._served: dict[Key, int] = {}
        self._notified: set[Key] = set()

    def key(self, link: int) -> Key:
        return (link, self._generation.get(link, 0))

    def knows(self, link: int) -> bool:
        """Whether the transcript holds any read on ``link``."""
        return any(k[0] == link for k in self._streams)

    def gate_open(self, gate: dict[Key, int]) -> bool:
        return all(self._served.get(k, 0) >= count for k, count in gate.items())

    def held(self, k: Key) -> int:
        """What the module holds, as its notices say (bytes the recording never read count too)."""
        return max(0, self._arrived.get(k, 0) - self._served.get(k, 0))

    def readable(self, k: Key) -> int:
        """What of it the transcript has the bytes of."""
        available = min(self._arrived.get(k, 0), len(self._streams.get(k, b"")))
        return max(0, available - self._served.get(k, 0))

    def render(self, piece: Piece) -> bytes:
        """The bytes a piece puts on the wire now, after applying what it says about the buffers."""
        if piece.kind == "bytes":
            return piece.data
        if piece.kind == "connect":
            self._generation[piece.link] = self._generation.get(piece.link, 0) + 1
            return piece.data
        if piece.kind == "reset":
            for link in range(5):
                self._generation[link] = self._generation.get(link, 0) + 1
            return piece.data
        if piece.kind == "recvlen":
            values = []
            for link, value in enumerate(piece.lengths):
                k = self.key(link)
                if link in piece.arrivals and k in self._streams:
                    self._arrive(k, piece.arrivals[link])
                    value = self.held(k)
                values.append(b"%d" % value)
            return piece.data + b",".join(values) + piece.tail
        k = self.key(piece.link)
        self._arrive(k, piece.arrived)
        return self._notice(k)

    def read(self, link: int, wanted: int) -> tuple[bytes, bytes]:
        """The module's answer to ``AT+CIPRECVDATA=<link>,<wanted>``, and the notice of what is left."""
        k = self.key(link)
        self._notified.discard(k)
        size = min(wanted, self.readable(k))
        if size <= 0:
            return self._form.error, b""
        start = self._served.get(k, 0)
        self._served[k] = start + size
        data = self._streams[k][start : start + size]
        form = self._form
        return form.head + b"%d" % size + form.middle + data + form.tail, self._notice(k)

    def _arrive(self, k: Key, arrived: int) -> None:
        self._arrived[k] = max(self._arrived.get(k, 0), arrived)

    def _notice(self, k: Key) -> bytes:
        held = self.held(k)
        if held <= 0 or k in self._notified:
            return b""
        self._notified.add(k)
        head = self._heads.get(k[0], b"\r\n+IPD,%d," % k[0])
        return head + b"%d\r\n" % held
