"""W5500 driver figures on the emulated chip: SPI bus bytes per payload byte and transactions per KB (2 KB and
16 KB socket buffers), throughput at an emulated 8, 20 and 40 MHz clock, the driver's CPU idle and sending, and
the memory of 8 sockets carrying traffic and of an unread flood.

The emulated chip runs in the caller's thread for every SPI transaction (as a real bus blocks the caller), so a
thread's CPU here includes the emulator's work per transaction: an upper bound for the driver's own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiError, SocketAddress, TCPSocket

from .common import EchoServer, SourceServer, median, parallel_downloads, pattern, thread_cpu
from .esp import download, upload
from .w5500_spi_efficiency import BUFSIZ, measure

#: Socket register names by offset (W5500 datasheet), for the bus accounting.
_SOCKET_REGISTERS = {
    0x00: "Sn_MR",
    0x01: "Sn_CR",
    0x02: "Sn_IR",
    0x03: "Sn_SR",
    0x20: "Sn_TX_FSR",
    0x22: "Sn_TX_RD",
    0x24: "Sn_TX_WR",
    0x26: "Sn_RX_RSR",
    0x28: "Sn_RX_RD",
    0x2C: "Sn_IMR",
}


class BusTap:
    """An SPI bus in front of the emulated one that sorts every transaction by what it touches: TX/RX buffer data
    (with its 3 header bytes apart), a socket register by name, or a common register."""

    def __init__(self, bus: FakeSpiDev) -> None:
        self._bus = bus
        self.bytes: dict[str, int] = {}
        self.transactions: dict[str, int] = {}

    def xfer2(self, data: Any, *args: int) -> list[int]:
        frame = bytes(data)
        if len(frame) >= 3:
            address, block = frame[0] << 8 | frame[1], frame[2] >> 3
            if block == 0:
                kind = "common registers"
            elif block % 4 == 1:
                kind = _SOCKET_REGISTERS.get(address & ~1 if address >= 0x20 else address, "Sn other")
            else:
                kind = "TX data" if block % 4 == 2 else "RX data"
            if kind.endswith("data"):
                self._count(kind, len(frame) - 3, 1)
                self._count("data frame headers", 3, 0)
            else:
                self._count(kind, len(frame), 1)
        return list(self._bus.xfer2(frame, *args))

    def _count(self, kind: str, size: int, frames: int) -> None:
        self.bytes[kind] = self.bytes.get(kind, 0) + size
        self.transactions[kind] = self.transactions.get(kind, 0) + frames


def bus_accounting(direction: str, megabytes: float, buffer_kb: int, intn: bool) -> dict[str, Any]:
    """One bulk transfer through `BusTap`: bus bytes per payload byte, split by what they carry."""
    size = int(megabytes * 1e6)
    with FakeSpiDev(bufsiz=BUFSIZ) as fake:
        tap = BusTap(fake)
        with w5500_interface(fake, buffer_kb, bus=tap, intn=intn) as iface:
            transfer = (download if direction == "receive" else upload)(iface, size)
    total = sum(tap.bytes.values())
    return {
        "direction": direction,
        "buffer_kb": buffer_kb,
        "intn": intn,
        "bus_bytes_per_payload_byte": total / transfer.size,
        "transactions_per_kb": sum(tap.transactions.values()) / (transfer.size / 1024),
        "by_kind": {kind: count / transfer.size for kind, count in sorted(tap.bytes.items(), key=lambda i: -i[1])},
        "intact": transfer.intact,
    }


def spi_efficiency(megabytes: float, runs: int) -> list[dict[str, Any]]:
    rows = []
    for buffer_kb in (2, 16):
        for direction in ("send", "receive"):
            results = [measure(direction, megabytes, buffer_kb) for _ in range(runs)]
            rows.append(
                {
                    "direction": direction,
                    "buffer_kb": buffer_kb,
                    "bus_bytes_per_payload_byte": median([r.bytes_per_payload_byte for r in results]),
                    "floor": results[0].floor,
                    "transactions_per_kb": median([r.transactions_per_kb for r in results]),
                    "runs": runs,
                }
            )
    return rows


def clock_throughput(megabytes: float, runs: int) -> list[dict[str, Any]]:
    """Payload throughput at an emulated SPI clock, as a fraction of the bus's raw byte rate (clock/8)."""
    rows = []
    for hz in (8e6, 20e6, 40e6):
        for direction in ("send", "receive"):
            results = [measure(direction, megabytes, 2, spi_hz=hz) for _ in range(runs)]
            rate = median([r.payload / r.seconds for r in results])
            rows.append(
                {
                    "spi_mhz": hz / 1e6,
                    "direction": direction,
                    "mb_per_s": rate / 1e6,
                    "fraction_of_bus": rate / (hz / 8),
                    "runs": runs,
                }
            )
    return rows


@contextlib.contextmanager
def w5500_interface(
    fake: FakeSpiDev, buffer_kb: int = 2, *, bus: Any = None, intn: bool = False
) -> Iterator[W5500Interface]:
    """Our driver on the emulated chip with a static address; `intn` wires the chip's interrupt line (otherwise
    the driver polls), `bus` puts something (a `BusTap`) between the driver and the chip."""
    sizes = [buffer_kb] + [2 if buffer_kb <= 2 else 0] * 7
    iface = W5500Interface(
        bus if bus is not None else fake, interrupt=fake if intn else None, tx_buffer_kb=sizes, rx_buffer_kb=sizes
    )
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    try:
        if iface.connect() != NsapiError.OK:
            raise RuntimeError("the emulated W5500 did not come up")
        yield iface
    finally:
        iface.close()


def _connected(iface: W5500Interface, port: int) -> TCPSocket:
    sock = TCPSocket()
    sock.open(iface)
    sock.set_timeout(60_000)
    if sock.connect(SocketAddress("127.0.0.1", port)) != NsapiError.OK:
        raise RuntimeError("connect failed")
    return sock


def _threads_cpu(prefix: str) -> float:
    return sum(thread_cpu(t.native_id) for t in threading.enumerate() if t.name.startswith(prefix))


def cpu(idle_seconds: float, megabytes: float, intn: bool = False) -> dict[str, Any]:
    """The driver's service thread while one connected socket is idle (fraction of one core, SPI transactions per
    second), and the driver side's CPU per MB sent (the emulator's own thread excluded); `intn`: the chip's
    interrupt line wired (otherwise the driver polls)."""
    with FakeSpiDev(bufsiz=BUFSIZ) as fake, w5500_interface(fake, intn=intn) as iface:
        server = EchoServer()
        sock = _connected(iface, server.port)
        frames0, service0, t0 = fake.stats.frames, _threads_cpu("w5500-service"), time.perf_counter()
        time.sleep(idle_seconds)  # the measured interval: nothing to do
        elapsed = time.perf_counter() - t0
        idle_core = (_threads_cpu("w5500-service") - service0) / elapsed
        idle_xfers = (fake.stats.frames - frames0) / elapsed
        sock.close()
        server.close()
        sink = socket.create_server(("127.0.0.1", 0))
        drained = threading.Event()

        def drain() -> None:
            conn, _ = sink.accept()
            with conn:
                while conn.recv(65536):
                    pass
            drained.set()

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        sock = _connected(iface, sink.getsockname()[1])
        block, size, sent = bytes(65536), int(megabytes * 1e6), 0
        cpu0, emu0, t0 = time.process_time(), _threads_cpu("w5500-emulator"), time.perf_counter()
        drain0 = thread_cpu(drainer.native_id)
        while sent < size:
            count = sock.send(block[: size - sent])
            if count <= 0:
                raise RuntimeError(f"send gave {count}")
            sent += count
        spent = time.process_time() - cpu0 - (_threads_cpu("w5500-emulator") - emu0)
        spent -= thread_cpu(drainer.native_id) - drain0
        seconds = time.perf_counter() - t0
        sock.close()
        drained.wait(10)
        sink.close()
    return {
        "intn": intn,
        "idle_core_fraction": idle_core,
        "idle_spi_transactions_per_s": idle_xfers,
        "sending_cpu_s_per_mb": spent / (size / 1e6),
        "sending_core_fraction": spent / seconds,
    }


def memory(size: int, sockets: int = 8) -> dict[str, Any]:
    """Peak Python allocations (tracemalloc, emulated chip included) with `sockets` sockets downloading at once,
    and while a flood goes unread (the chip's buffer is the bound: TCP backpressure). The test data is made before
    the measured interval and the application hashes what arrives."""
    data, flood_data = pattern(size, 13), pattern(size * 4, 14)
    with FakeSpiDev(bufsiz=BUFSIZ) as fake, w5500_interface(fake) as iface:
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            _, _, intact = parallel_downloads(lambda port: _connected(iface, port), sockets, data)
            busy_peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            flood = SourceServer(flood_data)
            sock = _connected(iface, flood.port)
            time.sleep(1.0)  # the measured interval: the application reads nothing
            flood_peak = tracemalloc.get_traced_memory()[1] - base
            sock.close()
            flood.close()
        finally:
            tracemalloc.stop()
    return {
        "w5500_sockets": sockets,
        "w5500_busy_peak_kb": busy_peak / 1024,
        "w5500_flood_peak_kb": flood_peak / 1024,
        "w5500_flood_bytes": len(flood_data),
        "w5500_intact": intact,
    }
