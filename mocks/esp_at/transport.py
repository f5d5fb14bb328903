"""The host-facing byte pipes an emulator runs on: one end of a socket pair, a pty master, an accepted TCP
socket.

Layer: I/O adapter. Non-blocking reads and writes only; `read` returns None when nothing is waiting and b""
when the host side is gone.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Protocol


class Transport(Protocol):
    def fileno(self) -> int: ...

    def read(self, size: int) -> bytes | None: ...

    def write(self, data: bytes) -> int: ...

    def close(self) -> None: ...


class SocketTransport:
    """A connected stream socket (a socketpair end or an accepted TCP client)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self, size: int) -> bytes | None:
        try:
            return self._sock.recv(size)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def write(self, data: bytes) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        self._sock.close()


class FdTransport:
    """A pty master. The caller keeps the slave open, so reads never see EIO for lack of a reader."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self._fd

    def read(self, size: int) -> bytes | None:
        try:
            return os.read(self._fd, size)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno == errno.EIO:
                return None
            return b""

    def write(self, data: bytes) -> int:
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self._fd)
