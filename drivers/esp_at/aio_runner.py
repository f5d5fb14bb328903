"""The asyncio runner of the ESP-AT driver: the same sans-IO core (``core.ATCore``) as the threaded runner, fed by a
pyserial-asyncio protocol (``data_received``, the counterpart of ``serial.threaded.Protocol``), its timers from
``next_deadline()`` put on the loop with ``call_at``. No thread: the worker's jobs (socket AT work, joins, DNS,
re-initialisation after a reset) run in one greenlet on the loop (``loop_bridge``), and every wait for a reply
awaits the loop instead of blocking it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import serial_asyncio

from .commands import Command
from .core import ATCore, Exchange, Notice
from .loop_bridge import LoopCondition, call_on_loop, off_loop, run_blocking
from .runner import Runner
from .worker import Job, Worker

_log = logging.getLogger("netsocket.drivers.esp_at")


class _SerialProtocol(asyncio.Protocol):
    def __init__(self, runner: AsyncRunner) -> None:
        self._runner = runner

    def data_received(self, data: bytes) -> None:
        self._runner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._runner.connection_lost(exc)


class AsyncRunner(Runner):
    """A ``Runner`` whose reader is the event loop: started (``start``) from a coroutine or a bridged call."""

    on_event_loop = True

    def __init__(
        self,
        port: Any,
        core: ATCore,
        on_notice: Callable[[Notice], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(port, core, on_notice)
        self._loop = loop
        """The loop the runner lives on: given, or the running one at ``start``. Calls from other threads (a
        synchronous caller) are carried out on it."""
        self.cond = LoopCondition(self.lock, lambda: self._loop)  # type: ignore[assignment]
        self._transport: serial_asyncio.SerialTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop is not None and off_loop(self._loop):
            return call_on_loop(self._loop, self.start)
        if self._transport is not None:
            return
        with self.cond:
            if self.core.failed == "stopped":
                self.core.revive()
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._timer = self._timer_due = None
        # pyserial-asyncio's transport watches the port's fileno (a pty, a device or the emulator's socket pair)
        self._transport = serial_asyncio.SerialTransport(self._loop, _SerialProtocol(self), self.port)

    def stop(self, close_port: bool) -> None:
        if self._loop is not None and off_loop(self._loop) and not self._loop.is_closed():
            return call_on_loop(self._loop, self.stop, close_port)
        self._stopping = True
        transport, self._transport = self._transport, None
        if transport is not None:
            if close_port:
                transport.close()  # closes the port once its queued bytes are written
            else:
                transport.pause_reading()  # the caller's port: stop watching it, leave it open
        self._cancel_timer()
        with self.cond:
            if self.core.failed is None:
                self.core.fail("stopped")
            self.cond.notify_all()

    # -- the loop's callbacks -------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if _log.isEnabledFor(logging.DEBUG):
            self._trace_in(data)
        with self.cond:
            notices = self.core.receive_data(data, time.monotonic())
            self.cond.notify_all()
        self._after(notices)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._stopping:
            _log.warning("ESP-AT port failed: %r", exc)
            self._transport = None
            self._fail(f"port failed: {exc!r}")

    def _on_timer(self) -> None:
        self._timer = self._timer_due = None
        with self.cond:
            notices = self.core.handle_timer(time.monotonic())
            self.cond.notify_all()
        self._after(notices)

    def _after(self, notices: list[Notice]) -> None:
        self._flush()
        for notice in notices:
            if notice.for_callbacks:
                self._on_notice(notice)
        self._arm_timer()

    def _arm_timer(self) -> None:
        """One loop timer at the core's next deadline (busy backoff, command timeouts)."""
        loop = self._loop
        with self.cond:
            due = self.core.next_deadline()
        if due == self._timer_due or loop is None or loop.is_closed():
            return
        self._cancel_timer()
        if due is not None:
            self._timer_due = due
            self._timer = loop.call_at(loop.time() + max(0.0, due - time.monotonic()), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_due = None

    # -- writing and commands -------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> bool:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("-> %r", self._mask(data))
        transport = self._transport
        if transport is None or transport.is_closing():
            self._fail("write failed: the port is closed")
            return False
        transport.write(data)
        return True

    def submit(self, command: Command, deadline: float | None = None) -> Exchange:
        exchange = super().submit(command, deadline)
        if self._loop is not None and off_loop(self._loop):
            self._loop.call_soon_threadsafe(self._arm_timer)
        else:
            self._arm_timer()
        return exchange

    def wait(self, exchange: Exchange) -> Exchange:
        if self._loop is not None and off_loop(self._loop):
            return call_on_loop(self._loop, self.wait, exchange)
        return super().wait(exchange)

    def _flush(self) -> None:
        if self._loop is not None and off_loop(self._loop):
            self._loop.call_soon_threadsafe(self._flush)
        else:
            super()._flush()

    def set_baudrate(self, baudrate: int) -> None:
        if self._loop is not None and off_loop(self._loop):
            return call_on_loop(self._loop, self.set_baudrate, baudrate)
        super().set_baudrate(baudrate)
        self._arm_timer()


class AsyncWorker(Worker):
    """The worker's loop as one greenlet on the event loop (a task), instead of a thread."""

    _cond: LoopCondition  # type: ignore[assignment]

    def __init__(self, cond: Any, next_job: Callable[[], Job | None], alive: Callable[[], bool]):
        super().__init__(cond, next_job, alive)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = self._cond.loop
        if loop is not None and off_loop(loop):
            return call_on_loop(loop, self.start)
        if self._task is None or self._task.done():
            self._stopping = False
            self._exited = False
            self._task = asyncio.get_running_loop().create_task(run_blocking(self._loop), name="esp_at-worker")

    def _let_go(self) -> None:
        """The job under way ends at its next wait (the runner fails its commands): nothing to wait for here."""
        self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._exited
