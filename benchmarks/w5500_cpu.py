"""CPU the W5500 driver costs the host, idle and while sending, on the emulated chip.

Over a fixed wall-clock interval it measures the process's CPU time and takes out what is not the driver's: the
emulator's pump thread, the time spent inside the emulator's SPI frame handler (timed around every frame), and the
loopback sink server. What is left is the driver's own CPU (its service thread, the application's calls into
it, the SPI framing). SPI transactions per second are counted by the emulator.

    python -m benchmarks.w5500_cpu [--seconds 3] [--intn]

``--intn`` wires the emulator's INTn to the driver (otherwise the driver polls).
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from netsocket.drivers.w5500 import W5500Interface
from netsocket.mocks.w5500 import FakeSpiDev

from netsocket import NsapiError, SocketAddress, TCPSocket

_CLOCK_TICKS = 100.0


def thread_cpu(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc (0.0 where there is no /proc)."""
    if native_id is None:
        return 0.0
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class Sample:
    name: str
    seconds: float
    process_cpu: float
    emulator_cpu: float
    other_cpu: float
    frames: int
    payload: int = 0

    @property
    def driver_cpu(self) -> float:
        return max(0.0, self.process_cpu - self.emulator_cpu - self.other_cpu)

    def line(self) -> str:
        rate = ""
        if self.payload:
            per_mb = self.driver_cpu / (self.payload / 1e6) * 1000
            rate = f"  {self.payload / self.seconds / 1e6:6.2f} MB/s  driver {per_mb:6.1f} ms CPU per MB"
        return (
            f"{self.name:<8} driver {self.driver_cpu / self.seconds * 100:6.2f} % CPU   "
            f"emulator {self.emulator_cpu / self.seconds * 100:6.2f} %   "
            f"process {self.process_cpu / self.seconds * 100:6.2f} %   "
            f"{self.frames / self.seconds:9.0f} SPI transactions/s{rate}"
        )


class EmulatorMeter:
    """Times the emulator's frame handler (in whichever thread clocks the bus) and its pump thread."""

    def __init__(self, fake: FakeSpiDev) -> None:
        self.inside = 0.0
        self._lock = threading.Lock()
        emulator = fake.emulator
        original = emulator.transfer

        def timed(frame: bytes) -> bytes:
            start = time.thread_time()
            try:
                return original(frame)
            finally:
                spent = time.thread_time() - start
                with self._lock:
                    self.inside += spent

        emulator.transfer = timed  # type: ignore[method-assign]
        pump = getattr(emulator, "_thread", None)
        self._pump_id = pump.native_id if pump is not None else None

    def total(self) -> float:
        return self.inside + thread_cpu(self._pump_id)


def _sink(server: socket.socket, stop: threading.Event, ids: list[int | None]) -> None:
    ids.append(threading.get_native_id())
    conn, _ = server.accept()
    conn.settimeout(0.2)
    with conn:
        while not stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return


def measure(seconds: float, intn: bool) -> list[Sample]:
    fake = FakeSpiDev()
    iface = W5500Interface(fake, interrupt=fake if intn else None)
    iface.set_network(SocketAddress("192.168.77.50"), SocketAddress("255.255.255.0"), SocketAddress("192.168.77.1"))
    samples: list[Sample] = []
    try:
        if iface.connect() != NsapiError.OK:
            raise RuntimeError("the emulated W5500 did not come up")
        meter = EmulatorMeter(fake)
        time.sleep(0.5)  # let the link settle before the idle interval

        fake.stats.reset()
        cpu0, emu0 = time.process_time(), meter.total()
        time.sleep(seconds)
        samples.append(
            Sample("idle", seconds, time.process_time() - cpu0, meter.total() - emu0, 0.0, fake.stats.frames)
        )

        server = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()
        ids: list[int | None] = []
        sink = threading.Thread(target=_sink, args=(server, stop, ids), daemon=True)
        sink.start()
        sock = TCPSocket()
        sock.open(iface)
        sock.set_timeout(5000)
        if sock.connect(SocketAddress("127.0.0.1", server.getsockname()[1])) != NsapiError.OK:
            raise RuntimeError("connect to the sink failed")
        chunk = bytes(16384)
        fake.stats.reset()
        cpu0, emu0, sink0 = time.process_time(), meter.total(), thread_cpu(ids[0] if ids else None)
        start, payload = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            result = sock.send(chunk)
            if result < 0:
                raise RuntimeError(f"send failed: {NsapiError(result)!s}")
            payload += result
        elapsed = time.monotonic() - start
        sink_cpu = thread_cpu(ids[0] if ids else None) - sink0
        samples.append(
            Sample(
                "sending",
                elapsed,
                time.process_time() - cpu0,
                meter.total() - emu0,
                sink_cpu,
                fake.stats.frames,
                payload,
            )
        )
        sock.close()
        stop.set()
        sink.join(2.0)
        server.close()
        samples.append(_blocked_send(iface, fake, meter, seconds))
    finally:
        iface.close()
        fake.close()
    return samples


def _blocked_send(iface: W5500Interface, fake: FakeSpiDev, meter: EmulatorMeter, seconds: float) -> Sample:
    """A send blocked on a peer that reads nothing (the chip's TX buffer and the peer's window full)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        sock = TCPSocket()
        sock.open(iface)
        sock.set_timeout(int(seconds * 1000))
        if sock.connect(SocketAddress("127.0.0.1", server.getsockname()[1])) != NsapiError.OK:
            raise RuntimeError("connect to the stalled peer failed")
        peer, _ = server.accept()
        with peer:
            sock.send(bytes(8 << 20))  # fills every buffer on the way, then waits for the peer
            fake.stats.reset()
            cpu0, emu0 = time.process_time(), meter.total()
            start = time.monotonic()
            sock.send(bytes(1 << 20))  # blocked for the whole timeout
            elapsed = time.monotonic() - start
            sample = Sample(
                "blocked", elapsed, time.process_time() - cpu0, meter.total() - emu0, 0.0, fake.stats.frames
            )
        sock.close()
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--intn", action="store_true", help="wire INTn (default: the driver polls)")
    args = parser.parse_args(argv)
    print(f"W5500 driver CPU over {args.seconds:g} s, {'INTn wired' if args.intn else 'polling'}")
    for sample in measure(args.seconds, args.intn):
        print(sample.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
