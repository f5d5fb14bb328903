"""SPI efficiency of the W5500 driver: bus bytes per payload byte and SPI transactions per KB, bulk TCP send and
receive, measured with the emulator's bus counters (every frame and byte clocked, headers included).

The floor for bus bytes per payload byte is ``1 + 3/L``: every payload byte is clocked once, plus the 3-byte
header of each data frame of ``L`` bytes; everything above it is register traffic (pointers, commands, status
polls). ``L`` is the largest data frame the configuration allows: min(socket buffer, spidev bufsiz - 3).

    python -m benchmarks.w5500_spi_efficiency [--megabytes 4] [--spi-hz 20000000]

With ``--spi-hz`` the emulator models the bus clock (bytes take 8/f seconds each), so the MB/s column estimates
what a host with that SPI clock would see, transaction overheads of the host's SPI driver excepted.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from dataclasses import dataclass

from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiError, SocketAddress, TCPSocket

BUFSIZ = 4096


@dataclass
class Result:
    direction: str
    buffer_kb: int
    payload: int
    bus_bytes: int
    frames: int
    seconds: float

    @property
    def frame_limit(self) -> int:
        return min(self.buffer_kb * 1024, BUFSIZ - 3)

    @property
    def bytes_per_payload_byte(self) -> float:
        return self.bus_bytes / self.payload

    @property
    def floor(self) -> float:
        return 1 + 3 / self.frame_limit

    @property
    def transactions_per_kb(self) -> float:
        return self.frames / (self.payload / 1024)

    def line(self) -> str:
        over = (self.bytes_per_payload_byte - self.floor) / self.floor * 100
        return (
            f"{self.direction:<8} {self.buffer_kb:>3} KB  {self.bytes_per_payload_byte:8.4f}  "
            f"{self.floor:8.4f}  {over:7.2f} %  {self.transactions_per_kb:8.2f}  "
            f"{self.payload / self.seconds / 1e6:7.2f}"
        )


def _serve(listener: socket.socket, direction: str, size: int, done: threading.Event) -> None:
    conn, _ = listener.accept()
    with conn:
        if direction == "send":  # the stack sends: drain
            remaining = size
            while remaining > 0:
                data = conn.recv(65536)
                if not data:
                    break
                remaining -= len(data)
        else:  # the stack receives: source
            block = bytes(65536)
            remaining = size
            while remaining > 0:
                conn.sendall(block[: min(remaining, len(block))])
                remaining -= min(remaining, len(block))
    done.set()


def measure(direction: str, megabytes: float, buffer_kb: int, spi_hz: float | None = None) -> Result:
    size = int(megabytes * 1024 * 1024)
    tx = [buffer_kb] + [2 if buffer_kb <= 2 else 0] * 7
    with FakeSpiDev(bufsiz=BUFSIZ, spi_hz=spi_hz) as fake, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        done = threading.Event()
        server = threading.Thread(target=_serve, args=(listener, direction, size, done), daemon=True)
        server.start()
        interface = W5500Interface(fake, tx_buffer_kb=tx, rx_buffer_kb=tx)
        interface.set_network(
            SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1")
        )
        try:
            if interface.connect() != NsapiError.OK:
                raise RuntimeError("the emulated W5500 did not come up")
            sock = TCPSocket()
            sock.open(interface)
            sock.set_timeout(60_000)
            if sock.connect(SocketAddress(*listener.getsockname())) != NsapiError.OK:
                raise RuntimeError("connect failed")
            fake.stats.reset()
            started = time.perf_counter()
            if direction == "send":
                block = bytes(65536)
                sent = 0
                while sent < size:
                    result = sock.send(block[: min(len(block), size - sent)])
                    if result <= 0:
                        raise RuntimeError(f"send gave {result}")
                    sent += result
            else:
                buffer = bytearray(65536)
                got = 0
                while got < size:
                    result = sock.recv(buffer)
                    if result <= 0:
                        raise RuntimeError(f"recv gave {result}")
                    got += result
            seconds = time.perf_counter() - started
            frames, bus_bytes = fake.stats.frames, fake.stats.bytes
            sock.close()
            done.wait(30)
        finally:
            interface.close()
    return Result(direction, buffer_kb, size, bus_bytes, frames, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=4.0, help="payload per run (default 4)")
    parser.add_argument("--spi-hz", type=float, default=None, help="model this SPI clock (default: no bus model)")
    args = parser.parse_args(argv)
    clock = f"SPI at {args.spi_hz / 1e6:g} MHz" if args.spi_hz else "no bus clock"
    print(f"direction  buffer  bus B/payload B    floor   over floor  SPI xfers/KB  MB/s (emulated, {clock})")
    for buffer_kb in (2, 16):
        for direction in ("send", "receive"):
            print(measure(direction, args.megabytes, buffer_kb, args.spi_hz).line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
