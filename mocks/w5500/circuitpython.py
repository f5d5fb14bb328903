"""CircuitPython's bus objects over the emulated W5500, for running CircuitPython W5500 drivers on CPython.

Adafruit's ``adafruit_wiznet5k`` takes a ``busio.SPI`` and a ``digitalio.DigitalInOut`` for chip select, and
``adafruit_bus_device.SPIDevice`` locks the bus, drives CS low, writes/reads the frame in pieces, then drives CS
high. ``BusioSPI`` and ``ChipSelectPin`` turn those calls into ``select``/``exchange``/``deselect`` on a
``W5500Emulator``, so one CS-low period is one W5500 frame, as on the wire::

    fake = FakeSpiDev()
    eth = WIZNET5K(BusioSPI(fake.emulator), ChipSelectPin(fake.emulator), is_dhcp=True)
"""

from __future__ import annotations

import threading

from .emulator import W5500Emulator


class BusioSPI:
    """The part of ``busio.SPI`` that ``SPIDevice`` and the drivers use (the clock setting is accepted and ignored:
    the emulator's own ``spi_hz`` sets the pace)."""

    def __init__(self, emulator: W5500Emulator) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()

    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    def configure(self, *, baudrate: int = 100000, polarity: int = 0, phase: int = 0, bits: int = 8) -> None:
        if (polarity, phase) not in ((0, 0), (1, 1)) or bits != 8:
            raise ValueError(f"the W5500 speaks SPI mode 0 or 3 in 8-bit words, not CPOL={polarity} CPHA={phase}")

    def write(self, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None) -> None:
        self.emulator.exchange(bytes(buffer[start:end]))

    def readinto(self, buffer: bytearray, *, start: int = 0, end: int | None = None, write_value: int = 0) -> None:
        stop = len(buffer) if end is None else end
        buffer[start:stop] = self.emulator.exchange(bytes([write_value]) * (stop - start))


class ChipSelectPin:
    """``digitalio.DigitalInOut`` for the CS pin: a falling edge starts a frame, a rising edge ends it."""

    def __init__(self, emulator: W5500Emulator) -> None:
        self.emulator = emulator
        self._value = True

    def switch_to_output(self, value: bool = False, **_kwargs: object) -> None:
        self.value = value

    @property
    def value(self) -> bool:
        return self._value

    @value.setter
    def value(self, level: bool) -> None:
        if self._value and not level:
            self.emulator.select()
        elif not self._value and level:
            self.emulator.deselect()
        self._value = bool(level)


__all__ = ["BusioSPI", "ChipSelectPin"]
