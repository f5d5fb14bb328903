"""ESP-AT driver throughput: a TCP download and a TCP upload through the emulated module at a throttled baud rate.

Prints bytes/s of each direction and its fraction of the line rate (baud/10 bytes/s), and checks SHA-256 of the
data at the far end. Runs against the built-in emulator by default (``--port`` for a real module; the servers
then must be reachable from its network, which this script does not arrange).

    python -m benchmarks.esp_throughput --size 5000000 --baud 921600 --profile at22_8266
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket


@dataclass
class Result:
    direction: str
    size: int
    seconds: float
    intact: bool

    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else 0.0


def pattern(size: int, seed: int = 1) -> bytes:
    """Reproducible incompressible data."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest() * 64
        counter += 1
    return bytes(out[:size])


class SourceServer:
    """Sends ``data`` to each client, then closes (127.0.0.1 only)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.sendall(self.data)

    def close(self) -> None:
        self.sock.close()


class SinkServer:
    """Hashes everything a client sends until it closes (127.0.0.1 only)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.digest = hashlib.sha256()
        self.received = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            while chunk := conn.recv(65536):
                self.digest.update(chunk)
                self.received += len(chunk)
        self.done.set()

    def close(self) -> None:
        self.sock.close()


def download(iface: object, size: int) -> Result:
    data = pattern(size, seed=2)
    server = SourceServer(data)
    sock = TCPSocket()
    try:
        assert sock.open(iface) == NsapiError.OK  # type: ignore[arg-type]
        sock.set_timeout(20_000)
        assert sock.connect(SocketAddress("127.0.0.1", server.port)) == NsapiError.OK
        digest = hashlib.sha256()
        got = 0
        buffer = bytearray(16384)
        start = time.monotonic()
        while True:
            result = sock.recv(buffer)
            if result == 0:
                break
            if result < 0:
                raise RuntimeError(f"download: recv gave {NsapiError(result)} after {got} bytes")
            digest.update(memoryview(buffer)[:result])
            got += result
        seconds = time.monotonic() - start
        return Result("download", got, seconds, got == size and digest.digest() == hashlib.sha256(data).digest())
    finally:
        sock.close()
        server.close()


def upload(iface: object, size: int) -> Result:
    data = pattern(size, seed=3)
    server = SinkServer()
    sock = TCPSocket()
    try:
        assert sock.open(iface) == NsapiError.OK  # type: ignore[arg-type]
        sock.set_timeout(20_000)
        assert sock.connect(SocketAddress("127.0.0.1", server.port)) == NsapiError.OK
        start = time.monotonic()
        view = memoryview(data)
        sent = 0
        while sent < size:
            result = sock.send(view[sent : sent + 65536])
            if result <= 0:
                raise RuntimeError(f"upload: send gave {NsapiError(result)} after {sent} bytes")
            sent += result
        sock.close()
        server.done.wait(60)
        seconds = time.monotonic() - start
        intact = server.received == size and server.digest.digest() == hashlib.sha256(data).digest()
        return Result("upload", server.received, seconds, intact)
    finally:
        if sock.is_open:
            sock.close()
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", default="at22_8266")
    parser.add_argument("--baud", type=int, default=921600)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--port", default=None, help="a real module's serial port (default: the emulator)")
    args = parser.parse_args(argv)

    from netsocket.drivers.esp_at import ESP8266Interface

    port = args.port or f"espemu://?profile={args.profile}&baud={args.baud}&timescale=0.01&name=bench-{os.getpid()}"
    iface = ESP8266Interface(port, args.baud)
    try:
        err = iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2)
        if err != NsapiError.OK:
            print(f"connect failed: {err}")
            return 1
        line_rate = args.baud / 10
        ok = True
        for run in (download, upload):
            result = run(iface, args.size)
            ok = ok and result.intact
            print(
                f"{args.profile} {result.direction}: {result.size} bytes in {result.seconds:.2f} s = "
                f"{result.rate():.0f} B/s = {result.rate() / line_rate:.3f} of baud/10 "
                f"({'SHA-256 ok' if result.intact else 'DATA DAMAGED'})"
            )
        return 0 if ok else 1
    finally:
        iface.close()


if __name__ == "__main__":
    raise SystemExit(main())
