"""W5500 chip layer: register and buffer access over an ``SpiBus``, one SPI transaction per access.

Layer rule: this module knows the register map and the chip's access rules, not sockets or protocols.
- Every register access (one register or a run of adjacent ones) is one ``xfer2`` call; buffer bursts longer than
  the bus allows are split into frames with their own headers (the chip wraps offsets inside a socket's ring, so
  a burst never has to be split at the ring's end).
- Chip-updated 16-bit registers (Sn_TX_FSR, Sn_RX_RSR) are read until two reads agree (datasheet rule).
- Every wait is bounded by a deadline and raises ``ChipTimeout`` when it passes: a stuck register becomes an error,
  never a hang.
- A bus that fails (``OSError``: spidev gone, USB bridge unplugged) raises ``ChipError``; values no W5500 can
  show (VERSIONR not 0x04, a receive count larger than the socket's buffer: a MISO line stuck at 0xFF after
  bring-up) raise ``ChipGarbage``.
``chip.lock`` is the bus lock: each transaction takes it (an ``RLock``, so a short run of accesses with no wait
in between, such as ``read_stable``, can be made atomic). No wait (``time.sleep``) is ever made while holding it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import frame
from .registers import (
    BUFFER_TOTAL_KB,
    CHIP_VERSION,
    SOCKET_COUNT,
    Command,
    Common,
    ModeFlag,
    Sn,
    buffer_size_code,
    socket_registers,
    socket_rx_buffer,
    socket_tx_buffer,
)
from .spi import SpiBus, max_transfer_of

#: Each SPI frame and its reply at DEBUG (``spi %r %r``), for traces.
_spi_log = logging.getLogger("netsocket.drivers.w5500.spi")

COMMAND_TIMEOUT_S = 0.1
RESET_TIMEOUT_S = 0.1
STABLE_READ_ATTEMPTS = 8
ResetPin = Callable[[bool], None]
"""Drives RSTn: called with ``False`` to pull it low (reset), ``True`` to release it."""


class ChipError(Exception):
    """The chip or its bus does not behave: no SPI, wrong VERSIONR, a register that never settles."""


class ChipGarbage(ChipError):
    """The chip answered with values no W5500 shows (a MISO line stuck high or low, a chip that lost power)."""


class ChipTimeout(ChipError):
    """A bounded wait on a chip register ran out (e.g. Sn_CR never returned to 0)."""


@dataclass
class BusStats:
    """SPI traffic the chip layer caused (transactions and bytes clocked, headers included)."""

    transactions: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class NetworkConfig:
    """The chip's IPv4 configuration (4-byte addresses)."""

    ip: bytes = bytes(4)
    netmask: bytes = bytes(4)
    gateway: bytes = bytes(4)


class W5500Chip:
    """Register-level access to one W5500."""

    def __init__(
        self,
        bus: SpiBus,
        *,
        reset_pin: ResetPin | None = None,
        max_transfer: int | None = None,
        command_timeout: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.bus = bus
        self.lock = threading.RLock()
        self.stats = BusStats()
        self._reset_pin = reset_pin
        limit = max_transfer if max_transfer is not None else max_transfer_of(bus)
        self.max_data = max(1, limit - frame.HEADER_SIZE)
        self.command_timeout = command_timeout
        self.tx_sizes = [2048] * SOCKET_COUNT
        self.rx_sizes = [2048] * SOCKET_COUNT

    # -- raw access -----------------------------------------------------------------------------------------------
    def _xfer(self, out: list[int]) -> list[int]:
        try:
            reply = self.bus.xfer2(out)
        except (OSError, RuntimeError) as exc:  # spidev gone, USB bridge unplugged, emulator closed
            raise ChipError(f"SPI transfer failed: {exc}") from exc
        self.stats.transactions += 1
        self.stats.bytes += len(out)
        if reply is None or len(reply) != len(out):
            raise ChipError("SPI bus returned a reply of the wrong length")
        if _spi_log.isEnabledFor(logging.DEBUG):  # every frame, for `netsocket trace`
            _spi_log.debug("spi %r %r", bytes(out), bytes(reply))
        return list(reply)

    def read(self, bsb: int, offset: int, length: int) -> bytes:
        """Read ``length`` bytes from ``offset`` of block ``bsb`` (split only if longer than a bus transfer)."""
        if length <= 0:
            return b""
        with self.lock:
            if length <= self.max_data:
                return frame.parse_read(self._xfer(frame.read_frame(bsb, offset, length)), length)
            out = bytearray(length)
            for chunk_offset, start, size in frame.chunks(offset, length, self.max_data):
                reply = self._xfer(frame.read_frame(bsb, chunk_offset, size))
                out[start : start + size] = frame.parse_read(reply, size)
            return bytes(out)

    def write(self, bsb: int, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``offset`` of block ``bsb`` (split only if longer than a bus transfer)."""
        if len(data) == 0:
            return
        with self.lock:
            view = memoryview(data).cast("B")
            for chunk_offset, start, size in frame.chunks(offset, len(view), self.max_data):
                self._xfer(frame.write_frame(bsb, chunk_offset, view[start : start + size]))

    # -- common and socket registers ------------------------------------------------------------------------------
    def read_common(self, offset: int, length: int = 1) -> bytes:
        return self.read(0, offset, length)

    def write_common(self, offset: int, data: bytes) -> None:
        self.write(0, offset, data)

    def read_socket(self, n: int, offset: int, length: int = 1) -> bytes:
        return self.read(socket_registers(n), offset, length)

    def write_socket(self, n: int, offset: int, data: bytes) -> None:
        self.write(socket_registers(n), offset, data)

    def read_stable(self, n: int, offset: int, length: int, key: slice = slice(0, 2)) -> bytes:
        """Read socket registers ``offset..offset+length`` until two reads agree on ``data[key]`` (the
        chip-updated 16-bit counter among them). ``ChipError`` if they never do."""
        with self.lock:
            previous = self.read_socket(n, offset, length)
            for _ in range(STABLE_READ_ATTEMPTS):
                current = self.read_socket(n, offset, length)
                if current[key] == previous[key]:
                    return current
                previous = current
        raise ChipError(f"socket {n} register {offset:#04x} never read the same twice")

    def tx_state(self, n: int) -> tuple[int, int]:
        """``(Sn_TX_FSR, Sn_TX_WR)``: free TX space (read until stable) and the host's write pointer.
        ``ChipGarbage`` if the free space exceeds the socket's buffer."""
        data = self.read_stable(n, Sn.TX_FSR, 6)
        free = frame.u16(data, 0)
        if free > self.tx_sizes[n]:
            raise ChipGarbage(f"socket {n}: Sn_TX_FSR reads {free}, the buffer is {self.tx_sizes[n]} bytes")
        return free, frame.u16(data, 4)

    def rx_state(self, n: int) -> tuple[int, int]:
        """``(Sn_RX_RSR, Sn_RX_RD)``: bytes waiting (read until stable) and the host's read pointer.
        ``ChipGarbage`` if more bytes are waiting than the socket's buffer holds."""
        data = self.read_stable(n, Sn.RX_RSR, 4)
        size = frame.u16(data, 0)
        if size > self.rx_sizes[n]:
            raise ChipGarbage(f"socket {n}: Sn_RX_RSR reads {size}, the buffer is {self.rx_sizes[n]} bytes")
        return size, frame.u16(data, 2)

    def read_tx_buffer(self, n: int, pointer: int, length: int) -> bytes:
        return self.read(socket_tx_buffer(n), pointer & 0xFFFF, length)

    def write_tx_buffer(self, n: int, pointer: int, data: bytes | bytearray | memoryview) -> None:
        self.write(socket_tx_buffer(n), pointer & 0xFFFF, data)

    def read_rx_buffer(self, n: int, pointer: int, length: int) -> bytes:
        return self.read(socket_rx_buffer(n), pointer & 0xFFFF, length)

    # -- commands -------------------------------------------------------------------------------------------------
    def command(self, n: int, command: Command) -> None:
        """Write Sn_CR and wait (bounded) until the chip accepted it (Sn_CR reads 0); ``ChipTimeout`` otherwise.

        For callers that hold no other lock (the stack waits through ``start_command``/``command_taken`` with
        its own lock released). A W5500 takes a command within microseconds, so the first read nearly always shows
        0; the retries (with the bus lock released between them) only run for a chip that is busy or stuck."""
        if self.start_command(n, command):
            return
        deadline = time.monotonic() + self.command_timeout
        pause = 0.0001
        while not self.command_taken(n):
            if time.monotonic() >= deadline:
                raise ChipTimeout(f"socket {n}: Sn_CR stayed non-zero after {command.name}")
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def start_command(self, n: int, command: Command) -> bool:
        """Write Sn_CR and read it back once: whether the chip took the command already (Sn_CR reads 0)."""
        self.write_socket(n, Sn.CR, bytes((command,)))
        return self.command_taken(n)

    def command_taken(self, n: int) -> bool:
        """Whether socket ``n``'s last command was taken (Sn_CR reads 0)."""
        return self.read_socket(n, Sn.CR)[0] == 0

    # -- reset and identity ---------------------------------------------------------------------------------------
    def reset(self, timeout: float = RESET_TIMEOUT_S) -> None:
        """Hardware reset through the pin if there is one, then MR.RST; wait (bounded) for MR to read 0 and
        VERSIONR to read 0x04. ``ChipError`` (no chip, wrong chip) or ``ChipTimeout``."""
        if self._reset_pin is not None:
            self._reset_pin(False)
            time.sleep(0.001)  # datasheet: RSTn low >= 500 us
            self._reset_pin(True)
            time.sleep(0.002)  # PLL lock
        self.write_common(Common.MR, bytes((ModeFlag.RST,)))
        deadline = time.monotonic() + timeout
        while self.read_common(Common.MR)[0] & ModeFlag.RST:
            if time.monotonic() >= deadline:
                raise ChipTimeout("MR.RST never self-cleared: is a W5500 on this bus?")
            time.sleep(0.001)
        self.check_version(deadline)
        self.tx_sizes = [2048] * SOCKET_COUNT
        self.rx_sizes = [2048] * SOCKET_COUNT

    def check_version(self, deadline: float | None = None) -> None:
        """VERSIONR must read 0x04 (some units read 0 right after reset, so retry until the deadline)."""
        end = deadline if deadline is not None else time.monotonic() + RESET_TIMEOUT_S
        while True:
            version = self.read_common(Common.VERSIONR)[0]
            if version == CHIP_VERSION:
                return
            if time.monotonic() >= end:
                raise ChipError(f"VERSIONR reads {version:#04x}, not {CHIP_VERSION:#04x}: not a W5500")
            time.sleep(0.001)

    # -- configuration --------------------------------------------------------------------------------------------
    def set_mac(self, mac: bytes) -> None:
        if len(mac) != 6:
            raise ValueError("a MAC address is 6 bytes")
        self.write_common(Common.SHAR, mac)

    def get_mac(self) -> bytes:
        return self.read_common(Common.SHAR, 6)

    def set_network(self, config: NetworkConfig) -> None:
        """Write GAR, SUBR, SHAR (kept) and SIPR in one frame (they are adjacent, 0x0001..0x0012)."""
        with self.lock:
            mac = self.get_mac()
            self.write_common(Common.GAR, config.gateway + config.netmask + mac + config.ip)

    def get_network(self) -> NetworkConfig:
        data = self.read_common(Common.GAR, 18)
        return NetworkConfig(ip=data[14:18], netmask=data[4:8], gateway=data[0:4])

    def set_buffer_sizes(self, tx_kb: list[int], rx_kb: list[int]) -> None:
        """Split the 16 KB TX and RX memories between the 8 sockets (sizes in KB: 0, 1, 2, 4, 8 or 16)."""
        if len(tx_kb) != SOCKET_COUNT or len(rx_kb) != SOCKET_COUNT:
            raise ValueError(f"give {SOCKET_COUNT} TX and {SOCKET_COUNT} RX buffer sizes")
        for sizes in (tx_kb, rx_kb):
            for kb in sizes:
                buffer_size_code(kb)
            if sum(sizes) > BUFFER_TOTAL_KB:
                raise ValueError(f"W5500 buffer sizes add up to {sum(sizes)} KB; the chip has {BUFFER_TOTAL_KB} KB")
        with self.lock:
            for n in range(SOCKET_COUNT):
                self.write_socket(n, Sn.RXBUF_SIZE, bytes((rx_kb[n], tx_kb[n])))
        self.tx_sizes = [kb * 1024 for kb in tx_kb]
        self.rx_sizes = [kb * 1024 for kb in rx_kb]

    def phy_status(self) -> int:
        return self.read_common(Common.PHYCFGR)[0]
