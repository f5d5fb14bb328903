"""``netsocket bench``: the quick form of ``benchmarks/``: download and upload through the interface, as rates and
as a fraction of what the link can carry (a UART moves baud/10 bytes a second).

Layer: application. The peer is a TCP server this command starts on 127.0.0.1 (the emulators reach it; a real
module reaches it with ``--server-host``/``--server-bind`` on a LAN address). SHA-256 checks that every byte arrived.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.socket import TCPSocket

from .device import Target, fail
from .diagnose import UserError


def register(sub: Any, add_device: Callable[[argparse.ArgumentParser], None], add_join: Callable[..., None]) -> None:
    p = sub.add_parser("bench", help="quick throughput: download and upload through the interface")
    p.add_argument("--size", type=int, default=32 * 1024, help="bytes each way (default 32 KiB)")
    p.add_argument("--server-bind", default="127.0.0.1", help="where the peer listens (default 127.0.0.1)")
    p.add_argument("--server-host", default=None, help="the address the device reaches the peer at")
    add_device(p)
    add_join(p)
    p.set_defaults(handler=cmd_bench)


class _Peer:
    """A TCP server for one download (it sends ``payload``) and one upload (it hashes what it receives)."""

    def __init__(self, bind: str, payload: bytes) -> None:
        self.payload = payload
        self.received = hashlib.sha256()
        self.received_size = 0
        self.done = threading.Event()
        self._server = socket.create_server((bind, 0))
        self._server.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="bench-peer", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.getsockname()[1])

    def _serve(self) -> None:
        served = 0
        while not self._stop.is_set() and served < 2:
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(60)
                try:
                    mode = conn.recv(1)
                    if mode == b"D":
                        conn.sendall(self.payload)
                    elif mode == b"U":
                        while chunk := conn.recv(65536):
                            self.received.update(chunk)
                            self.received_size += len(chunk)
                        self.done.set()
                except OSError:
                    pass
            served += 1

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)


def _connect(net: NetworkInterface, target: Target, address: SocketAddress) -> TCPSocket:
    sock = TCPSocket()
    sock.open(net)
    sock.set_timeout(30_000)
    err = sock.connect(address)
    if err != NsapiError.OK:
        sock.close()
        raise fail(f"cannot connect to the benchmark peer at {address}", err, target)
    return sock


def download(net: NetworkInterface, target: Target, address: SocketAddress, size: int) -> tuple[float, bytes]:
    digest = hashlib.sha256()
    with _connect(net, target, address) as sock:
        sock.send(b"D")
        started = time.monotonic()
        buffer = bytearray(4096)
        got = 0
        while got < size:
            n = sock.recv(buffer)
            if n <= 0:
                raise fail(f"the download stopped after {got} of {size} bytes", n or NsapiError.CONNECTION_LOST, target)
            digest.update(buffer[:n])
            got += n
        return time.monotonic() - started, digest.digest()


def upload(net: NetworkInterface, target: Target, address: SocketAddress, payload: bytes, peer: _Peer) -> float:
    with _connect(net, target, address) as sock:
        sock.send(b"U")
        started = time.monotonic()
        view = memoryview(payload)
        while view:
            n = sock.send(view[:4096])
            if n < 0:
                raise fail("the upload failed", n, target)
            view = view[n:]
    if not peer.done.wait(60):
        raise UserError("the benchmark peer did not receive the whole upload", NsapiError.CONNECTION_TIMEOUT)
    return time.monotonic() - started


def cmd_bench(args: argparse.Namespace) -> int:
    from .commands import connected

    if not 0 < args.size <= 64 * 1024 * 1024:
        raise UserError("--size must be 1 byte to 64 MiB", NsapiError.PARAMETER)
    console = Console()
    payload = os.urandom(args.size)
    peer = _Peer(args.server_bind, payload)
    try:
        with connected(args, console) as (net, target):
            address = SocketAddress(args.server_host or args.server_bind, peer.port)
            down_s, down_digest = download(net, target, address, args.size)
            up_s = upload(net, target, address, payload, peer)
    finally:
        peer.close()
    if down_digest != hashlib.sha256(payload).digest() or peer.received.digest() != hashlib.sha256(payload).digest():
        raise UserError("bytes were lost or changed on the way (SHA-256 differs)", NsapiError.CONNECTION_LOST)
    line_rate = target.baudrate / 10 if target.is_serial else None
    table = Table(title=f"{args.size} bytes each way through {target.shown}")
    for column in ("direction", "seconds", "KiB/s", "of line rate"):
        table.add_column(column, justify="right")
    for name, seconds in (("download", down_s), ("upload", up_s)):
        rate = args.size / max(seconds, 1e-9)
        share = f"{rate / line_rate:.0%}" if line_rate else "-"
        table.add_row(name, f"{seconds:.2f}", f"{rate / 1024:.1f}", share)
    console.print(table)
    return 0
