"""The I/O layer of the ESP-AT driver: one reader thread on a pyserial port feeding the sans-IO engine.

Rules: commands are serialised (one in flight, so one ``AT+CIPSEND`` outstanding); every wait is on a condition
with a deadline; ``busy p...``/``busy s...`` is answered by waiting a growing backoff (returning early if the
module ran the command after all) and repeating the command, within the caller's deadline; once ``Recv N bytes``
was seen a send is never reported as failed by a timeout. A port that fails ends the reader thread quietly and
makes every later call fail with ``PORT`` at once. The AT trace goes to the ``netsocket.drivers.esp_at`` logger at
DEBUG, direction-marked (``->`` host to module), ``%r``-escaped, with secrets masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import parser as p
from .engine import Engine, Notice, Pending

_log = logging.getLogger("netsocket.drivers.esp_at")

ReplyOutcome = Literal["OK", "ERROR", "FAIL", "SEND OK", "SEND FAIL", "SEND CANCELED", "RESET", "TIMEOUT", "PORT"]
BUSY_BACKOFF_FIRST = 0.02
BUSY_BACKOFF_MAX = 0.5
READ_TIMEOUT = 0.05
"""How long one blocking read waits, so that ``stop()`` is noticed promptly."""


@dataclass
class Reply:
    outcome: ReplyOutcome
    lines: list[bytes] = field(default_factory=list)
    recv_count: int | None = None
    recvdata: p.RecvData | None = None
    busy_retries: int = 0
    silent: bool = False
    """The module sent nothing at all while we waited (a module that stopped answering)."""

    @property
    def device_error(self) -> bool:
        """The port failed, or the module said nothing at all: NSAPI_ERROR_DEVICE_ERROR."""
        return self.outcome == "PORT" or (self.outcome == "TIMEOUT" and self.silent)

    @property
    def ok(self) -> bool:
        return self.outcome in ("OK", "SEND OK")

    def line_with(self, prefix: bytes) -> bytes | None:
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :]
        return None


class Runner:
    """Owns the port, the reader thread and the engine; ``execute`` runs one command to its end."""

    def __init__(self, port: Any, engine: Engine, on_notice: Callable[[Notice], None]) -> None:
        self.port = port
        self.engine = engine
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._command_busy = False
        self._on_notice = on_notice
        self._reader: threading.Thread | None = None
        self._stopping = False
        self.failed: str | None = None
        self.rx_bytes = 0
        self._secrets: list[bytes] = []
        self._trace_held = b""

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._reader is not None:
            return
        with self.cond:
            if self.failed == "stopped":
                self.failed = None
        try:
            self.port.timeout = READ_TIMEOUT
        except Exception:  # an object without a settable timeout: its reads must return on their own
            _log.debug("port %r has no settable timeout", self.port)
        self._stopping = False
        self._reader = threading.Thread(target=self._read_loop, name="esp_at-reader", daemon=True)
        self._reader.start()

    def stop(self, close_port: bool) -> None:
        self._stopping = True
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=2.0)
        self._reader = None
        if close_port:
            try:
                self.port.close()
            except Exception as exc:  # closing a vanished port may fail; nothing left to do
                _log.debug("closing the port failed: %r", exc)
        with self.cond:
            if self.failed is None:
                self.failed = "stopped"  # wakes every waiting command; start() clears it
            self.cond.notify_all()

    @property
    def alive(self) -> bool:
        return self.failed is None

    @property
    def stopped(self) -> bool:
        """Stopped on purpose (``stop()``), not failed: ``start()`` brings it back."""
        return self.failed == "stopped"

    def add_secret(self, secret: bytes) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def _mask(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, b"********")
        return data

    def _trace_in(self, data: bytes) -> None:
        """Log received bytes with secrets masked (a module with echo on repeats the join's pass phrase). A tail
        that may be the start of a secret is held back until the next read, so a split secret is masked too."""
        data = self._trace_held + data
        hold = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(data)), hold, -1):
                if secret.startswith(data[-size:]):
                    hold = size
                    break
        self._trace_held = data[len(data) - hold :]
        shown = data[: len(data) - hold]
        if shown:
            _log.debug("<- %r", self._mask(shown))

    # -- reader ---------------------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stopping:
            try:
                waiting = getattr(self.port, "in_waiting", 0) or 0
                data = self.port.read(max(1, min(int(waiting), 65536)))
            except Exception as exc:  # the port vanished (USB unplugged, emulator gone): fail everything
                if not self._stopping:
                    _log.warning("ESP-AT port failed: %r", exc)
                    self._fail(f"port failed: {exc!r}")
                return
            if not data:
                continue
            if _log.isEnabledFor(logging.DEBUG):
                self._trace_in(data)
            with self.cond:
                self.rx_bytes += len(data)
                results = self.engine.feed(data)
                self.cond.notify_all()
            for _event, notice in results:
                if notice.links or notice.wifi or notice.reset or notice.accepted is not None:
                    self._on_notice(notice)

    def _fail(self, why: str) -> None:
        with self.cond:
            self.failed = why
            self.cond.notify_all()
        self._on_notice(Notice(reset=False, wifi=None, links=frozenset(range(5))))

    # -- commands -------------------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> bool:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("-> %r", self._mask(data))
        try:
            self.port.write(data)
            flush = getattr(self.port, "flush", None)
            if callable(flush) and len(data) > 256:
                flush()
        except Exception as exc:
            _log.warning("ESP-AT port write failed: %r", exc)
            self._fail(f"write failed: {exc!r}")
            return False
        return True

    def execute(
        self,
        line: bytes,
        timeout: float,
        *,
        kind: Literal["plain", "send", "recvdata"] = "plain",
        link: int | None = None,
        data: bytes | None = None,
        deadline: float | None = None,
        expect: bytes | None = None,
    ) -> Reply:
        """Run one command; ``timeout`` bounds the wait for its answer, ``deadline`` (monotonic) the whole call
        including waiting for the port and busy retries."""
        end = time.monotonic() + timeout if deadline is None else min(deadline, time.monotonic() + timeout)
        with self.cond:
            # One command at a time; waiting on the condition (not a lock) lets a failing port wake the queue.
            while self._command_busy and self.failed is None:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return Reply("TIMEOUT")
                self.cond.wait(remaining)
            if self.failed is not None:
                return Reply("PORT")
            self._command_busy = True
        try:
            return self._run(line, end, kind, link, data, expect)
        finally:
            with self.cond:
                self.engine.finish()
                self._command_busy = False
                self.cond.notify_all()

    def _run(
        self,
        line: bytes,
        end: float,
        kind: Literal["plain", "send", "recvdata"],
        link: int | None,
        data: bytes | None,
        expect: bytes | None,
    ) -> Reply:
        backoff = BUSY_BACKOFF_FIRST
        retries = 0
        with self.cond:
            pending = Pending(line=line, kind=kind, link=link, expect=expect)
            out = self.engine.begin(pending)
            rx_at_start = self.rx_bytes
        if not self._write(out):
            return Reply("PORT")
        while True:
            with self.cond:
                while not (
                    pending.done
                    or pending.busy
                    or (kind == "send" and pending.stage == "prompt")
                    or self.failed is not None
                ):
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        return self._timed_out(pending, retries, self.rx_bytes == rx_at_start)
                    self.cond.wait(remaining)
                if self.failed is not None and not pending.done:
                    return Reply("PORT")
                if pending.done:
                    return self._reply(pending, retries)
                if pending.busy:
                    # Wait the backoff; the module may run the command after all (reference §8.3).
                    wait_end = min(end, time.monotonic() + backoff)
                    while (
                        not pending.done
                        and pending.stage == "sent"
                        and not pending.other_finished
                        and self.failed is None
                    ):
                        remaining = wait_end - time.monotonic()
                        if remaining <= 0:
                            break
                        self.cond.wait(remaining)
                    if pending.done or pending.stage != "sent" or self.failed is not None:
                        pending.busy = False
                        continue
                    if time.monotonic() >= end:
                        return self._timed_out(pending, retries, False)
                    retries += 1
                    backoff = min(backoff * 2, BUSY_BACKOFF_MAX)
                    out = self.engine.retry()
                    again = True
                else:
                    again = False
            if again:
                if not self._write(out):
                    return Reply("PORT")
                continue
            # the prompt: write the payload (the stage moves first: its answer can arrive before write() returns)
            assert data is not None
            with self.cond:
                self.engine.data_written()
            if not self._write(data):
                return Reply("PORT")

    def _reply(self, pending: Pending, retries: int) -> Reply:
        outcome: ReplyOutcome = pending.outcome or "TIMEOUT"
        return Reply(outcome, list(pending.lines), pending.recv_count, pending.recvdata, retries)

    def _timed_out(self, pending: Pending, retries: int, silent: bool) -> Reply:
        if pending.kind == "send" and pending.stage == "received":
            # The module took every byte: never report that as a failure (the caller would send them twice).
            self.engine.unconfirmed_send = True
            _log.info("no SEND OK after 'Recv %s bytes'; counting the data as sent", pending.recv_count)
            return Reply("SEND OK", list(pending.lines), pending.recv_count, None, retries)
        return Reply("TIMEOUT", list(pending.lines), pending.recv_count, None, retries, silent=silent)

    # -- waiting for URCs -----------------------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], bool], deadline: float) -> bool:
        """Wait (under the engine lock) until ``predicate()`` holds or the deadline passes."""
        with self.cond:
            while not predicate():
                if self.failed is not None:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def set_baudrate(self, baudrate: int) -> None:
        self.port.baudrate = baudrate
        with self.cond:
            self.engine.parser.reset()

    def write_raw(self, data: bytes) -> bool:
        return self._write(data)
