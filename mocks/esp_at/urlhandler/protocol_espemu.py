"""The ``espemu://`` pyserial URL handler: a serial port whose far end is an emulated ESP-AT module.

Layer: I/O adapter. The port is one end of `socket.socketpair()`, so `fileno()` is real and pyserial-asyncio
can watch it; the emulator runs in a daemon thread on the other end. Closing the port stops the thread and
closes every host socket the emulator bridged. The emulator is reachable as ``port.emulator`` (or through
`netsocket.mocks.esp_at.find_emulator`) for fault injection.
"""

from __future__ import annotations

import errno
import fcntl
import select
import socket
import struct
import termios
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, SerialTimeoutException, Timeout

from ..emulator import Emulator
from ..options import EmulatorOptions
from ..replay import ReplayPlayer, start_replay
from ..transport import SocketTransport

_RETRY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class Serial(SerialBase):
    """A pyserial port backed by an in-process ESP-AT emulator."""

    emulator: Emulator | None = None
    replay: ReplayPlayer | None = None
    """With ``?replay=FILE``: the player of the transcript (its ``divergence`` says why it stopped)."""
    _socket: socket.socket | None = None

    def __init__(self, port: str | None = None, baudrate: int | None = None, *args: Any, **kwargs: Any) -> None:
        # A baud rate given by the caller is the host end's rate: if it differs from the module's (the URL's
        # ``baud``, default 115200) the bytes are garbled as on a real line. None (not given) follows the module.
        self._host_baud_given = baudrate is not None
        super().__init__(port, 115200 if baudrate is None else baudrate, *args, **kwargs)

    def open(self) -> None:
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        try:
            options = EmulatorOptions.from_url(str(self.portstr))
        except ValueError as exc:
            raise SerialException(f"bad espemu:// URL {self.portstr!r}: {exc}") from exc
        host_end, device_end = socket.socketpair()
        try:
            if options.replay is not None:
                self.replay = start_replay(
                    options.replay,
                    SocketTransport(device_end),
                    timescale=options.timing.timescale,
                    lenient=options.lenient,
                    name=options.name,
                )
            else:
                self.emulator = Emulator(options, SocketTransport(device_end), aliases=(str(self.portstr),))
        except (ValueError, OSError) as exc:  # TranscriptError is a ValueError
            host_end.close()
            device_end.close()
            raise SerialException(f"cannot start the emulator for {self.portstr!r}: {exc}") from exc
        host_end.setblocking(False)
        self._socket = host_end
        if self.emulator is not None:
            if self._host_baud_given:
                self.emulator.set_host_baud(self.baudrate)
            self.emulator.start()
        self.is_open = True

    def _reconfigure_port(self) -> None:
        """The host's baud rate reaches the emulator (a mismatch garbles); other line settings are not modelled."""
        if self.emulator is not None:
            self._host_baud_given = True
            self.emulator.set_host_baud(self.baudrate)

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.close()
            self.emulator = None
        if self.replay is not None:
            self.replay.close()
            self.replay = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.is_open = False

    def _sock(self) -> socket.socket:
        if not self.is_open or self._socket is None:
            raise PortNotOpenError()
        return self._socket

    @property
    def in_waiting(self) -> int:
        sock = self._sock()
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("I", 0))
        return int(struct.unpack("I", raw)[0])

    def read(self, size: int = 1) -> bytes:
        sock = self._sock()
        data = bytearray()
        timeout = Timeout(self.timeout)  # type: ignore[arg-type]  # None (block) is valid at run time
        while len(data) < size:
            ready, _, _ = select.select([sock], [], [], timeout.time_left())
            if not ready:
                break
            try:
                chunk = sock.recv(size - len(data))
            except OSError as exc:
                if exc.errno in _RETRY_ERRNOS:
                    continue
                raise SerialException(f"read failed: {exc}") from exc
            if not chunk:
                divergence = self.replay.divergence if self.replay is not None else None
                raise SerialException(divergence or "the emulator stopped")
            data += chunk
            if timeout.expired():
                break
        return bytes(data)

    def write(self, b: bytes, /) -> int | None:  # type: ignore[override]
        sock = self._sock()
        data = bytes(b)
        timeout = Timeout(self.write_timeout)  # type: ignore[arg-type]
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except OSError as exc:
                if exc.errno not in _RETRY_ERRNOS:
                    raise SerialException(f"write failed: {exc}") from exc
                sent = 0
            view = view[sent:]
            if not view:
                break
            if timeout.is_non_blocking:
                return len(data) - len(view)
            _, ready, _ = select.select([], [sock], [], timeout.time_left())
            if not ready:
                raise SerialTimeoutException("Write timeout")
        return len(data)

    def reset_input_buffer(self) -> None:
        sock = self._sock()
        while True:
            ready, _, _ = select.select([sock], [], [], 0)
            if not ready:
                return
            try:
                if not sock.recv(4096):
                    return
            except BlockingIOError:
                return

    def reset_output_buffer(self) -> None:
        self._sock()

    def send_break(self, duration: float = 0.25) -> None:
        self._sock()

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        if self.emulator is not None:
            self.emulator.set_host_rts(bool(self.rts))

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        self._sock()
        return True

    @property
    def dsr(self) -> bool:
        self._sock()
        return True

    @property
    def ri(self) -> bool:
        self._sock()
        return False

    @property
    def cd(self) -> bool:
        self._sock()
        return True

    def fileno(self) -> int:
        return self._sock().fileno()

    def cancel_read(self) -> None:
        pass

    def cancel_write(self) -> None:
        pass
