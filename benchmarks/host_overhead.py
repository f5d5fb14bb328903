"""The socket layer's cost: netsocket over the host stack against a raw host socket, in one run on loopback.

Prints bulk TCP throughput and small-message round-trip time for both, and their ratios, so the figure does not
depend on how busy the machine is. Run: ``python -m benchmarks.host_overhead [--megabytes 50] [--round-trips 2000]``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence

from netsocket.drivers.host import HostInterface

from netsocket import NsapiError, SocketAddress, TCPSocket

CHUNK = 16 * 1024


class _Sink:
    """A loopback server that discards (bulk) or echoes (round trips) on each accepted connection."""

    def __init__(self, echo: bool) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.echo = echo
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(CHUNK):
                    if self.echo:
                        conn.sendall(data)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


def _raw_bulk(port: int, total: int) -> float:
    payload = bytes(CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        for _ in range(total // CHUNK):
            sock.sendall(payload)
        return time.perf_counter() - started


def _netsocket_bulk(net: HostInterface, port: int, total: int) -> float:
    payload = bytes(CHUNK)
    with TCPSocket() as sock:
        sock.open(net)
        assert sock.connect(SocketAddress("127.0.0.1", port)) == NsapiError.OK
        started = time.perf_counter()
        for _ in range(total // CHUNK):
            assert sock.send(payload) == CHUNK
        return time.perf_counter() - started


def _round_trips(send: Callable[[bytes], object], recv: Callable[[], object], count: int) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        send(b"ping")
        recv()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args(argv)
    total = args.megabytes * 1024 * 1024

    net = HostInterface()
    net.connect()
    sink, echo = _Sink(echo=False), _Sink(echo=True)
    try:
        raw_s = _raw_bulk(sink.port, total)
        ns_s = _netsocket_bulk(net, sink.port, total)
        with socket.create_connection(("127.0.0.1", echo.port)) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw_rtt = _round_trips(raw.sendall, lambda: raw.recv(16), args.round_trips)
        with TCPSocket() as sock:
            sock.open(net)
            assert sock.connect(SocketAddress("127.0.0.1", echo.port)) == NsapiError.OK
            buffer = bytearray(16)
            ns_rtt = _round_trips(sock.send, lambda: sock.recv(buffer), args.round_trips)
    finally:
        sink.close()
        echo.close()
        net.disconnect()

    mb = total / 1e6
    print(f"bulk send {args.megabytes} MiB: raw socket {mb / raw_s:8.1f} MB/s, netsocket {mb / ns_s:8.1f} MB/s, "
          f"ratio {raw_s / ns_s:.2f}")  # fmt: skip
    print(f"round trip (median of {args.round_trips}): raw {raw_rtt * 1e6:7.1f} us, netsocket {ns_rtt * 1e6:7.1f} us, "
          f"ratio {raw_rtt / ns_rtt:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
