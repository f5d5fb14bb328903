"""Sans-IO ESP-AT engine: the pending command, the link table, receive buffers and command building.

Layer rules: no threads, ports or clocks. The runner feeds it parser events (``handle``) under its lock and
reads the outcome of the pending command; the stack reads and drains the link table under the same lock.

Routing: URCs (link, Wi-Fi, ``ready``, ``+IPD``) are applied to the link table wherever they arrive; everything
else (information lines, results, prompts, ``busy``) belongs to the pending command, if any, and is otherwise
logged and dropped. A ``SEND OK`` is only taken after this send's ``Recv N bytes``, so a late ``SEND OK`` of an
earlier send cannot complete a later one.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from . import parser as p
from .dialects import AT2_ESP8266, Dialect

_log = logging.getLogger("netsocket.drivers.esp_at")

LINK_COUNT: Final = 5
TCP_BUFFER_LIMIT: Final = 16384
"""Host-side bytes held per TCP link (passive mode stops fetching above it; active mode drops and counts)."""
UDP_QUEUE_LIMIT: Final = 32
"""Datagrams held per UDP link before new ones are dropped (and counted)."""
ACCEPT_QUEUE_LIMIT: Final = 2 * LINK_COUNT
"""Connections waiting for accept(): the five live ids plus clients that already hung up."""


class ParameterError(ValueError):
    """A user string that cannot be put on a command line (maps to NSAPI_ERROR_PARAMETER)."""


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


class LinkState(enum.Enum):
    FREE = "free"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"


@dataclass
class Link:
    """One of the module's five link ids, as the host sees it."""

    id: int
    state: LinkState = LinkState.FREE
    proto: Literal["TCP", "UDP"] = "TCP"
    owner: object | None = None
    accepted: bool = False
    """Opened by the module's server (a client connected to us)."""
    peer_closed: bool = False
    lost: bool = False
    """Closed by a module reset or a Wi-Fi loss (recv gives CONNECTION_LOST, not 0)."""
    module_pending: int = 0
    """Bytes the module holds for this link (passive mode, from +IPD notices)."""
    notice_raced: bool = False
    detached: bool = False
    """No longer in the link table: the module reused the id (see _link_event); never send commands for it."""
    rx: bytearray = field(default_factory=bytearray)
    datagrams: deque[tuple[bytes, str | None, int | None]] = field(default_factory=deque)
    remote: tuple[str, int] | None = None
    dropped_bytes: int = 0
    dropped_datagrams: int = 0
    generation: int = 0
    """Bumped each time the link id is reused, so a late event cannot touch a newer user of the id."""

    def reset(self) -> None:
        gen = self.generation + 1
        self.__init__(self.id)  # type: ignore[misc]
        self.generation = gen

    @property
    def buffered(self) -> int:
        return len(self.rx) + sum(len(d[0]) for d in self.datagrams)


Stage = Literal["sent", "prompt", "data", "received", "done"]
Outcome = Literal["OK", "ERROR", "FAIL", "SEND OK", "SEND FAIL", "SEND CANCELED", "RESET"]


@dataclass
class Pending:
    """The command in flight (only one at a time)."""

    line: bytes
    kind: Literal["plain", "send", "recvdata"] = "plain"
    link: int | None = None
    stage: Stage = "sent"
    lines: list[bytes] = field(default_factory=list)
    outcome: Outcome | None = None
    busy: bool = False
    """A ``busy`` answered this attempt (the runner waits a little, then repeats the command)."""
    recv_count: int | None = None
    recvdata: p.RecvData | None = None
    expect: bytes | None = None
    """An OK without an information line starting with this is someone else's (a late or busy-time answer)."""
    ok_seen: bool = False
    """A send's OK arrived (its '>' may follow)."""
    other_finished: bool = False
    """While busy: the command that kept the module busy has ended, so ours can go again at once."""

    @property
    def done(self) -> bool:
        return self.outcome is not None


@dataclass(frozen=True)
class Notice:
    """What the engine tells the runner after an event: which links changed, Wi-Fi news, a reset."""

    links: frozenset[int] = frozenset()
    wifi: Literal["CONNECTED", "GOT IP", "DISCONNECT"] | None = None
    reset: bool = False
    accepted: int | None = None


_NOTHING: Final = Notice()


class Engine:
    """The module as the host knows it."""

    def __init__(self, dialect: Dialect = AT2_ESP8266) -> None:
        self.dialect = dialect
        self.parser = p.ATParser(max_data=max(dialect.send_limit, 8192), recvdata_addr=dialect.recvdata_has_addr)
        self.links = [Link(i) for i in range(LINK_COUNT)]
        self.pending: Pending | None = None
        self.passive = False
        self.wifi_up = False
        self.accept_queue: deque[Link] = deque()
        """Connections the module accepted, oldest first; a record stays its own even when the module reuses the id."""
        self.unconfirmed_send = False
        self.garbage_bytes = 0
        self.dropped_connections = 0
        self.resets = 0
        """How many times the module printed ``ready`` (a reboot)."""

    def set_dialect(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.parser.recvdata_addr = dialect.recvdata_has_addr
        self.parser.max_data = max(dialect.send_limit, 8192)

    # -- commands -------------------------------------------------------------------------------------------------
    def begin(self, pending: Pending) -> bytes:
        """Make ``pending`` the command in flight; returns the bytes to write."""
        self.pending = pending
        self.parser.expect_prompt = pending.kind == "send"
        return pending.line + b"\r\n"

    def retry(self) -> bytes:
        """Start the pending command again after a ``busy``."""
        assert self.pending is not None
        self.pending.busy = False
        self.pending.other_finished = False
        self.pending.ok_seen = False
        self.pending.stage = "sent"
        self.pending.lines.clear()
        return self.pending.line + b"\r\n"

    def finish(self) -> None:
        self.pending = None
        self.parser.expect_prompt = False

    def data_written(self) -> None:
        if self.pending is not None and self.pending.kind == "send" and self.pending.stage == "prompt":
            self.pending.stage = "data"

    # -- input ----------------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[tuple[p.Event, Notice]]:
        """Parse bytes and apply every complete event; returns them with what each changed."""
        self.parser.receive_data(data)
        out: list[tuple[p.Event, Notice]] = []
        while True:
            event = self.parser.next_event()
            if isinstance(event, p._NeedData):
                return out
            out.append((event, self.handle(event)))

    def handle(self, event: p.Event) -> Notice:
        pending = self.pending
        if isinstance(event, p.IpdData):
            return self._ipd_data(event)
        if isinstance(event, p.IpdNotice):
            if event.link is None:
                return _NOTHING
            link = self.links[event.link]
            link.module_pending = event.total
            if pending is not None and pending.kind == "recvdata" and pending.link == link.id and not pending.done:
                # Announced while our read was under way: the total may already exclude what the read returns.
                # Counting it again is harmless (a read too many gets ERROR); subtracting it could stall the link.
                link.notice_raced = pending.recvdata is None
            return Notice(links=frozenset({event.link}))
        if isinstance(event, p.LinkEvent):
            return self._link_event(event)
        if isinstance(event, p.WifiEvent):
            if event.kind == "GOT IP":
                self.wifi_up = True
            elif event.kind == "DISCONNECT":
                self.wifi_up = False
            return Notice(wifi=event.kind)
        if isinstance(event, p.Ready):
            return self._module_reset()
        if isinstance(event, p.Garbage):
            self.garbage_bytes += event.size
            _log.debug("AT skipped %d bytes: %s", event.size, event.reason)
            return _NOTHING
        if pending is None or pending.done:
            if isinstance(event, p.Result) and event.kind == "SEND OK":
                self.unconfirmed_send = False
            _log.debug("AT unsolicited %r", event)
            return _NOTHING
        if isinstance(event, p.RecvData):
            if pending.kind == "recvdata" and pending.recvdata is not None:
                # One read, one payload: more is a confused module, and keeping it would outgrow the buffer limit.
                _log.warning("AT extra +CIPRECVDATA payload of %d bytes for one read dropped", len(event.data))
                return _NOTHING
            if pending.kind == "recvdata":
                pending.recvdata = event
                if pending.link is not None:
                    wanted = int(pending.line.rsplit(b",", 1)[-1] or b"0")
                    self._store_recvdata(self.links[pending.link], event, wanted)
                return Notice(links=frozenset({pending.link})) if pending.link is not None else _NOTHING
            return _NOTHING
        if isinstance(event, p.Busy):
            if pending.stage == "sent":
                pending.busy = True
            return _NOTHING
        if isinstance(event, p.Prompt):
            # The prompt follows the command's own OK ("\r\nOK\r\n\r\n>"): a '>' before it is line noise, and
            # writing the payload then would feed it to the command parser.
            if pending.kind == "send" and pending.stage == "sent" and pending.ok_seen:
                pending.stage = "prompt"
                pending.busy = False
                self.parser.expect_prompt = False
            return _NOTHING
        if isinstance(event, p.RecvBytes):
            if pending.kind == "send" and pending.stage == "data":
                pending.recv_count = event.count
                pending.stage = "received"
            return _NOTHING
        if isinstance(event, p.Result):
            if pending.busy:
                # After "busy p..." a result belongs to the command that kept the module busy, not to ours.
                _log.debug("AT result %r while busy: not ours", event)
                pending.other_finished = True
                return _NOTHING
            return self._result(pending, event)
        if isinstance(event, p.Line):
            if event.text == pending.line or not event.text:
                return _NOTHING  # echo (echo on after a reset until ATE0)
            pending.lines.append(event.text)
            return _NOTHING
        return _NOTHING

    def _result(self, pending: Pending, event: p.Result) -> Notice:
        kind = event.kind
        if pending.kind == "send":
            if kind == "OK":
                pending.ok_seen = pending.stage == "sent"
                return _NOTHING  # the OK before '>'
            if kind in ("SEND OK", "SEND FAIL"):
                if pending.stage == "received" or (pending.stage == "data" and not self.unconfirmed_send):
                    pending.outcome = kind
                    pending.stage = "done"
                elif kind == "SEND OK":
                    self.unconfirmed_send = False  # the late answer to an earlier send
                return _NOTHING
            if kind in ("ERROR", "FAIL", "SEND CANCELED"):
                pending.outcome = "SEND CANCELED" if kind == "SEND CANCELED" else "ERROR"
                pending.stage = "done"
            return _NOTHING
        if (
            kind == "OK"
            and pending.expect is not None
            and not any(line.startswith(pending.expect) for line in pending.lines)
        ):
            _log.debug("AT OK without %r: not the answer to %r", pending.expect, pending.line)
            pending.lines.clear()
            return _NOTHING
        if kind in ("OK", "ERROR", "FAIL"):
            pending.outcome = kind
            pending.stage = "done"
            pending.busy = False
        return _NOTHING

    def _module_reset(self) -> Notice:
        self.resets += 1
        changed = []
        for link in self.links:
            if link.state is not LinkState.FREE:
                link.lost = True
                link.peer_closed = True
                link.module_pending = 0
                if link.owner is None:
                    link.reset()
                changed.append(link.id)
        self.accept_queue.clear()
        self.passive = False
        self.wifi_up = False
        self.unconfirmed_send = False
        if self.pending is not None and not self.pending.done:
            self.pending.outcome = "RESET"
            self.pending.stage = "done"
        return Notice(links=frozenset(changed), reset=True)

    def _link_event(self, event: p.LinkEvent) -> Notice:
        if event.link is None:
            return _NOTHING  # single-link mode is never used once started
        link = self.links[event.link]
        pending = self.pending
        if event.kind == "CONNECT":
            if link.state is LinkState.CONNECTING:
                return Notice(links=frozenset({link.id}))  # our CIPSTART; OK completes it
            if link.state is not LinkState.FREE and link.peer_closed:
                # The module printed this id's CLOSED and gave the id to a new client before the host closed its
                # side: the old socket keeps what it had buffered on a detached record, the id starts afresh.
                link.detached = True
                link.module_pending = 0
                fresh = Link(link.id)
                fresh.generation = link.generation + 1
                self.links[link.id] = fresh
                link = fresh
            if link.state is LinkState.FREE:
                link.reset()
                link.state = LinkState.OPEN
                link.accepted = True
                self._queue_accepted(link)
                return Notice(links=frozenset({link.id}), accepted=link.id)
            return _NOTHING
        # CLOSED or CONNECT FAIL
        if link.state is LinkState.CONNECTING:
            if pending is not None and pending.done:
                return _NOTHING  # the CLOSED after a failed CIPSTART's ERROR
            link.peer_closed = True
            return Notice(links=frozenset({link.id}))
        if link.state is LinkState.FREE:
            return _NOTHING
        link.peer_closed = True
        if not self.wifi_up:
            link.lost = True
        # An accepted connection that closed before accept() stays queued: its data is still to be read.
        return Notice(links=frozenset({link.id}))

    def _queue_accepted(self, link: Link) -> None:
        if len(self.accept_queue) >= ACCEPT_QUEUE_LIMIT:
            # Five ids: the excess are clients that hung up and whose id the module gave away (nothing to close on
            # the module); the oldest of them goes.
            gone = next((queued for queued in self.accept_queue if queued.detached), self.accept_queue[0])
            self.accept_queue.remove(gone)
            self.dropped_connections += 1
            _log.warning(
                "accept queue full: a connection that closed before accept() was dropped (%d in total)",
                self.dropped_connections,
            )
        self.accept_queue.append(link)

    def _ipd_data(self, event: p.IpdData) -> Notice:
        if event.link is None:
            return _NOTHING
        link = self.links[event.link]
        if link.state is LinkState.FREE:
            return _NOTHING
        if link.proto == "UDP":
            if len(link.datagrams) >= UDP_QUEUE_LIMIT:
                link.dropped_datagrams += 1
                _log.warning("link %d: UDP queue full, datagram of %d bytes dropped", link.id, len(event.data))
            else:
                link.datagrams.append((event.data, event.ip, event.port))
        else:
            room = TCP_BUFFER_LIMIT - len(link.rx)
            if room < len(event.data):
                link.dropped_bytes += len(event.data) - max(room, 0)
                _log.warning(
                    "link %d: receive buffer full (active mode), %d bytes dropped (%d in total)",
                    link.id,
                    len(event.data) - max(room, 0),
                    link.dropped_bytes,
                )
            link.rx += event.data[: max(room, 0)]
        return Notice(links=frozenset({link.id}))

    def _store_recvdata(self, link: Link, event: p.RecvData, wanted: int) -> None:
        if not link.notice_raced:
            link.module_pending = max(0, link.module_pending - len(event.data))
        link.notice_raced = False
        if link.peer_closed and len(event.data) >= wanted and link.module_pending == 0:
            # NonOS printed CLOSED already and keeps the rest readable; its next +IPD notice may still be on the
            # wire. A full read may have left more: read again (an empty module answers ERROR) before any EOF.
            link.module_pending = 1
        if link.proto == "UDP":
            link.datagrams.append((event.data, event.ip, event.port))
        else:
            link.rx += event.data

    # -- link table -----------------------------------------------------------------------------------------------
    def free_link(self, prefer_after: int) -> Link | None:
        """A free link id, taken round-robin so a just-closed id (whose late CLOSED may still be on the wire) is
        reused last."""
        for offset in range(1, LINK_COUNT + 1):
            link = self.links[(prefer_after + offset) % LINK_COUNT]
            if link.state is LinkState.FREE:
                return link
        return None
