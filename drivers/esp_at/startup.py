"""Bringing an ESP-AT module up, apart from the Wi-Fi API: opening the port, initialisation (which assumes nothing
about the state the module was left in), a hard reset through the user's callable, the baud-rate switch, the
re-initialisation after the module reset on its own, and powering down (threads stopped, port released).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from netsocket.errors import NsapiError

from . import commands as cmd
from .dialects import detect_dialect
from .recorder import RecordingPort
from .serial_port import open_port
from .stack import ESPATStack

_log = logging.getLogger("netsocket.drivers.esp_at")

RESET_TIMEOUT = 10.0
SYNC_ATTEMPTS = 6


def initialise(stack: ESPATStack, sync_attempts: int = SYNC_ATTEMPTS) -> NsapiError:
    """Bring the module to a known state: answering, echo off, dialect known, multi-link, passive receive, IPv6 on
    where the firmware has it.

    A module that reboots meanwhile (its boot ``ready``, a crash) loses those settings: start again."""
    for _ in range(3):
        resets = stack.core.resets
        err = _initialise_once(stack, sync_attempts)
        if err != NsapiError.OK or stack.core.resets == resets:
            return err
        _log.info("the module rebooted during start-up; starting again")
    return NsapiError.DEVICE_ERROR


def _sync(stack: ESPATStack, attempts: int) -> bool:
    for _ in range(attempts):
        reply = stack.run(cmd.SYNC)
        if reply.outcome == "PORT":
            return False  # a booting or confused module may stay silent for a while: only a dead port ends this
        if reply.ok:
            return True
    return False


def _initialise_once(stack: ESPATStack, sync_attempts: int) -> NsapiError:
    if not _sync(stack, sync_attempts):
        return NsapiError.DEVICE_ERROR
    if not stack.run(cmd.ECHO_OFF).ok:
        return NsapiError.DEVICE_ERROR
    info = None
    for _ in range(3):  # a late answer to a sync probe can shift one reply; the next GMR is in step
        gmr = stack.run(cmd.VERSION)
        info = detect_dialect(gmr.lines) if gmr.ok else None
        if info is not None or gmr.outcome == "PORT":
            break
    if info is None:
        _log.error("AT+GMR gave no 'AT version:' line: %r", gmr.lines)
        return NsapiError.DEVICE_ERROR
    stack.firmware = info
    with stack.lock:
        stack.core.set_dialect(info.dialect)
    _log.info("ESP-AT firmware %s, dialect %s", ".".join(map(str, info.version)), info.dialect.name)
    d = info.dialect
    if d.sysstore_off is not None:
        stack.run(cmd.plain(d.sysstore_off))
    # A module left by another program: passthrough off, server down, links closed, then multi-link.
    stack.run(cmd.PASSTHROUGH_OFF)
    stack.run(cmd.plain(d.server_stop))
    stack.run(cmd.CLOSE_ALL)
    if not stack.run(cmd.MULTI_LINK).ok:
        return NsapiError.DEVICE_ERROR
    if not stack.run(cmd.plain(d.cwmode)).ok:
        return NsapiError.DEVICE_ERROR
    stack.run(cmd.AUTOCONNECT_OFF)
    stack.run(cmd.LEAVE)
    if not stack.run(cmd.PEER_INFO_ON).ok:
        return NsapiError.DEVICE_ERROR
    passive = d.passive_command is not None and stack.run(cmd.plain(d.passive_command)).ok
    # before any join: the module takes its IPv6 addresses while it associates
    ipv6 = d.ipv6_command is not None and stack.run(cmd.plain(d.ipv6_command)).ok
    with stack.lock:
        stack.core.set_passive(passive)
        stack.core.set_ipv6(ipv6)
        stack.core.wifi_left()
        stack.server_stopped()
    if not passive:
        _log.warning("firmware has no passive receive: bounded active-mode buffers, losses are logged")
    return NsapiError.OK


class ModuleStartup:
    """Start-up and power-down of one module, serialised by one lock; ``ready`` says it answered and is set up.

    ``configure`` runs after every successful initialisation (the Wi-Fi side's host name and country)."""

    def __init__(
        self,
        stack: Callable[[], ESPATStack],
        port: Any,
        baudrate: int,
        *,
        target_baudrate: int | None,
        rtscts: bool,
        reset: Callable[[], object] | None,
        configure: Callable[[], None],
        record: str | os.PathLike[str] | None = None,
        record_secrets: Sequence[str] = (),
    ) -> None:
        self._stack = stack
        self._record = record
        self._record_secrets = tuple(record_secrets)
        self._port_spec = port
        self.baudrate = baudrate
        self._target_baudrate = target_baudrate
        self._rtscts = rtscts
        self._reset_callable = reset
        self._configure = configure
        self.lock: AbstractContextManager[bool] = threading.RLock()  # the asyncio interface puts a GreenletRLock
        self.owns_port = False
        self.initialised = False
        self.starting = False
        self.sleeping = False
        """In a deep sleep the driver asked for: its wake-up 'ready' is expected, not a fault."""
        self._init_cond = threading.Condition()

    def ensure_ready(self) -> NsapiError:
        with self.lock:
            self.starting = True
            try:
                return self._start_up()
            finally:
                self.starting = False

    def start_threads_for_worker(self) -> NsapiError:
        """``start_threads`` for a start-up that a worker job will run (``ensure_ready``): until it has, a boot
        ``ready`` is part of the start-up, not a reset of a working module."""
        self.starting = True
        err = self.start_threads()
        if err != NsapiError.OK:
            self.starting = False
        return err

    def start_threads(self) -> NsapiError:
        """Open the port if needed and start the reader and the worker (no AT exchange)."""
        with self.lock:
            stack = self._stack()
            if stack.runner.port is None:
                try:
                    stack.runner.port, self.owns_port = open_port(self._port_spec, self.baudrate, self._rtscts)
                    if self._record is not None:
                        stack.runner.port = RecordingPort(
                            stack.runner.port, self._record, secrets=self._record_secrets, owns_inner=self.owns_port
                        )
                        self.owns_port = True  # closing the recorder finishes the transcript
                except Exception as exc:
                    _log.error("cannot open %r: %r", self._port_spec, exc)
                    return NsapiError.DEVICE_ERROR
                stack.runner.reopened()
            elif not stack.runner.alive and not stack.runner.stopped:
                return NsapiError.DEVICE_ERROR
            stack.start_threads()  # also after disconnect() on a port the caller owns (the runner was stopped)
            return NsapiError.OK

    def _start_up(self) -> NsapiError:
        stack = self._stack()
        if self.initialised:
            return NsapiError.OK if stack.runner.alive else NsapiError.DEVICE_ERROR
        err = self.start_threads()
        if err != NsapiError.OK:
            return err
        err = initialise(stack)
        if err != NsapiError.OK and self._reset_callable is not None:
            err = self._hard_reset_and_initialise(stack)
        if err != NsapiError.OK:
            return err
        if (self._target_baudrate and self._target_baudrate != self.baudrate) or self._rtscts:
            err = self._switch_uart(stack)
            if err != NsapiError.OK:
                return err
        self._configure()
        with self._init_cond:
            self.initialised = True
            self.sleeping = False
            self._init_cond.notify_all()
        return NsapiError.OK

    def _hard_reset_and_initialise(self, stack: ESPATStack) -> NsapiError:
        assert self._reset_callable is not None
        _log.warning("module does not answer: hard reset")
        ready: list[bool] = []
        previous = stack.on_reset
        cond = stack.runner.cond

        def booted() -> None:
            with cond:
                ready.append(True)
                cond.notify_all()

        stack.on_reset = booted
        try:
            self._reset_callable()
            with cond:  # the runner's condition: under the asyncio runner this wait awaits the loop
                cond.wait_for(lambda: bool(ready), RESET_TIMEOUT)
        finally:
            stack.on_reset = previous
        return initialise(stack)

    def _switch_uart(self, stack: ESPATStack) -> NsapiError:
        baud = self._target_baudrate or self.baudrate
        if not stack.run(cmd.uart(baud, self._rtscts)).ok:
            return NsapiError.DEVICE_ERROR
        try:
            stack.runner.set_baudrate(baud)
            if self._rtscts:
                stack.runner.port.rtscts = True
        except Exception as exc:
            _log.error("cannot switch the host port to %d baud: %r", baud, exc)
            return NsapiError.DEVICE_ERROR
        for _ in range(5):
            if stack.run(cmd.plain(cmd.SYNC.line, 0.3)).ok:
                self.baudrate = baud
                return NsapiError.OK
        return NsapiError.DEVICE_ERROR

    def module_was_reset(self, *, sleeping: bool = False) -> None:
        """The module rebooted on its own (or, ``sleeping``, went into a deep sleep it wakes from by rebooting):
        it must be set up again."""
        self.initialised = False
        self.sleeping = sleeping

    def reinitialise(self) -> None:
        """Run on the worker after a reset."""
        err = self.ensure_ready()
        if err != NsapiError.OK:
            _log.error("re-initialising the module after a reset failed: %s", err)

    def power_down(self) -> None:
        """Stop the driver's threads and release the port (Mbed powers the module off here); the next start-up
        starts over."""
        self._stack().worker.stop()  # first, without the lock: a re-initialisation under way may need it
        with self.lock:
            stack = self._stack()
            if stack.runner.port is None:
                return
            stack.stop_threads(close_port=self.owns_port)
            stack.reset_runtime(keep_port=not self.owns_port)
            with self._init_cond:
                self.initialised = False

    def close(self) -> None:
        self._stack().worker.stop()
        with self.lock:
            stack = self._stack()
            if stack.runner.port is not None:
                stack.stop_threads(close_port=self.owns_port)
            self.initialised = False

    def wait_initialised(self, timeout: float) -> bool:
        with self._init_cond:
            return self._init_cond.wait_for(lambda: self.initialised, timeout)
