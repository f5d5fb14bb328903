"""The sans-IO ESP-AT protocol core: the only owner of protocol state (h11/aioquic style).

Bytes in (``receive_data(data, now)``), bytes out (``data_to_send()``), events out, the clock passed in
(``next_deadline()`` / ``handle_timer(now)``). No threads, locks, clocks, ports or sockets: a runner (a reader
thread on pyserial, or an asyncio protocol) moves the bytes and the time and turns the events into callbacks.

It owns: the parser; the queue of commands and the one in flight (one at a time, so one ``AT+CIPSEND``
outstanding); busy backoff (``busy p...`` / ``busy s...``: wait a growing backoff, or less if the command that kept
the module busy ends, then repeat the command, within its deadline); the CIPSEND prompt, payload, ``Recv N bytes``
and ``SEND OK`` rules (never a failure after ``Recv N bytes``: that would duplicate data); passive-mode fetches;
the link table and receive buffers (``links.LinkTable``); the Wi-Fi state; reset handling; the dialect.

Routing: URCs (link, Wi-Fi, SoftAP stations, ``ready``, ``+IPD``) are applied wherever they arrive; everything
else (information lines, results, prompts, ``busy``) belongs to the command in flight, if any, and is otherwise
logged and dropped. A ``SEND OK`` is only taken after this send's ``Recv N bytes``, so a late ``SEND OK`` of an
earlier send cannot complete a later one.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from . import parser as p
from .commands import Command, line_with
from .dialects import AT2_ESP8266, Dialect
from .links import Link, LinkTable

_log = logging.getLogger("netsocket.drivers.esp_at")

BUSY_BACKOFF_FIRST: Final = 0.02
BUSY_BACKOFF_MAX: Final = 0.5

Stage = Literal["queued", "sent", "data", "received", "done"]
Outcome = Literal["OK", "ERROR", "FAIL", "SEND OK", "SEND FAIL", "SEND CANCELED", "RESET", "TIMEOUT", "PORT"]


@dataclass(eq=False)
class Exchange:
    """A command handed to the core and, once ``done``, its reply."""

    command: Command
    deadline: float
    stage: Stage = "queued"
    outcome: Outcome | None = None
    lines: list[bytes] = field(default_factory=list)
    recv_count: int | None = None
    recvdata: p.RecvData | None = None
    busy_retries: int = 0
    silent: bool = False
    """The module sent nothing at all while we waited (a module that stopped answering)."""
    busy: bool = False
    """A ``busy`` answered this attempt; the command is repeated at ``retry_at``."""
    retry_at: float = 0.0
    backoff: float = BUSY_BACKOFF_FIRST
    ok_seen: bool = False
    """A send's OK arrived (its '>' follows)."""
    rx_at_start: int = 0

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def ok(self) -> bool:
        return self.outcome in ("OK", "SEND OK")

    @property
    def device_error(self) -> bool:
        """The port failed, or the module said nothing at all: NSAPI_ERROR_DEVICE_ERROR."""
        return self.outcome == "PORT" or (self.outcome == "TIMEOUT" and self.silent)

    def line_with(self, prefix: bytes) -> bytes | None:
        return line_with(self.lines, prefix)


@dataclass(frozen=True)
class Notice:
    """An event out of the core: which links changed, Wi-Fi news, SoftAP station news, a reset, an accepted
    connection, or a finished command (the runner wakes whoever waits for it)."""

    links: frozenset[int] = frozenset()
    wifi: p.WifiKind | None = None
    reset: bool = False
    accepted: int | None = None
    completed: Exchange | None = None
    station: p.StationEvent | None = None

    @property
    def for_callbacks(self) -> bool:
        return (
            bool(self.links)
            or self.wifi is not None
            or self.reset
            or self.accepted is not None
            or self.station is not None
        )


_NOTHING: Final = Notice()


class ATCore:
    """The module as the host knows it, and the conversation with it."""

    def __init__(self, dialect: Dialect = AT2_ESP8266) -> None:
        self.dialect = dialect
        self.parser = p.ATParser(max_data=max(dialect.send_limit, 8192), recvdata_addr=dialect.recvdata_has_addr)
        self.table = LinkTable()
        self.links = self.table.links
        self.passive = False
        self.ipv6 = False
        """IPv6 is on in this session (the dialect has it and the module took ``AT+CIPV6=1``)."""
        self.wifi_up = False
        self.unconfirmed_send = False
        """A send timed out after its ``Recv N bytes``: its ``SEND OK`` may still come."""
        self.garbage_bytes = 0
        self.resets = 0
        """How many times the module printed ``ready`` (a reboot)."""
        self.rx_bytes = 0
        self.failed: str | None = None
        """Why the port is unusable ("stopped" after a runner stop): every command ends with PORT at once."""
        self.pending: Exchange | None = None
        self._queue: deque[Exchange] = deque()
        self._out = bytearray()
        self._start_failed: int | None = None

    @property
    def accept_queue(self) -> deque[Link]:
        return self.table.accept_queue

    @property
    def dropped_connections(self) -> int:
        return self.table.dropped_connections

    # -- session state --------------------------------------------------------------------------------------------
    def set_dialect(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.parser.recvdata_addr = dialect.recvdata_has_addr
        self.parser.max_data = max(dialect.send_limit, 8192)

    def set_passive(self, passive: bool) -> None:
        self.passive = passive

    def set_ipv6(self, on: bool) -> None:
        self.ipv6 = on

    def wifi_joined(self) -> None:
        self.wifi_up = True

    def wifi_left(self) -> None:
        self.wifi_up = False

    def new_session(self) -> None:
        """Forget the module (after the runner stopped; the next start assumes nothing)."""
        self.table.clear()
        self.passive = False
        self.ipv6 = False
        self.wifi_up = False
        self.unconfirmed_send = False
        self._start_failed = None
        self.parser.reset()

    def baud_changed(self) -> None:
        """Bytes at the old rate may be half-parsed: start the parser afresh."""
        self.parser.reset()

    def fail(self, why: str) -> list[Notice]:
        """The port is unusable: every command ends with PORT, now and until ``revive``."""
        self.failed = why
        done = []
        for exchange in ([self.pending] if self.pending is not None else []) + list(self._queue):
            done.append(self._complete(exchange, "PORT"))
        self.pending = None
        self._queue.clear()
        self._out.clear()
        self.parser.expect_prompt = False
        return done

    def revive(self) -> None:
        self.failed = None

    # -- commands -------------------------------------------------------------------------------------------------
    def submit(self, command: Command, now: float, deadline: float | None = None) -> Exchange:
        """Queue ``command``; it goes out when the ones before it are done. ``deadline`` bounds the whole
        exchange (waiting its turn and busy retries included), ``command.timeout`` the wait for its answer."""
        end = now + command.timeout if deadline is None else min(deadline, now + command.timeout)
        exchange = Exchange(command, end)
        if self.failed is not None:
            self._complete(exchange, "PORT")
            return exchange
        self._queue.append(exchange)
        self._start_next()
        return exchange

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        times = [e.deadline for e in self._queue]
        if self.pending is not None:
            times.append(self.pending.retry_at if self.pending.busy else self.pending.deadline)
        return min(times) if times else None

    def handle_timer(self, now: float) -> list[Notice]:
        done: list[Notice] = []
        for exchange in [e for e in self._queue if now >= e.deadline]:
            self._queue.remove(exchange)
            done.append(self._complete(exchange, "TIMEOUT"))
        pending = self.pending
        if pending is not None:
            if now >= pending.deadline:
                done.append(self._timed_out(pending))
            elif pending.busy and now >= pending.retry_at:
                self._retry(pending)
        self._start_next()
        return done

    def _start_next(self) -> None:
        if self.pending is not None or not self._queue:
            return
        exchange = self._queue.popleft()
        self.pending = exchange
        exchange.stage = "sent"
        exchange.rx_at_start = self.rx_bytes
        self.parser.expect_prompt = exchange.command.kind == "send"
        self._out += exchange.command.line + b"\r\n"

    def _retry(self, exchange: Exchange) -> None:
        exchange.busy = False
        exchange.ok_seen = False
        exchange.lines.clear()
        exchange.busy_retries += 1
        exchange.backoff = min(exchange.backoff * 2, BUSY_BACKOFF_MAX)
        self._out += exchange.command.line + b"\r\n"

    def _complete(self, exchange: Exchange, outcome: Outcome) -> Notice:
        exchange.outcome = outcome
        exchange.stage = "done"
        exchange.busy = False
        if exchange.command.kind == "send" and outcome != "SEND OK":
            # A send queued behind this one on the same link would leave a hole in the stream: it does not go.
            for queued in [
                e for e in self._queue if e.command.kind == "send" and e.command.link == exchange.command.link
            ]:
                self._queue.remove(queued)
                queued.outcome = "SEND CANCELED"
                queued.stage = "done"
        if exchange.command.kind == "recvdata" and outcome == "ERROR" and exchange.command.link is not None:
            # nothing buffered after all (ESP-AT answers ERROR then); taken here, in the order of the wire, so a
            # notice that follows is not undone
            self.table.read_came_back_empty(self.links[exchange.command.link])
        if exchange is self.pending:
            self.pending = None
            self.parser.expect_prompt = False
            command = exchange.command
            if command.line.startswith(b"AT+CIPSTART=") and not exchange.ok and command.link is not None:
                self._start_failed = command.link
        return Notice(completed=exchange)

    def _timed_out(self, exchange: Exchange) -> Notice:
        if exchange.command.kind == "send" and exchange.stage == "received":
            # The module took every byte: never report that as a failure (the caller would send them twice).
            self.unconfirmed_send = True
            _log.info("no SEND OK after 'Recv %s bytes'; counting the data as sent", exchange.recv_count)
            return self._complete(exchange, "SEND OK")
        exchange.silent = self.rx_bytes == exchange.rx_at_start and not exchange.busy_retries
        return self._complete(exchange, "TIMEOUT")

    # -- input ----------------------------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Notice]:
        """Parse bytes and apply every complete event; returns what changed (callbacks to raise, commands done)."""
        self.rx_bytes += len(data)
        self.parser.receive_data(data)
        out: list[Notice] = []
        while True:
            event = self.parser.next_event()
            if isinstance(event, p._NeedData):
                break
            notice = self._handle(event, now)
            if notice is not _NOTHING:
                out.append(notice)
        out += self.handle_timer(now)  # a busy command whose blocker ended goes again at once
        return out

    def _handle(self, event: p.Event, now: float) -> Notice:
        pending = self.pending
        if isinstance(event, p.IpdData):
            if event.link is None or not self.table.active_data(event):
                return _NOTHING
            return Notice(links=frozenset({event.link}))
        if isinstance(event, p.IpdNotice):
            if event.link is None:
                return _NOTHING
            reading = pending is not None and pending.command.kind == "recvdata" and pending.command.link == event.link
            self.table.notice(event.link, event.total, reading, pending is not None and pending.recvdata is not None)
            return Notice(links=frozenset({event.link}))
        if isinstance(event, p.LinkEvent):
            return self._link_event(event)
        if isinstance(event, p.WifiEvent):
            if event.kind == "GOT IP":
                self.wifi_up = True
            elif event.kind == "DISCONNECT":
                self.wifi_up = False
            return Notice(wifi=event.kind)
        if isinstance(event, p.StationEvent):
            return Notice(station=event)
        if isinstance(event, p.Ready):
            return self._module_reset()
        if isinstance(event, p.Garbage):
            self.garbage_bytes += event.size
            _log.debug("AT skipped %d bytes: %s", event.size, event.reason)
            return _NOTHING
        if pending is None:
            if isinstance(event, p.Result) and event.kind == "SEND OK":
                self.unconfirmed_send = False
            _log.debug("AT unsolicited %r", event)
            return _NOTHING
        return self._answer(pending, event, now)

    def _answer(self, pending: Exchange, event: p.Event, now: float) -> Notice:
        command = pending.command
        if isinstance(event, p.RecvData):
            if command.kind != "recvdata":
                return _NOTHING
            if pending.recvdata is not None:
                # One read, one payload: more is a confused module, and keeping it would outgrow the buffer limit.
                _log.warning("AT extra +CIPRECVDATA payload of %d bytes for one read dropped", len(event.data))
                return _NOTHING
            pending.recvdata = event
            if command.link is None:
                return _NOTHING
            self.table.fetched(self.links[command.link], event, command.wanted)
            return Notice(links=frozenset({command.link}))
        if isinstance(event, p.Busy):
            if pending.stage == "sent" and not pending.busy:
                pending.busy = True
                pending.retry_at = min(pending.deadline, now + pending.backoff)
            return _NOTHING
        if isinstance(event, p.Prompt):
            # The prompt follows the command's own OK ("\r\nOK\r\n\r\n>"): a '>' before it is line noise, and
            # writing the payload then would feed it to the command parser.
            if command.kind == "send" and pending.stage == "sent" and pending.ok_seen:
                pending.stage = "data"
                pending.busy = False
                self.parser.expect_prompt = False
                self._out += command.payload or b""
            return _NOTHING
        if isinstance(event, p.RecvBytes):
            if command.kind == "send" and pending.stage == "data":
                pending.recv_count = event.count
                pending.stage = "received"
            return _NOTHING
        if isinstance(event, p.Result):
            if pending.busy:
                # After "busy p..." a result belongs to the command that kept the module busy, not to ours: the
                # module is free again, so ours goes again at once.
                _log.debug("AT result %r while busy: not ours", event)
                pending.retry_at = now
                return _NOTHING
            return self._result(pending, event)
        if isinstance(event, p.Line):
            if event.text == command.line or not event.text:
                return _NOTHING  # echo (echo on after a reset until ATE0)
            pending.lines.append(event.text)
        return _NOTHING

    def _result(self, pending: Exchange, event: p.Result) -> Notice:
        kind = event.kind
        command = pending.command
        if command.kind == "send":
            if kind == "OK":
                pending.ok_seen = pending.stage == "sent"
                return _NOTHING  # the OK before '>'
            if kind in ("SEND OK", "SEND FAIL"):
                if pending.stage == "received" or (pending.stage == "data" and not self.unconfirmed_send):
                    return self._complete(pending, kind)
                if kind == "SEND OK":
                    self.unconfirmed_send = False  # the late answer to an earlier send
                return _NOTHING
            if kind in ("ERROR", "FAIL", "SEND CANCELED"):
                return self._complete(pending, "SEND CANCELED" if kind == "SEND CANCELED" else "ERROR")
            return _NOTHING
        if kind == "OK" and command.expect is not None and line_with(pending.lines, command.expect) is None:
            _log.debug("AT OK without %r: not the answer to %r", command.expect, command.line)
            pending.lines.clear()
            return _NOTHING
        if kind in ("OK", "ERROR", "FAIL"):
            return self._complete(pending, kind)
        return _NOTHING

    def _module_reset(self) -> Notice:
        self.resets += 1
        changed = self.table.module_reset()
        self.passive = False
        self.ipv6 = False  # a RAM-only setting: back on after the re-initialisation
        self.wifi_up = False
        self.unconfirmed_send = False
        completed = None
        if self.pending is not None:
            completed = self._complete(self.pending, "RESET").completed
        return Notice(links=frozenset(changed), reset=True, completed=completed)

    def _link_event(self, event: p.LinkEvent) -> Notice:
        if event.link is None:
            return _NOTHING  # single-link mode is never used once started
        if event.kind == "CONNECT":
            changed, accepted = self.table.connected(event.link)
            if not changed:
                return _NOTHING
            return Notice(links=frozenset({event.link}), accepted=event.link if accepted else None)
        start_failed = self._start_failed == event.link
        self._start_failed = None
        if not self.table.closed(event.link, self.wifi_up, start_failed):
            return _NOTHING
        return Notice(links=frozenset({event.link}))
