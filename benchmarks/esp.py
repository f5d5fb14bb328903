"""ESP-AT driver figures: throughput against the line rate, the driver's ceiling and CPU, sigio latency and echo
round trip, memory, and many modules per host. The module is emulated in another process (`far_end`) on a pty.

A runner is a parameter of every measurement: ``threaded`` (`ESP8266Interface`: the reader thread on pyserial) or
``asyncio`` (`AsyncESP8266Interface` on an event loop, with `netsocket.aio.AsyncTCPSocket`). The asyncio runner's
loop runs in a thread of its own so the same blocking measurement code drives both: each socket call is one hop onto
the loop (`LoopThread.call`), which the asyncio figures include. Active receive is forced at the far end, which
refuses passive mode as firmware without it does (`far_end --refuse-passive`), so both runners are measured in it.

Every transfer is timed from its first payload byte on the move to its last one delivered: a download from the
moment the server starts its reply to a request the socket sent (data the driver fetched before the clock started
would otherwise count for nothing), an upload from the first `send` until the server has read everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import serial

from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from netsocket.aio import AsyncTCPSocket

from .common import (
    EchoServer,
    SourceServer,
    Transfer,
    median,
    parallel_downloads,
    pattern,
    percentile,
    timed_download,
    timed_upload,
)

RUNNERS = ("threaded", "asyncio")
PROFILES = ("nonos17", "at22_8266", "at3_esp32")
#: ESP-AT's passive receive window (bytes the module holds for one link), which the emulator models.
WINDOW = 5760


@contextlib.contextmanager
def far_end(
    profile: str, baud: int, rtt: float = 0.0, ipd_log: str | None = None, refuse_passive: bool = False
) -> Iterator[str]:
    """An emulated module in a child process; yields its pty path. With `refuse_passive` it has no passive
    receive, so the driver uses active mode."""
    command = [sys.executable, "-m", "benchmarks.far_end", "--profile", profile, "--baud", str(baud)]
    command += ["--rtt", str(rtt)] + (["--ipd-log", ipd_log] if ipd_log else [])
    command += ["--refuse-passive"] if refuse_passive else []
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        path = child.stdout.readline().strip()
        if not path:
            raise RuntimeError(f"the far end did not start: {command}")
        yield path
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        child.stdout.close()


class PortTap:
    """A serial port that counts the bytes each way and passes everything through unchanged."""

    def __init__(self, port: serial.Serial) -> None:
        self._port = port
        self.read_bytes = 0
        self.written_bytes = 0

    def write(self, data: bytes) -> int | None:
        self.written_bytes += len(data)
        return self._port.write(data)

    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        self.read_bytes += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running in its own thread; `call` runs a coroutine on it and waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-asyncio", daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class AsyncSocketBridge:
    """The blocking calls the measurements make (`send`, `recv`, `sigio`, `close`) on an `AsyncTCPSocket`."""

    def __init__(self, loop: LoopThread, sock: AsyncTCPSocket) -> None:
        self._loop = loop
        self._sock = sock

    def send(self, data: Any) -> int:
        return self._loop.call(self._sock.send(data, 30))

    def recv(self, buffer: Any) -> int:
        return self._loop.call(self._sock.recv(buffer, 30))

    def sigio(self, callback: Callable[[], None]) -> None:
        """`callback` on the loop when the driver signals the socket, before the awaiting call is woken."""
        sock = self._sock
        tcp, wake = sock._tcp, sock._wake  # the runner's own sigio hook, observed

        def both() -> None:
            callback()
            wake()

        async def attach() -> None:
            tcp.sigio(both)

        self._loop.call(attach())

    def close(self) -> None:
        async def close() -> None:
            self._sock.close()

        self._loop.call(close())


class AsyncInterface:
    """`AsyncESP8266Interface` on a `LoopThread`, opening sockets the measurements can call from their thread."""

    def __init__(self, loop: LoopThread, iface: Any) -> None:
        self.loop = loop
        self.iface = iface

    def socket(self, port: int) -> AsyncSocketBridge:
        async def connect() -> AsyncTCPSocket:
            sock = AsyncTCPSocket()
            if sock.open(self.iface.get_stack()) != NsapiError.OK:
                raise RuntimeError("open failed")
            err = await sock.connect(SocketAddress("127.0.0.1", port), 30)
            if err != NsapiError.OK:
                sock.close()
                raise RuntimeError(f"connect failed: {err!r}")
            return sock

        return AsyncSocketBridge(self.loop, self.loop.call(connect()))


@contextlib.contextmanager
def esp_interface(path: str, baud: int, runner: str = "threaded", tap: list[PortTap] | None = None) -> Iterator[Any]:
    """Our driver on the module at `path`, joined to the emulated AP; with `tap`, the port is a `PortTap`
    (appended to the list). The asyncio runner gives an `AsyncInterface` (no tap)."""
    if runner == "asyncio":
        if tap is not None:
            raise ValueError("the asyncio runner is measured without a tap")
        with _async_interface(path, baud) as async_iface:
            yield async_iface
        return
    if runner != "threaded":
        raise ValueError(f"unknown runner {runner!r}")
    from netsocket.drivers.esp_at import ESP8266Interface

    port: Any = path
    opened = None
    if tap is not None:
        opened = serial.Serial(path, baud, timeout=0.05)
        port = PortTap(opened)
        tap.append(port)
    iface = ESP8266Interface(port, baud)
    try:
        err = iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
        if err != NsapiError.OK:
            raise RuntimeError(f"the driver did not join: {err!r}")
        yield iface
    finally:
        iface.close()
        if opened is not None:
            opened.close()


@contextlib.contextmanager
def _async_interface(path: str, baud: int) -> Iterator[AsyncInterface]:
    from netsocket.drivers.esp_at.aio_interface import AsyncESP8266Interface

    loop = LoopThread()
    try:

        async def join() -> Any:
            iface = AsyncESP8266Interface(path, baud)
            err = await iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
            if err != NsapiError.OK:
                await iface.aclose()
                raise RuntimeError(f"the driver did not join: {err!r}")
            return iface

        iface = loop.call(join())
        try:
            yield AsyncInterface(loop, iface)
        finally:
            loop.call(iface.aclose())
    finally:
        loop.close()


def _socket(iface: Any, port: int) -> Any:
    """A connected socket with netsocket's blocking calls: a `TCPSocket`, or an `AsyncSocketBridge` (asyncio)."""
    if isinstance(iface, AsyncInterface):
        return iface.socket(port)
    sock = TCPSocket()
    if sock.open(iface) != NsapiError.OK:
        raise RuntimeError("open failed")
    sock.set_timeout(30_000)
    err = sock.connect(SocketAddress("127.0.0.1", port))
    if err != NsapiError.OK:
        sock.close()
        raise RuntimeError(f"connect failed: {err!r}")
    return sock


def download(iface: Any, size: int, seed: int = 2, request: bool = False) -> Transfer:
    """A TCP download of `size` bytes; with `request` the socket first sends one line the server waits for."""
    holder: list[Any] = []

    def connect(port: int) -> None:
        holder.append(_socket(iface, port))
        if request and holder[0].send(b"GET\n") != 4:
            raise RuntimeError("request failed")

    buffer = bytearray(16384)

    def receive(_: int) -> bytes:
        count = holder[0].recv(buffer)
        if count < 0:
            raise RuntimeError(f"recv gave {NsapiError(count)!r}")
        return bytes(buffer[:count])

    try:
        return timed_download(size, seed, receive, connect, request)
    finally:
        for sock in holder:
            sock.close()


def upload(iface: Any, size: int, seed: int = 3) -> Transfer:
    holder: list[Any] = []

    def send(view: memoryview) -> int:
        count = holder[0].send(view[:65536])
        if count < 0:
            raise RuntimeError(f"send gave {NsapiError(count)!r}")
        return count

    try:
        return timed_upload(
            size, seed, send, lambda port: holder.append(_socket(iface, port)), lambda: holder[0].close()
        )
    finally:
        for sock in holder:
            sock.close()


def wire_accounting(baud: int, seconds: float, runs: int, profile: str = "at22_8266") -> dict[str, Any]:
    """Where the line's time goes in a passive-mode download: the payload's share of the bytes the module sent
    (the rest is AT framing: fetch replies' headers, OK, notices) and the share of time the line carried bytes at
    all (the rest is idle: the module waits for the next AT+CIPRECVDATA)."""
    size = max(4096, int(baud / 10 * seconds))
    taps: list[PortTap] = []
    payload_shares, busy_shares, fractions = [], [], []
    with far_end(profile, baud) as path, esp_interface(path, baud, tap=taps) as iface:
        for run in range(runs):
            before_read, before_written = taps[0].read_bytes, taps[0].written_bytes
            transfer = download(iface, size, seed=run + 2, request=True)
            line = taps[0].read_bytes - before_read
            payload_shares.append(transfer.size / line)
            busy_shares.append(line / (baud / 10 * transfer.seconds))
            fractions.append(transfer.rate / (baud / 10))
            requests = taps[0].written_bytes - before_written
    return {
        "profile": profile,
        "baud": baud,
        "fraction": median(fractions),
        "payload_share_of_line_bytes": median(payload_shares),
        "line_busy_share": median(busy_shares),
        "request_bytes_per_kb": requests / (size / 1024),
        "runs": runs,
    }


def window_bound(baud: int, rtt: float) -> float:
    """The highest fraction of the line rate a passive-mode download can reach: one window per round trip."""
    return 1.0 if rtt <= 0 else min(1.0, WINDOW / rtt / (baud / 10))


#: Bytes one AT+CIPSEND takes at most, by profile (what the driver sends in: its dialect's limit).
SEND_LIMITS = {"nonos17": 2048, "at22_8266": 2048, "at3_esp32": 8192}
#: The line bytes each AT+CIPSEND costs besides its payload, at the least: ``AT+CIPSEND=0,2048\r\n`` (19), the
#: ``>`` prompt (1), ``\r\nRecv 2048 bytes\r\n`` (19) and ``\r\nSEND OK\r\n`` (11). With one send outstanding they
#: cross one after another (the data waits for the prompt, the next command for SEND OK), so their time is the line's.
SEND_FRAMING = 50


def upload_bound(profile: str, baud: int, rtt: float) -> float:
    """The highest fraction of the line rate an upload can reach with one AT+CIPSEND outstanding: each carries at
    most the profile's limit and costs `SEND_FRAMING` bytes of line time more; on NonOS, SEND OK also waits for the
    server's ACK, one network round trip (ESP-AT answers on hand-over to its TCP stack)."""
    payload = SEND_LIMITS[profile]
    wire = (payload + SEND_FRAMING) / (baud / 10)
    wait = rtt if profile == "nonos17" else 0.0
    return payload / (baud / 10) / (wire + wait)


@dataclass
class Row:
    """The medians of several runs of one configuration."""

    runner: str
    profile: str
    baud: int
    rtt_ms: float
    receive: str
    direction: str
    fraction: float | None
    cpu_s_per_mb: float | None
    runs: int
    intact: bool
    bound: float | None = None
    note: str = ""


def throughput_rows(
    runner: str, profile: str, baud: int, rtt: float, receive: str, seconds: float, runs: int, upload_too: bool
) -> list[Row]:
    """Download (and upload) of about `seconds` worth of line rate, `runs` times each."""
    size = max(4096, int(baud / 10 * seconds))
    rtt_ms = rtt * 1000
    directions = ["download", "upload"] if upload_too else ["download"]
    with (
        far_end(profile, baud, rtt, refuse_passive=receive == "active") as path,
        esp_interface(path, baud, runner) as iface,
    ):
        results: dict[str, list[Transfer]] = {d: [] for d in directions}
        for run in range(runs):
            for direction in directions:
                if direction == "download":
                    transfer = download(iface, size, seed=run + 2, request=True)
                else:
                    transfer = upload(iface, size, seed=run + 2)
                results[direction].append(transfer)
    rows = []
    for direction, transfers in results.items():
        rows.append(
            Row(
                runner,
                profile,
                baud,
                rtt_ms,
                receive if direction == "download" else "-",
                direction,
                median([t.rate / (baud / 10) for t in transfers]),
                median([t.cpu_per_mb for t in transfers]),
                len(transfers),
                all(t.intact for t in transfers),
                bound=(window_bound(baud, rtt) if receive == "passive" else None)
                if direction == "download"
                else upload_bound(profile, baud, rtt),
            )
        )
    return rows


def latency(runner: str, samples: int, baud: int = 921600) -> dict[str, Any]:
    """From a ``+IPD`` (passive notice) leaving the emulator for the port to our sigio callback, and the 64-byte
    echo round trip, in milliseconds: median and 99th percentile."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "ipd.log")
        open(log, "w").close()
        with far_end("at22_8266", baud, 0.0, ipd_log=log) as path, esp_interface(path, baud, runner) as iface:
            server = EchoServer()
            sock = _socket(iface, server.port)
            sigio_times: list[float] = []
            sock.sigio(lambda: sigio_times.append(time.monotonic()))
            message, buffer, rtts = pattern(64, 7), bytearray(64), []
            sends: list[float] = []
            for _ in range(samples):
                started = time.perf_counter()
                sends.append(time.monotonic())
                if sock.send(message) != 64:
                    raise RuntimeError("echo send failed")
                got = 0
                while got < 64:
                    count = sock.recv(memoryview(buffer)[got:])
                    if count <= 0:
                        raise RuntimeError(f"echo recv gave {count}")
                    got += count
                rtts.append(time.perf_counter() - started)
            sock.close()
            server.close()
        with open(log) as file:
            ipd_times = [float(line) for line in file if line.strip()]
    delays = []
    for stamp in ipd_times:
        after = [t for t in sigio_times if t >= stamp]
        if after:
            delays.append(min(after) - stamp)
    hops = pty_hop(min(samples, 200))
    return {
        "runner": runner,
        "pty_hop_median_ms": median(hops) * 1000,
        "sigio_driver_median_ms": (median(delays) - median(hops)) * 1000,
        "sigio_median_ms": median(delays) * 1000,
        "sigio_p99_ms": percentile(delays, 0.99) * 1000,
        "sigio_samples": len(delays),
        "echo_median_ms": median(rtts) * 1000,
        "echo_p99_ms": percentile(rtts, 0.99) * 1000,
        "echo_samples": len(rtts),
        "baud": baud,
    }


def pty_hop(samples: int) -> list[float]:
    """Seconds from a write on a pty's master to a thread blocked in select() on its slave having read it: the
    part of the sigio latency that belongs to the kernel and the interpreter, not to the driver."""
    import select
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    woke: list[float] = []
    ready = threading.Event()

    def reader() -> None:
        for _ in range(samples):
            ready.set()
            select.select([slave], [], [], 5)
            os.read(slave, 64)
            woke.append(time.monotonic())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    hops = []
    try:
        for index in range(samples):
            ready.wait(5)
            ready.clear()
            time.sleep(0.0005)  # let the reader block in select() before the write, as the driver's thread would be
            written = time.monotonic()
            os.write(master, b"+IPD,0,64\r\n")
            while len(woke) <= index and thread.is_alive():
                time.sleep(0.0001)
            if len(woke) > index:
                hops.append(woke[index] - written)
    finally:
        thread.join(5)
        os.close(master)
        os.close(slave)
    return hops


def many_modules(runner: str, modules: int, size: int, baud: int = 921600) -> dict[str, Any]:
    """`modules` modules, each emulated in its own process on a pty, all downloading at once from a data source in
    another process: `benchmarks.many_modules`'s threaded and asyncio paths."""
    import hashlib

    from . import many_modules as scenario

    data = pattern(size, 11)
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    source = multiprocessing.get_context("spawn").Process(target=scenario._serve, args=(listener, data), daemon=True)
    source.start()
    try:
        with contextlib.ExitStack() as stack:
            paths = [stack.enter_context(far_end("at22_8266", baud)) for _ in range(modules)]
            measure = scenario.threaded if runner == "threaded" else scenario.on_asyncio
            run = measure(paths, int(listener.getsockname()[1]), size, baud, hashlib.sha256(data).digest())
    finally:
        source.terminate()
        source.join(10)
        listener.close()
    return {
        "runner": runner,
        "modules": modules,
        "fraction_each": sum(run.rates) / len(run.rates),
        "fraction_min": min(run.rates),
        "cpu_s_per_mb": run.cpu_seconds / run.megabytes,
        "threads": run.peak_threads,
        "intact": run.intact,
        "baud": baud,
    }


def memory(size: int, sockets: int = 5, baud: int = 3_000_000) -> dict[str, Any]:
    """Peak Python allocations (tracemalloc) of our process while `sockets` sockets download at once, and while a
    flood is not read (the module holds the rest: passive mode's backpressure). The test data is made before the
    measured interval and the application hashes what arrives, so the peak is the driver's."""
    data, flood_data = pattern(size, 11), pattern(size * 4, 5)
    with far_end("at22_8266", baud) as path, esp_interface(path, baud) as iface:
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            _, _, intact = parallel_downloads(lambda port: _socket(iface, port), sockets, data)
            busy_peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            flood = SourceServer(flood_data)
            sock = _socket(iface, flood.port)
            time.sleep(max(1.0, len(flood_data) / (baud / 10)))  # the measured interval: the application reads nothing
            flood_peak = tracemalloc.get_traced_memory()[1] - base
            sock.close()
            flood.close()
        finally:
            tracemalloc.stop()
    return {
        "esp_sockets": sockets,
        "esp_busy_peak_kb": busy_peak / 1024,
        "esp_flood_peak_kb": flood_peak / 1024,
        "esp_flood_bytes": len(flood_data),
        "esp_intact": intact,
    }
