"""The W5500's GPIO lines: INTn for the stack's service thread (``wait(timeout) -> bool``, True once INTn is low)
and RSTn for the chip layer (``pin(level)``).

An interrupt line may also have ``wakeup()``: it makes a ``wait`` in progress (or the next one) return at once, so
the service thread can sleep on INTn until its next deadline and still be woken by a socket call that needs it
sooner. Every line made here has it; an object given by the user without it is waited on in short slices.

Layer: I/O adapters. Accepted sources: an object that already has ``wait(timeout)``; the emulator's
``FakeSpiDev`` (``intn`` level plus ``on_int_edge`` callbacks); a ``"/dev/gpiochipN:LINE"`` string read through
libgpiod (the ``rpi`` extra, imported lazily); or a zero-argument callable returning True while INTn is asserted
(read every millisecond: a GPIO read costs no SPI traffic).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

LEVEL_POLL_S = 0.001


class EdgeInterrupt:
    """INTn from a level getter (``True`` = high = idle) and an edge-callback subscription."""

    def __init__(self, level: Callable[[], bool], subscribe: Callable[[Callable[[bool], None]], Any]) -> None:
        self._level = level
        self._cond = threading.Condition()
        self._woken = False
        self._unsubscribe = subscribe(self._edge)

    def _edge(self, level: bool) -> None:
        with self._cond:
            self._cond.notify_all()

    def wakeup(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._cond:
            while self._level() and not self._woken:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._woken = False
        return not self._level()

    def close(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()


class LevelInterrupt:
    """INTn from a callable that returns True while the line is asserted."""

    def __init__(self, asserted: Callable[[], bool]) -> None:
        self._asserted = asserted
        self._woken = threading.Event()

    def wakeup(self) -> None:
        self._woken.set()

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not self._asserted():
            if self._woken.is_set() or time.monotonic() >= end:
                self._woken.clear()
                return False
            self._woken.wait(LEVEL_POLL_S)
        self._woken.clear()
        return True


class GpiodInterrupt:
    """INTn on a GPIO line through libgpiod v2 (falling edges; the level is checked first). The wait is a
    ``select`` on the line request's file descriptor and a pipe, so ``wakeup()`` ends it early."""

    def __init__(self, spec: str) -> None:
        try:
            import gpiod  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError("W5500 interrupts on GPIO need libgpiod: pip install 'netsocket[rpi]'") from exc
        chip, sep, line = spec.rpartition(":")
        if not sep or not line.isdigit():
            raise ValueError(f"an interrupt line is '/dev/gpiochipN:LINE', not {spec!r}")
        self._offset = int(line)
        settings = gpiod.LineSettings(
            direction=gpiod.line.Direction.INPUT,
            edge_detection=gpiod.line.Edge.FALLING,
            bias=gpiod.line.Bias.PULL_UP,
        )
        self._request: Any = request_line(gpiod, chip, self._offset, settings)
        self._inactive = gpiod.line.Value.ACTIVE
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def wakeup(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a wake-up is already pending
            os.write(self._wake_w, b"\0")

    def wait(self, timeout: float) -> bool:
        if self._request.get_value(self._offset) != self._inactive:
            return True
        events = self._request.fd
        ready, _, _ = select.select([events, self._wake_r], [], [], max(0.0, timeout))
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 64)
        if events in ready:
            self._request.read_edge_events()
            return True
        return False

    def close(self) -> None:
        self._request.release()
        os.close(self._wake_r)
        os.close(self._wake_w)


def request_line(gpiod: Any, chip: str, offset: int, settings: Any) -> Any:
    """One line of ``chip`` through libgpiod, with a sentence that says what to do when the chip is missing or not
    permitted (same exception type and errno)."""
    try:
        return gpiod.request_lines(chip, consumer="netsocket-w5500", config={offset: settings})
    except FileNotFoundError as exc:
        hint = f"{chip} does not exist: check the GPIO chip's name (gpiodetect lists the chips and their lines)"
        raise FileNotFoundError(exc.errno, hint, chip) from exc
    except PermissionError as exc:
        hint = (
            f"no permission to use {chip}: add your user to the 'gpio' group "
            "(sudo usermod -aG gpio $USER, then log in again)"
        )
        raise PermissionError(exc.errno, hint, chip) from exc
    except OSError as exc:  # EBUSY: another program holds the line
        raise type(exc)(exc.errno, f"cannot request line {offset} of {chip}: {exc.strerror or exc}", chip) from exc


def as_interrupt_line(source: Any) -> Any:
    """An object with ``wait(timeout)`` for ``source`` (see the module docstring), or None for polling."""
    if source is None:
        return None
    if callable(getattr(source, "wait", None)):
        return source
    if callable(getattr(source, "on_int_edge", None)) and hasattr(source, "intn"):
        return EdgeInterrupt(lambda: bool(source.intn), source.on_int_edge)
    if isinstance(source, str):
        return GpiodInterrupt(source)
    if callable(source):
        return LevelInterrupt(source)
    raise TypeError(f"cannot use {type(source).__name__} as the W5500 interrupt line")


class GpiodResetPin:
    """RSTn on a GPIO line through libgpiod v2: ``pin(False)`` pulls it low (reset), ``pin(True)`` releases it."""

    def __init__(self, spec: str) -> None:
        try:
            import gpiod  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError("a W5500 reset line on GPIO needs libgpiod: pip install 'netsocket[rpi]'") from exc
        chip, sep, line = spec.rpartition(":")
        if not sep or not line.isdigit():
            raise ValueError(f"a reset line is '/dev/gpiochipN:LINE', not {spec!r}")
        self._offset = int(line)
        self._value = gpiod.line.Value
        settings = gpiod.LineSettings(direction=gpiod.line.Direction.OUTPUT, output_value=gpiod.line.Value.ACTIVE)
        self._request: Any = request_line(gpiod, chip, self._offset, settings)

    def __call__(self, level: bool) -> None:
        self._request.set_value(self._offset, self._value.ACTIVE if level else self._value.INACTIVE)


def as_reset_pin(source: Any) -> Any:
    """A ``pin(level)`` callable for ``source``: a callable as it is, or a ``"/dev/gpiochipN:LINE"`` string."""
    if source is None or callable(source):
        return source
    if isinstance(source, str):
        return GpiodResetPin(source)
    raise TypeError(f"cannot use {type(source).__name__} as the W5500 reset line")
