"""The module's five links as the host knows them: state, receive buffers, the accept queue (sans-IO, no locks).

Owned by the protocol core (``core.ATCore``): it applies the module's URCs here (``+IPD``, ``<id>,CONNECT``,
``<id>,CLOSED``, ``+CIPRECVDATA`` payloads, ``ready``), and the socket layer asks for every other change through a
method (claim, open, release, take bytes), never by writing a field.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from . import parser as p

_log = logging.getLogger("netsocket.drivers.esp_at")

LINK_COUNT: Final = 5
TCP_BUFFER_LIMIT: Final = 16384
"""Host-side bytes held per TCP link (passive mode stops fetching above it; active mode drops and counts)."""
UDP_QUEUE_LIMIT: Final = 32
"""Datagrams held per UDP link before new ones are dropped (and counted)."""
ACCEPT_QUEUE_LIMIT: Final = 2 * LINK_COUNT
"""Connections waiting for accept(): the five live ids plus clients that already hung up."""


class LinkState(enum.Enum):
    FREE = "free"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"


Datagram = tuple[bytes, str | None, int | None]


@dataclass
class Link:
    """One of the module's five link ids, as the host sees it. Read freely; changed only by ``LinkTable``."""

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
    """No longer in the link table: the module reused the id (see ``connected``); never send commands for it."""
    rx: bytearray = field(default_factory=bytearray)
    datagrams: deque[Datagram] = field(default_factory=deque)
    remote: tuple[str, int] | None = None
    dropped_bytes: int = 0
    dropped_datagrams: int = 0
    generation: int = 0
    """Bumped each time the link id is reused, so a late event cannot touch a newer user of the id."""

    def _clear(self) -> None:
        gen = self.generation + 1
        self.__init__(self.id)  # type: ignore[misc]
        self.generation = gen

    @property
    def buffered(self) -> int:
        return len(self.rx) + sum(len(d[0]) for d in self.datagrams)


class LinkTable:
    """The five links, the receive buffers and the server's accept queue."""

    def __init__(self) -> None:
        self.links = [Link(i) for i in range(LINK_COUNT)]
        self.active_ids: set[int] = set()
        """Link ids the driver switched to active receive on the module (``AT+CIPRECVTYPE=<id>,0`` for a UDP
        link): the module keeps that per id, so a later TCP link on the id needs passive again."""
        self.accept_queue: deque[Link] = deque()
        """Connections the module accepted, oldest first; a record stays its own when the module reuses the id."""
        self.dropped_connections = 0
        self._last_claimed = LINK_COUNT - 1

    def __getitem__(self, link_id: int) -> Link:
        return self.links[link_id]

    def clear(self) -> None:
        """Forget everything (a new session on the module)."""
        for link in self.links:
            link._clear()
        self.accept_queue.clear()
        self.active_ids.clear()

    # -- changes asked for by the socket layer --------------------------------------------------------------------
    def claim(self, owner: object, proto: Literal["TCP", "UDP"]) -> Link | None:
        """A free id for a new link, taken round-robin so a just-closed id (whose late CLOSED may still be on the
        wire) is reused last; None when all five are in use."""
        for offset in range(1, LINK_COUNT + 1):
            link = self.links[(self._last_claimed + offset) % LINK_COUNT]
            if link.state is LinkState.FREE:
                self._last_claimed = link.id
                link._clear()
                link.state = LinkState.CONNECTING
                link.proto = proto
                link.owner = owner
                return link
        return None

    def opened(self, link: Link, remote: tuple[str, int] | None = None) -> None:
        link.state = LinkState.OPEN
        if remote is not None:
            link.remote = remote

    def taken_by_module(self, link: Link) -> None:
        """Our CIPSTART found the id in use (a server client raced us): the id is open, but not ours."""
        link.owner = None
        link.state = LinkState.OPEN

    def release(self, link: Link) -> None:
        """The id is free again (closed on the module, or never opened)."""
        if link.detached:
            link.state = LinkState.FREE
        else:
            link._clear()

    def closing(self, link: Link) -> None:
        link.state = LinkState.CLOSING

    def set_owner(self, link: Link, owner: object | None) -> None:
        link.owner = owner

    def set_remote(self, link: Link, remote: tuple[str, int]) -> None:
        link.remote = remote

    def take_accepted(self, link: Link, owner: object) -> None:
        self.accept_queue.remove(link)
        link.owner = owner

    def drop_accept_queue(self) -> list[Link]:
        queued = list(self.accept_queue)
        self.accept_queue.clear()
        return queued

    def held_by_module(self, link: Link, total: int) -> None:
        """What ``AT+CIPRECVLEN?`` says the module holds (a backstop for a lost passive notice)."""
        link.module_pending = max(link.module_pending, total)

    def read_came_back_empty(self, link: Link) -> None:
        """ERROR to ``AT+CIPRECVDATA``: nothing was held when the module took the read. A notice that came while
        the read was under way counts bytes that arrived after that, so they are still to be read."""
        if link.notice_raced:
            link.notice_raced = False
            return
        link.module_pending = 0

    def take_bytes(self, link: Link, size: int) -> bytes:
        data = bytes(link.rx[:size])
        del link.rx[:size]
        return data

    def take_datagram(self, link: Link) -> Datagram | None:
        return link.datagrams.popleft() if link.datagrams else None

    def forget_unowned(self, *, also_owned_by: type | None = None) -> None:
        """After a reset or a Wi-Fi loss: links no socket holds (or held by an ``also_owned_by``) are free again."""
        for link in self.links:
            if link.owner is None or (also_owned_by is not None and isinstance(link.owner, also_owned_by)):
                link._clear()
        self.accept_queue.clear()

    # -- URCs, applied by the core --------------------------------------------------------------------------------
    def module_reset(self) -> list[int]:
        changed = []
        for link in self.links:
            if link.state is not LinkState.FREE:
                link.lost = True
                link.peer_closed = True
                link.module_pending = 0
                if link.owner is None:
                    link._clear()
                changed.append(link.id)
        self.accept_queue.clear()
        return changed

    def connected(self, link_id: int) -> tuple[bool, bool]:
        """``<id>,CONNECT``: (changed, accepted)."""
        link = self.links[link_id]
        if link.state is LinkState.CONNECTING:
            return True, False  # our CIPSTART; its OK completes it
        if link.state is not LinkState.FREE and link.peer_closed:
            # The module printed this id's CLOSED and gave the id to a new client before the host closed its
            # side: the old socket keeps what it had buffered on a detached record, the id starts afresh.
            link.detached = True
            link.module_pending = 0
            fresh = Link(link.id)
            fresh.generation = link.generation + 1
            self.links[link.id] = fresh
            link = fresh
        if link.state is not LinkState.FREE:
            return False, False
        link._clear()
        link.state = LinkState.OPEN
        link.accepted = True
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
        return True, True

    def closed(self, link_id: int, wifi_up: bool, start_failed: bool) -> bool:
        """``<id>,CLOSED`` or ``<id>,CONNECT FAIL``; ``start_failed``: the id's CIPSTART just failed (its ERROR is
        followed by a CLOSED that says nothing new)."""
        link = self.links[link_id]
        if link.state is LinkState.FREE:
            return False
        if link.state is LinkState.CONNECTING:
            if start_failed:
                return False
            link.peer_closed = True
            return True
        link.peer_closed = True
        if not wifi_up:
            link.lost = True
        # An accepted connection that closed before accept() stays queued: its data is still to be read.
        return True

    def notice(self, link_id: int, total: int, read_in_flight: bool, read_answered: bool) -> None:
        """Passive ``+IPD,<id>,<total>``."""
        link = self.links[link_id]
        link.module_pending = total
        if read_in_flight:
            # Announced while our read was under way: the total may already exclude what the read returns.
            # Counting it again is harmless (a read too many gets ERROR); subtracting it could stall the link.
            link.notice_raced = not read_answered

    def active_data(self, event: p.IpdData) -> bool:
        """Active ``+IPD`` with its payload; bounded, losses counted and logged."""
        assert event.link is not None
        link = self.links[event.link]
        if link.state is LinkState.FREE:
            return False
        if link.proto == "UDP":
            if len(link.datagrams) >= UDP_QUEUE_LIMIT:
                link.dropped_datagrams += 1
                _log.warning("link %d: UDP queue full, datagram of %d bytes dropped", link.id, len(event.data))
            else:
                link.datagrams.append((event.data, event.ip, event.port))
        else:
            # A stream with a hole is no stream: once bytes are dropped, nothing after them is kept; the socket
            # reads what came before the hole, then NO_MEMORY (stack.socket_recv).
            room = 0 if link.dropped_bytes else TCP_BUFFER_LIMIT - len(link.rx)
            if room < len(event.data):
                if not link.dropped_bytes:
                    _log.error(
                        "link %d: receive buffer full (active mode, the application does not read): the stream is "
                        "cut, recv gives the %d bytes before the cut and then NO_MEMORY",
                        link.id,
                        len(link.rx) + max(room, 0),
                    )
                link.dropped_bytes += len(event.data) - max(room, 0)
            link.rx += event.data[: max(room, 0)]
        return True

    def fetched(self, link: Link, event: p.RecvData, wanted: int) -> None:
        """The payload of our ``AT+CIPRECVDATA`` for ``link``."""
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
