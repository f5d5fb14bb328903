"""`FakeSpiDev`: py-spidev's `SpiDev` surface in front of the W5500 emulator.

Layer: adapter. Each call is what it is on Linux spidev, in chip-select terms:
- `xfer2`, `writebytes`, `readbytes`: one frame (CS held for the whole list); more than `bufsiz` bytes raise
  OverflowError like spidev does.
- `xfer3`, `writebytes2`: split into `bufsiz`-byte chunks, each its own frame (spidev issues separate
  operations, so CS rises between them: a W5500 frame longer than bufsiz is cut).
- `xfer`: documented as releasing CS "between blocks", but py-spidev's usual build sends the list as one
  transfer, so it is one frame here too.
`mode` must be 0 or 3, `bits_per_word` 8 and `lsbfirst`/`cshigh` False, otherwise the chip sees garbage: MISO
reads 0xFF and nothing is decoded.

`FakeSpiDev()` is a powered chip on the default emulated LAN, usable without `open()`. `close()` ends the
emulator (threads and host sockets); use it, or the context manager, in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .emulator import SpiStats, W5500Emulator
from .faults import ChipFaults

DEFAULT_BUFSIZ = 4096


class FakeSpiDev:
    def __init__(
        self,
        bus: int | None = None,
        device: int | None = None,
        *,
        emulator: W5500Emulator | None = None,
        bufsiz: int = DEFAULT_BUFSIZ,
        **emulator_options: Any,
    ) -> None:
        self.emulator = emulator if emulator is not None else W5500Emulator(**emulator_options)
        self.bufsiz = bufsiz
        self.max_speed_hz = 500_000
        self.mode = 0
        self.bits_per_word = 8
        self.lsbfirst = False
        self.cshigh = False
        self.threewire = False
        self.loop = False
        self.no_cs = False
        self.bus = bus
        self.device = device

    # ----------------------------------------------------------------- spidev surface
    def open(self, bus: int, device: int) -> None:
        self.bus = bus
        self.device = device

    def close(self) -> None:
        self.emulator.close()

    def xfer2(self, values: Sequence[int] | bytes, *_args: int) -> list[int]:
        return list(self._frame(self._bytes(values, limit=True)))

    def xfer(self, values: Sequence[int] | bytes, *_args: int) -> list[int]:
        return self.xfer2(values)

    def xfer3(self, values: Sequence[int] | bytes, *_args: int) -> tuple[int, ...]:
        data = self._bytes(values, limit=False)
        out = bytearray()
        for start in range(0, len(data), self.bufsiz):
            out += self._frame(data[start : start + self.bufsiz])
        return tuple(out)

    def writebytes(self, values: Sequence[int] | bytes) -> None:
        self._frame(self._bytes(values, limit=True))

    def writebytes2(self, values: Sequence[int] | bytes) -> None:
        self.xfer3(values)

    def readbytes(self, count: int) -> list[int]:
        if count > self.bufsiz:
            raise OverflowError(f"Argument list size exceeds {self.bufsiz} bytes.")
        return list(self._frame(bytes(count)))

    def fileno(self) -> int:
        return -1

    def __enter__(self) -> FakeSpiDev:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- harness shortcuts
    @property
    def faults(self) -> ChipFaults:
        return self.emulator.faults

    @property
    def stats(self) -> SpiStats:
        return self.emulator.stats

    @property
    def intn(self) -> bool:
        """INTn level: True = high (idle), False = asserted."""
        return self.emulator.intn

    def on_int_edge(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        return self.emulator.on_int_edge(callback)

    def wait_for_interrupt(self, timeout: float) -> bool:
        """Block until INTn is low or `timeout` seconds pass; returns whether it is low."""
        return self.emulator.wait_for_interrupt(timeout)

    def host_listen_address(self, port: int) -> tuple[str, int] | None:
        """Where the host reaches a chip socket listening on `port` (None while none listens)."""
        return self.emulator.host_listen_address(port)

    def set_link(self, up: bool) -> None:
        self.emulator.set_link(up)

    def hardware_reset(self) -> None:
        self.emulator.hardware_reset()

    # ----------------------------------------------------------------- internals
    def _bytes(self, values: Sequence[int] | bytes, limit: bool) -> bytes:
        data = bytes(values)
        if limit and len(data) > self.bufsiz:
            raise OverflowError(f"Argument list size exceeds {self.bufsiz} bytes.")
        return data

    def _frame(self, data: bytes) -> bytes:
        if self.mode not in (0, 3) or self.bits_per_word != 8 or self.lsbfirst or self.cshigh:
            self.emulator.stats.frames += 1
            self.emulator.stats.bytes += len(data)
            return b"\xff" * len(data)
        return self.emulator.transfer(data)
