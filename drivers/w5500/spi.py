"""SPI backends for the W5500 chip layer: the ``SpiBus`` protocol and adapters for spidev and pyftdi.

Layer rule: each ``xfer2`` call is exactly one chip-select assertion (one W5500 frame); backends never split a
transfer. ``max_transfer`` says how long a transfer may be (spidev's ``bufsiz``), and the chip layer splits longer
frames at the W5500 protocol level. Hardware libraries are imported lazily, with an error that names the extra
to install. Anything with an ``xfer2`` method (the emulator's ``FakeSpiDev``) is used as it is. Other URL
schemes (the emulator's ``w5500emu://``) are found through the entry-point group ``netsocket.spi_url_handlers``
(``name = "module:function"``, the function taking the URL and returning a bus), so the driver never imports them.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

DEFAULT_SPEED_HZ = 8_000_000
DEFAULT_MAX_TRANSFER = 4096
_SPIDEV_BUFSIZ = Path("/sys/module/spidev/parameters/bufsiz")
SPI_URL_HANDLERS = "netsocket.spi_url_handlers"


@runtime_checkable
class SpiBus(Protocol):
    """What the chip layer needs: one full-duplex transfer with chip select held for the whole list."""

    def xfer2(self, data: list[int]) -> list[int]: ...


class SpidevBus:
    """``/dev/spidevB.D`` through py-spidev (the ``w5500`` extra), SPI mode 0."""

    def __init__(self, path: str = "/dev/spidev0.0", speed_hz: int = DEFAULT_SPEED_HZ) -> None:
        try:
            import spidev  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError("the W5500 spidev backend needs py-spidev: pip install 'netsocket[w5500]'") from exc
        bus, device = parse_spidev_path(path)
        self._dev: Any = spidev.SpiDev()
        try:
            self._dev.open(bus, device)
        except OSError as exc:
            raise device_error(path, exc) from exc
        self._dev.mode = 0
        self._dev.max_speed_hz = speed_hz
        self.max_transfer = spidev_bufsiz()

    def xfer2(self, data: list[int]) -> list[int]:
        return list(self._dev.xfer2(data))

    def close(self) -> None:
        self._dev.close()


class FtdiBus:
    """An FTDI MPSSE USB-SPI bridge through pyftdi (the ``ftdi`` extra), e.g. ``ftdi://ftdi:232h/1``."""

    max_transfer = 65536

    def __init__(self, url: str, cs: int = 0, speed_hz: int = DEFAULT_SPEED_HZ) -> None:
        try:
            from pyftdi.spi import SpiController  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise ImportError("the W5500 FTDI backend needs pyftdi: pip install 'netsocket[ftdi]'") from exc
        self._controller = SpiController()
        self._controller.configure(url)
        self._port = self._controller.get_port(cs=cs, freq=speed_hz, mode=0)

    def xfer2(self, data: list[int]) -> list[int]:
        return list(self._port.exchange(bytes(data), duplex=True))

    def close(self) -> None:
        self._controller.terminate()


def device_error(path: str, exc: OSError) -> OSError:
    """``exc`` (opening a spidev node) with a sentence that says what to do about it; same type and errno."""
    if isinstance(exc, FileNotFoundError):
        hint = (
            f"{path} does not exist: enable SPI (on a Raspberry Pi, add 'dtparam=spi=on' to "
            "/boot/firmware/config.txt, or use raspi-config, then reboot) and check the bus and chip-select numbers"
        )
    elif isinstance(exc, PermissionError):
        hint = (
            f"no permission to open {path}: add your user to the 'spi' group "
            "(sudo usermod -aG spi $USER, then log in again) or run as a user that has it"
        )
    else:
        hint = f"cannot open {path}: {exc.strerror or exc}"
    return type(exc)(exc.errno, hint, path)


def parse_spidev_path(path: str) -> tuple[int, int]:
    """``/dev/spidev0.1`` -> ``(0, 1)``; ``ValueError`` for anything else."""
    name = Path(path).name
    if not name.startswith("spidev"):
        raise ValueError(f"not a spidev device path: {path!r}")
    bus, sep, device = name[len("spidev") :].partition(".")
    if not sep or not bus.isdigit() or not device.isdigit():
        raise ValueError(f"not a spidev device path: {path!r}")
    return int(bus), int(device)


def spidev_bufsiz() -> int:
    """The kernel's per-transfer limit for spidev (4096 unless the module parameter says otherwise)."""
    try:
        return max(16, int(_SPIDEV_BUFSIZ.read_text().strip()))
    except (OSError, ValueError):
        return DEFAULT_MAX_TRANSFER


def open_bus(spi: str | SpiBus, speed_hz: int = DEFAULT_SPEED_HZ) -> SpiBus:
    """A bus from a spidev path, an ``ftdi://`` URL, or an object with ``xfer2`` (used as it is)."""
    if isinstance(spi, str):
        if spi.startswith("ftdi://"):
            return FtdiBus(spi, speed_hz=speed_hz)
        if "://" in spi:
            return _bus_from_url(spi)
        return SpidevBus(spi, speed_hz=speed_hz)
    if not callable(getattr(spi, "xfer2", None)):
        raise TypeError(
            f"an SPI bus is a spidev path, an ftdi:// URL or an object with xfer2, not {type(spi).__name__}"
        )
    return spi


def _bus_from_url(url: str) -> SpiBus:
    scheme = url.split("://", 1)[0]
    for ep in entry_points(group=SPI_URL_HANDLERS):
        if ep.name == scheme:
            bus: SpiBus = ep.load()(url)
            return bus
    known = ", ".join(["ftdi", *sorted(ep.name for ep in entry_points(group=SPI_URL_HANDLERS))])
    raise ValueError(f"no SPI bus for {url!r}: known URL schemes are {known}, or give a spidev path")


def max_transfer_of(bus: object) -> int:
    """A bus's per-transfer limit: its ``max_transfer`` or ``bufsiz`` attribute, else spidev's default 4096."""
    for name in ("max_transfer", "bufsiz"):
        value = getattr(bus, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 16:
            return value
    return DEFAULT_MAX_TRANSFER
