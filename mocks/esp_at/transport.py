"""The host-facing byte pipes an emulator runs on: one end of a socket pair, a pty master, an accepted TCP
socket.

Layer: I/O adapter. Non-blocking reads and writes only; `read` returns None when nothing is waiting and b""
when the host side is gone.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import termios
from typing import Protocol

#: termios speed constants (``termios.B9600`` ...) to baud rates.
_SPEEDS = {getattr(termios, name): int(name[1:]) for name in dir(termios) if name[:1] == "B" and name[1:].isdigit()}
_BOTHER = 0o010000
_TCGETS2 = 0x802C542A  # Linux: struct termios2, which carries any rate (pyserial sets odd rates with it)
_TERMIOS2 = struct.Struct("4I B 19s 2I")


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


def tty_baud(fd: int) -> int | None:
    """The baud rate a terminal device (a pty's slave end) is set to, None if it cannot be read."""
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        return None
    speed = attrs[5]
    if attrs[2] & _BOTHER or speed not in _SPEEDS:
        try:
            raw = fcntl.ioctl(fd, _TCGETS2, bytes(_TERMIOS2.size))
        except OSError:
            return None
        return int(_TERMIOS2.unpack(raw)[-1]) or None
    return _SPEEDS[speed] or None
