"""Shared pieces of the benchmarks: test data, loopback servers, CPU clocks per thread, medians.

Servers bind 127.0.0.1 only. Their threads' CPU time is measured apart (`thread_cpu`), so a figure of "driver
CPU" is the process's CPU minus the servers' and never includes the far end of the transfer.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def pattern(size: int, seed: int = 1) -> bytes:
    """Reproducible incompressible data."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest() * 64
        counter += 1
    return bytes(out[:size])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return float(ordered[rank])


def thread_cpu(native_id: int | None) -> float:
    """CPU seconds one thread of this process has used (Linux schedstat; 0.0 where it cannot be read)."""
    if native_id is None:
        return 0.0
    try:
        with open(f"/proc/self/task/{native_id}/schedstat") as file:
            return int(file.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class _Server:
    """A one-connection loopback server whose thread's CPU time can be read."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.done = threading.Event()
        self._cpu = 0.0
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def cpu(self) -> float:
        """CPU seconds of the server thread (final once `done` is set)."""
        return self._cpu if self.done.is_set() else thread_cpu(self.thread.native_id)

    def _main(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            self.done.set()
            return
        try:
            with conn:
                self.serve(conn)
        except OSError:
            pass
        finally:
            self._cpu = thread_cpu(threading.get_native_id())
            self.done.set()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()


class SourceServer(_Server):
    """Sends `data` to the client, then closes; with `request`, only after the client sent something (as an HTTP
    server does: a driver that reads its connect reply byte by byte may otherwise swallow the first data)."""

    def __init__(self, data: bytes, request: bool = False) -> None:
        self.data = data
        self.request = request
        self.started_at = 0.0
        super().__init__()

    #: Server think time after a request (a driver that reads SEND OK by polling must see it before the reply).
    REPLY_DELAY = 0.01

    def serve(self, conn: socket.socket) -> None:
        if self.request:
            if not conn.recv(4096):
                return
            threading.Event().wait(self.REPLY_DELAY)
        self.started_at = time.perf_counter()
        conn.sendall(self.data)


class SinkServer(_Server):
    """Hashes everything the client sends until it closes."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.received = 0
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            self.digest.update(chunk)
            self.received += len(chunk)


class EchoServer(_Server):
    """Echoes everything back until the client closes."""

    def serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while chunk := conn.recv(65536):
            conn.sendall(chunk)


@dataclass
class Transfer:
    """One transfer: payload bytes, wall seconds, the driver side's CPU seconds, and whether SHA-256 matched."""

    direction: str
    size: int
    seconds: float
    cpu: float
    intact: bool

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_mb(self) -> float:
        return self.cpu / (self.size / 1e6) if self.size else float("nan")


def timed_download(
    size: int,
    seed: int,
    receive: Callable[[int], bytes | bytearray],
    connect: Callable[[int], None],
    request: bool = False,
) -> Transfer:
    """A download of `size` bytes: `connect(port)`, then `receive(n)` until all arrived (b"" ends early). With
    `request` the server waits for the client's first bytes (`connect` sends them) and the clock starts then."""
    data = pattern(size, seed)
    server = SourceServer(data, request)
    try:
        connect(server.port)
        got = bytearray()
        cpu0, t0 = time.process_time(), time.perf_counter()
        while len(got) < size:
            chunk = receive(size - len(got))
            if not chunk:
                break
            got += chunk
        end, cpu = time.perf_counter(), time.process_time() - cpu0
        server.done.wait(10)
        seconds = end - (server.started_at if request else t0)  # with a request: from the reply's first byte
        cpu -= server.cpu
        intact = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        return Transfer("download", len(got), seconds, cpu, intact)
    finally:
        server.close()


def timed_upload(
    size: int, seed: int, send: Callable[[memoryview], int], connect: Callable[[int], None], finish: Callable[[], None]
) -> Transfer:
    """An upload of `size` bytes: `connect(port)`, `send(view) -> bytes taken` until all is sent, `finish()`
    (close), then wait until the server has everything."""
    data = pattern(size, seed)
    server = SinkServer()
    try:
        connect(server.port)
        view = memoryview(data)
        sent = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        while sent < size:
            taken = send(view[sent:])
            if taken <= 0:
                break
            sent += taken
        finish()
        server.done.wait(60)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        cpu -= server.cpu
        intact = server.received == size and server.digest.digest() == hashlib.sha256(data).digest()
        return Transfer("upload", server.received, seconds, cpu, intact)
    finally:
        server.close()


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    import platform

    model = ""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_start": list(os.getloadavg()),
    }


def parallel_downloads(connect: Callable[[int], Any], count: int, data: bytes) -> tuple[float, float, bool]:
    """`count` sockets (`connect(port)` opens one; it has netsocket's ``recv(buffer)`` and ``close()``) each
    download `data` at once, hashed as it arrives (no copy kept). Returns wall seconds, CPU seconds without the
    servers', and whether every copy arrived intact."""
    servers = [SourceServer(data) for _ in range(count)]
    socks = [connect(server.port) for server in servers]
    expected = hashlib.sha256(data).digest()
    intact = [False] * count

    def reader(index: int) -> None:
        digest, got, buffer = hashlib.sha256(), 0, bytearray(16384)
        view = memoryview(buffer)
        while got < len(data):
            received = socks[index].recv(buffer)
            if received <= 0:
                break
            digest.update(view[:received])
            got += received
        intact[index] = got == len(data) and digest.digest() == expected

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(count)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    cpu -= sum(server.cpu for server in servers)
    for sock in socks:
        sock.close()
    for server in servers:
        server.close()
    return seconds, cpu, all(intact)
