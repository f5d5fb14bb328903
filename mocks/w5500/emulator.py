"""The assembled W5500 emulator: chip model + host bridge + LAN services, one lock, one pump thread.

Layer: I/O and threads (the only module here that reads the clock or starts a thread). Every SPI frame runs
under the lock: `tick(now)`, the frame, then `bridge.poll()`, so a driver that polls registers sees host
events promptly. The pump thread does `tick` + `poll` every `poll_interval` seconds so that time-outs fire and
the interrupt line moves while nobody clocks the bus (interrupt-driven drivers). `threaded=False` leaves that
to the caller (`service()`), for fully deterministic tests.

Interrupt line: `intn` is the INTn level (True = high = idle; the chip pulls it low). `on_int_edge(callback)`
calls `callback(level)` on every edge, outside the lock and from whichever thread caused it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from .bridge import HostBridge
from .chip import W5500Chip
from .dhcp_server import DhcpServer
from .dns_table import DnsTable
from .faults import ChipFaults
from .lan import Lan, LanConfig

_OPEN: weakref.WeakSet[W5500Emulator] = weakref.WeakSet()


def open_emulators() -> list[W5500Emulator]:
    """Emulators not closed yet (for leak checks in test fixtures)."""
    return [emulator for emulator in _OPEN if not emulator.closed]


@dataclass
class SpiStats:
    frames: int = 0
    """Chip-select frames (one per xfer2/writebytes2 chunk/readbytes call)."""
    bytes: int = 0
    """Every byte clocked on the bus, headers included."""
    read_frames: int = 0
    write_frames: int = 0
    bus_seconds: float = 0.0
    """Time the emulated SPI clock spent on those bytes (0 unless a bus speed is modelled)."""

    def reset(self) -> None:
        self.frames = self.bytes = self.read_frames = self.write_frames = 0
        self.bus_seconds = 0.0


class W5500Emulator:
    def __init__(
        self,
        *,
        lan: LanConfig | None = None,
        faults: ChipFaults | None = None,
        spi_hz: float | None = None,
        frame_cost: float = 0.0,
        link_up_delay: float = 0.0,
        initial_pointer: int = 0,
        timeout_scale: float = 1.0,
        threaded: bool = True,
        poll_interval: float = 0.002,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lan_config = lan or LanConfig()
        self.lan = Lan(self.lan_config)
        self.dhcp = DhcpServer(self.lan_config.dhcp_config())
        self.dns = DnsTable(self.lan_config.hosts)
        self.bridge = HostBridge(self.lan, self.dhcp, self.dns)
        self._clock = clock
        self.chip = W5500Chip(
            self.bridge,
            faults=faults,
            link_up_delay=link_up_delay,
            initial_pointer=initial_pointer,
            timeout_scale=timeout_scale,
            now=clock(),
        )
        self.bridge.chip = self.chip
        self.spi_hz = spi_hz
        self.frame_cost = frame_cost
        self.stats = SpiStats()
        self.closed = False
        self._lock = threading.RLock()
        self._edge_cond = threading.Condition()
        self._subscribers: list[Callable[[bool], None]] = []
        self._bus_free_at = 0.0
        self._partial = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _OPEN.add(self)
        if threaded:
            self._thread = threading.Thread(
                target=self._pump, args=(poll_interval,), name="w5500-emulator", daemon=True
            )
            self._thread.start()

    @property
    def faults(self) -> ChipFaults:
        return self.chip.faults

    # ----------------------------------------------------------------- SPI
    def transfer(self, frame: bytes) -> bytes:
        """One chip-select frame (CS low, clock `frame`, CS high); returns MISO."""
        self._check_open()
        with self._lock:
            self.chip.tick(self._clock())
            miso = self.chip.transfer(frame)
            stuck = self.chip.faults.miso_stuck
            if stuck is not None:
                miso = bytes((stuck,)) * len(frame)
            self._count(frame)
            self.bridge.poll()
            self.chip.update_intn()
            edges = self._take_edges()
        self._dispatch(edges)
        self._model_bus_time(len(frame), frames=1)
        return miso

    def select(self) -> None:
        """Chip select low: the start of a frame clocked in pieces (`exchange`) until `deselect`."""
        self._check_open()
        with self._lock:
            self.chip.tick(self._clock())
            self.chip.select()
            self._partial = bytearray()

    def exchange(self, mosi: bytes) -> bytes:
        with self._lock:
            miso = self.chip.exchange(mosi)
            self._partial += mosi
        self._model_bus_time(len(mosi), frames=0)
        return miso

    def deselect(self) -> None:
        with self._lock:
            self.chip.deselect()
            self._count(bytes(self._partial))
            self.bridge.poll()
            self.chip.update_intn()
            edges = self._take_edges()
        self._dispatch(edges)
        self._model_bus_time(0, frames=1)

    def _count(self, frame: bytes) -> None:
        self.stats.frames += 1
        self.stats.bytes += len(frame)
        if len(frame) >= 3:
            if frame[2] & 0x04:
                self.stats.write_frames += 1
            else:
                self.stats.read_frames += 1

    def _model_bus_time(self, count: int, frames: int) -> None:
        """Bytes x 8 / spi_hz plus `frame_cost` seconds per chip-select frame (the host's per-transaction
        overhead: an ioctl on a Pi, a USB round trip on a USB-SPI bridge)."""
        duration = (count * 8 / self.spi_hz if self.spi_hz else 0.0) + frames * self.frame_cost
        if duration <= 0:
            return
        self.stats.bus_seconds += duration
        now = self._clock()
        self._bus_free_at = max(self._bus_free_at, now) + duration
        ahead = self._bus_free_at - now
        if ahead > 0.0005:
            time.sleep(ahead)

    # ----------------------------------------------------------------- harness controls
    def service(self) -> None:
        """Advance chip time and move host-socket events into the chip (the pump thread does this)."""
        if self.closed:
            return
        with self._lock:
            self.chip.tick(self._clock())
            self.bridge.poll()
            self.chip.update_intn()
            edges = self._take_edges()
        self._dispatch(edges)

    def set_link(self, up: bool) -> None:
        """Plug (True) or pull (False) the Ethernet cable."""
        with self._lock:
            self.chip.tick(self._clock())
            self.chip.set_cable(up)
        self.service()

    def hardware_reset(self) -> None:
        """Pulse RSTn: every register to its reset value, every socket closed."""
        with self._lock:
            self.chip.tick(self._clock())
            self.chip.reset()
        self.service()

    def host_listen_address(self, port: int) -> tuple[str, int] | None:
        with self._lock:
            return self.bridge.host_listen_address(port)

    @property
    def intn(self) -> bool:
        return self.chip.intn_high

    def on_int_edge(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Subscribe to INTn edges (`callback(level)`); returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def wait_for_interrupt(self, timeout: float) -> bool:
        """Block until INTn is low (asserted) or `timeout` seconds pass; returns whether it is low."""
        deadline = self._clock() + timeout
        with self._edge_cond:
            while self.chip.intn_high:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                self._edge_cond.wait(remaining)
        return True

    def _take_edges(self) -> list[bool]:
        edges, self.chip.int_edges = self.chip.int_edges, []
        return edges

    def _dispatch(self, edges: list[bool]) -> None:
        if not edges:
            return
        with self._edge_cond:
            self._edge_cond.notify_all()
        for level in edges:
            for callback in list(self._subscribers):
                callback(level)

    # ----------------------------------------------------------------- lifetime
    def _pump(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.service()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("the W5500 emulator is closed")

    def close(self) -> None:
        """Stop the pump thread and close every host socket. Idempotent."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            if not self.closed:
                self.closed = True
                self.bridge.close()
        _OPEN.discard(self)

    def __enter__(self) -> W5500Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
