"""Many ESP-AT modules per host: N emulated modules (each in its own process, on its own pseudo-terminal, paced at
the baud rate) download at once, through the threaded runner and then through the asyncio runner.

For each runner: each module's payload rate as a fraction of its line rate (baud/10 bytes/s), the host process's
CPU time per MB (the emulators and the data source run in other processes and are not counted), the peak thread
count of the host process, and whether every download was intact (SHA-256).

    python -m benchmarks.many_modules --modules 8 --baud 921600 --size 300000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.esp_throughput import pattern
from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"


@dataclass
class Run:
    runner: str
    rates: list[float]
    cpu_seconds: float
    megabytes: float
    peak_threads: int
    intact: bool


def _serve(listener: socket.socket, data: bytes) -> None:
    """The data source (another process): every client gets ``data``, then the end of the stream."""
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_send_all, args=(conn, data), daemon=True).start()


def _send_all(conn: socket.socket, data: bytes) -> None:
    with conn:
        conn.sendall(data)


@contextmanager
def modules(count: int, profile: str, baud: int) -> Iterator[list[str]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "netsocket.mocks.esp_at", "--pty", "--profile", profile, "--baud", str(baud)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        for _ in range(count)
    ]
    try:
        paths = []
        for process in processes:
            assert process.stdout is not None
            paths.append(process.stdout.readline().strip())
        yield paths
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


class RateClock:
    """Bytes per second from the first read to the last, the first read's bytes left out (they may have waited in
    the driver's buffer while the other modules connected)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.bytes = 0

    def took(self, size: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        else:
            self.bytes += size
        self.last = now

    def rate(self) -> float:
        span = self.last - (self.first or self.last)
        return self.bytes / span if span > 0 else 0.0


def threaded(paths: Sequence[str], port: int, size: int, baud: int, digest: bytes) -> Run:
    from netsocket.drivers.esp_at import ESP8266Interface

    ifaces = [ESP8266Interface(path, baud) for path in paths]
    for iface in ifaces:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
    rates: list[float] = [0.0] * len(ifaces)
    intact: list[bool] = [False] * len(ifaces)
    peak = threading.active_count()
    go = threading.Barrier(len(ifaces) + 1)

    def download(index: int) -> None:
        sock = TCPSocket()
        assert sock.open(ifaces[index]) == NsapiError.OK
        sock.set_timeout(30_000)
        assert sock.connect(SocketAddress("127.0.0.1", port)) == NsapiError.OK
        go.wait()
        hasher, got, buffer = hashlib.sha256(), 0, bytearray(16384)
        clock = RateClock()
        while (result := sock.recv(buffer)) > 0:
            clock.took(result)
            hasher.update(memoryview(buffer)[:result])
            got += result
        rates[index] = clock.rate() / (baud / 10)
        intact[index] = got == size and hasher.digest() == digest
        sock.close()

    workers = [threading.Thread(target=download, args=(i,)) for i in range(len(ifaces))]
    for worker in workers:
        worker.start()
    go.wait()
    cpu = time.process_time()
    while any(worker.is_alive() for worker in workers):
        peak = max(peak, threading.active_count())
        time.sleep(0.05)
    cpu = time.process_time() - cpu
    for iface in ifaces:
        iface.close()
    return Run("threaded", rates, cpu, size * len(ifaces) / 1e6, peak, all(intact))


def on_asyncio(paths: Sequence[str], port: int, size: int, baud: int, digest: bytes) -> Run:
    from netsocket.drivers.esp_at.aio_interface import AsyncESP8266Interface

    from netsocket import aio

    async def main() -> Run:
        ifaces = [AsyncESP8266Interface(path, baud) for path in paths]
        joined = await asyncio.gather(*(i.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) for i in ifaces))
        assert all(err == NsapiError.OK for err in joined), joined
        streams = [await aio.open_connection("127.0.0.1", port, stack=i, timeout=30) for i in ifaces]
        peak = threading.active_count()

        async def download(reader: asyncio.StreamReader) -> tuple[float, bool]:
            hasher, got = hashlib.sha256(), 0
            clock = RateClock()
            while data := await reader.read(16384):
                clock.took(len(data))
                hasher.update(data)
                got += len(data)
            return clock.rate() / (baud / 10), got == size and hasher.digest() == digest

        cpu = time.process_time()
        results = await asyncio.gather(*(download(reader) for reader, _writer in streams))
        cpu = time.process_time() - cpu
        peak = max(peak, threading.active_count())
        for _reader, writer in streams:
            writer.close()
        for iface in ifaces:
            await iface.aclose()
        return Run("asyncio", [r for r, _ in results], cpu, size * len(ifaces) / 1e6, peak, all(i for _, i in results))

    return asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--profile", default="at22_8266")
    parser.add_argument("--baud", type=int, default=921600)
    parser.add_argument("--size", type=int, default=300_000, help="bytes each module downloads")
    parser.add_argument("--runners", default="threaded,asyncio")
    args = parser.parse_args(argv)
    data = pattern(args.size, seed=3)
    digest = hashlib.sha256(data).digest()
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    source = multiprocessing.get_context("spawn").Process(target=_serve, args=(listener, data), daemon=True)
    source.start()
    port = int(listener.getsockname()[1])
    runs = []
    try:
        for runner in args.runners.split(","):
            with modules(args.modules, args.profile, args.baud) as paths:
                run = (threaded if runner == "threaded" else on_asyncio)(paths, port, args.size, args.baud, digest)
            runs.append(run)
    finally:
        source.terminate()
        listener.close()
    print(f"{args.modules} modules, {args.profile}, {args.baud} baud, {args.size} bytes each, downloading at once")
    print(f"{'runner':<10} {'min':>6} {'mean':>6} {'max':>6}  {'CPU s/MB':>8}  {'threads':>7}  intact")
    for run in runs:
        mean = sum(run.rates) / len(run.rates)
        print(
            f"{run.runner:<10} {min(run.rates):6.3f} {mean:6.3f} {max(run.rates):6.3f}  "
            f"{run.cpu_seconds / run.megabytes:8.3f}  {run.peak_threads:>7}  {run.intact}"
        )
        print(f"{'':<10} per module: " + " ".join(f"{rate:.3f}" for rate in run.rates))
    return 0 if all(run.intact for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
