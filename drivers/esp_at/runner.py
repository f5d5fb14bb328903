"""The threaded runner of the ESP-AT driver: one AT reader thread on a pyserial port, moving bytes and time between
the port and the sans-IO protocol core (``core.ATCore``). No protocol decisions are made here.

The reader feeds what the port delivers to the core, writes what the core has to send, and hands the core's
notices to ``on_notice`` (the stack raises ``attach``/``sigio`` callbacks from them, on this thread). A caller that
runs a command (``run``) waits on the runner's condition and, when the core's next deadline comes first, lets the
core handle its timer (busy backoff, command timeouts). A port that fails ends the reader quietly and makes every
later command end with ``PORT`` at once. The AT trace goes to the ``netsocket.drivers.esp_at`` logger at DEBUG,
direction-marked (``->`` host to module), ``%r``-escaped, with secrets masked in both directions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from netsocket.deadline import interruptible

from .commands import Command
from .core import ATCore, Exchange, Notice

_log = logging.getLogger("netsocket.drivers.esp_at")

READ_TIMEOUT = 0.05
"""How long one blocking read waits, so that ``stop()`` and due timers are noticed promptly."""
FLUSH_ABOVE = 256
"""Writes longer than this are flushed at once (a CIPSEND payload)."""

Reply = Exchange
"""What a finished command gives back (outcome, information lines, ``Recv N bytes``, busy retries)."""


class Runner:
    """Owns the port and the reader thread; ``run`` hands a command to the core and waits for its end."""

    on_event_loop = False
    """Whether the runner's reader is an asyncio event loop (``aio_runner.AsyncRunner``) rather than a thread."""

    def __init__(self, port: Any, core: ATCore, on_notice: Callable[[Notice], None]) -> None:
        self.port = port
        self.core = core
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._write_lock = threading.Lock()
        """Held while taking the core's output and writing it, so bytes reach the port in the core's order."""
        self._on_notice = on_notice
        self._reader: threading.Thread | None = None
        self._stopping = False
        self._secrets: list[bytes] = []
        self._trace_held = b""

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._reader is not None:
            return
        with self.cond:
            if self.core.failed == "stopped":
                self.core.revive()
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
            if self.core.failed is None:
                self.core.fail("stopped")  # ends every waiting command; start() revives the core
            self.cond.notify_all()

    def reopened(self) -> None:
        """A freshly opened port: commands may run again."""
        with self.cond:
            self.core.revive()

    @property
    def alive(self) -> bool:
        return self.core.failed is None

    @property
    def stopped(self) -> bool:
        """Stopped on purpose (``stop()``), not failed: ``start()`` brings it back."""
        return self.core.failed == "stopped"

    @property
    def failed(self) -> str | None:
        return self.core.failed

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
                data = self.port.read(max(1, min(int(getattr(self.port, "in_waiting", 0) or 0), 65536)))
                if data:
                    more = int(getattr(self.port, "in_waiting", 0) or 0)
                    if more:
                        data += self.port.read(min(more, 65536))
            except Exception as exc:  # the port vanished (USB unplugged, emulator gone): fail everything
                if not self._stopping:
                    _log.warning("ESP-AT port failed: %r", exc)
                    self._fail(f"port failed: {exc!r}")
                return
            if data and _log.isEnabledFor(logging.DEBUG):
                self._trace_in(data)
            now = time.monotonic()
            with self.cond:
                notices = self.core.receive_data(data, now) if data else self.core.handle_timer(now)
                self.cond.notify_all()
            self._flush()
            for notice in notices:
                if notice.for_callbacks:
                    self._on_notice(notice)

    def _fail(self, why: str) -> None:
        with self.cond:
            self.core.fail(why)
            self.cond.notify_all()
        self._on_notice(Notice(links=frozenset(range(5))))

    # -- writing --------------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        with self._write_lock:
            with self.cond:
                out = self.core.data_to_send()
            if out:
                self._write(out)

    def _write(self, data: bytes) -> bool:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("-> %r", self._mask(data))
        try:
            self.port.write(data)
            flush = getattr(self.port, "flush", None)
            if callable(flush) and len(data) > FLUSH_ABOVE:
                flush()
        except Exception as exc:
            _log.warning("ESP-AT port write failed: %r", exc)
            self._fail(f"write failed: {exc!r}")
            return False
        return True

    def write_raw(self, data: bytes) -> bool:
        """Bytes to the module outside any command (tests acting behind the driver's back)."""
        with self._write_lock:
            return self._write(data)

    # -- commands -------------------------------------------------------------------------------------------------
    def run(self, command: Command, deadline: float | None = None) -> Reply:
        """Run one command to its end (``deadline``, monotonic, bounds waiting for the port and busy retries too)."""
        return self.wait(self.submit(command, deadline))

    def submit(self, command: Command, deadline: float | None = None) -> Exchange:
        """Queue one command (it goes out as soon as the ones before it are done, from whichever thread sees them
        end); ``wait`` for its reply."""
        with self.cond:
            return self.core.submit(command, time.monotonic(), deadline)

    def wait(self, exchange: Exchange) -> Reply:
        while True:
            self._flush()
            with self.cond:
                while not exchange.done:
                    now = time.monotonic()
                    due = self.core.next_deadline()
                    if due is not None and now >= due:
                        self.core.handle_timer(now)
                        self.cond.notify_all()
                        break
                    self.cond.wait(interruptible(None if due is None else due - now))
                else:
                    return exchange

    def set_baudrate(self, baudrate: int) -> None:
        self.port.baudrate = baudrate
        with self.cond:
            self.core.baud_changed()
