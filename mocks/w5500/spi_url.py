"""The ``w5500emu://`` SPI URL, and an emulated W5500 served to other processes over TCP on loopback.

Layer: I/O adapter. ``w5500emu://`` is a `FakeSpiDev` in this process (a powered chip on the default emulated
LAN); ``w5500emu://127.0.0.1:PORT`` reaches the chip of ``netsocket emulate w5500`` (`SpiServer`), where each SPI
transfer travels as one frame: a 4-byte big-endian length, then the bytes clocked out; the reply is the bytes
clocked in, framed the same way. One transfer is one chip-select frame at both ends, as on a real bus. The remote
form has no interrupt line: the driver polls. The W5500 driver finds this module through the entry-point group
``netsocket.spi_url_handlers``; it never imports it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from .fake_spidev import FakeSpiDev

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 20


def open_spi_url(url: str) -> FakeSpiDev | RemoteSpiDev:
    """The bus a ``w5500emu://`` URL names (``ValueError`` for anything else)."""
    parts = urlsplit(url)
    if parts.scheme != "w5500emu":
        raise ValueError(f"not a w5500emu:// URL: {url!r}")
    if parts.query:
        raise ValueError(f"w5500emu:// takes no parameters (got {parts.query!r})")
    if not parts.netloc:
        return FakeSpiDev()
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"w5500emu://HOST:PORT needs a host and a port: {url!r}")
    return RemoteSpiDev(parts.hostname, parts.port)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the emulated W5500's server closed the connection")
        data += chunk
    return bytes(data)


class RemoteSpiDev:
    """A client of `SpiServer` with the ``xfer2`` surface of spidev."""

    max_transfer = 4096

    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port), timeout=5.0)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._lock = threading.Lock()

    def xfer2(self, values: Sequence[int] | bytes, *_args: int) -> list[int]:
        data = bytes(values)
        with self._lock:
            self._sock.sendall(_HEADER.pack(len(data)) + data)
            (size,) = _HEADER.unpack(_recv_exact(self._sock, _HEADER.size))
            return list(_recv_exact(self._sock, size))

    def close(self) -> None:
        self._sock.close()


class SpiServer:
    """One emulated W5500 served on a loopback TCP port, to one client at a time (like one chip on one bus)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, device: FakeSpiDev | None = None) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("the emulated W5500 is served on a loopback address only")
        self.device = device if device is not None else FakeSpiDev()
        self._server = socket.create_server((host, port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="w5500emu-server", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"w5500emu://{host}:{port}"

    def start(self) -> SpiServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        self.device.close()

    def __enter__(self) -> SpiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with client:
                self._handle(client)

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(0.2)
        while not self._stop.is_set():
            try:
                header = client.recv(_HEADER.size, socket.MSG_PEEK)
                if not header:
                    return
                if len(header) < _HEADER.size:
                    continue
                (size,) = _HEADER.unpack(_recv_exact(client, _HEADER.size))
                if size > MAX_FRAME:
                    return
                frame = _recv_exact(client, size)
            except TimeoutError:
                continue
            except (OSError, ConnectionError):
                return
            reply = bytes(self.device.xfer2(frame)) if len(frame) <= self.device.bufsiz else b"\xff" * len(frame)
            try:
                client.sendall(_HEADER.pack(len(reply)) + reply)
            except OSError:
                return
