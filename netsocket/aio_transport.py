"""An asyncio ``Transport`` over an ``AsyncTCPSocket``: asyncio's streams and TLS (``loop.start_tls``) on a stack
whose driver runs on the event loop itself, with no thread and no real socket in between.

A reader task feeds what the socket receives to the protocol (pausable, for the streams' flow control); a writer
task sends what ``write`` queued, in order, pausing the protocol's writing above the high-water mark. A socket
error ends the connection with the ``OSError`` that ``netsocket.oserrors`` gives its code.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from netsocket.oserrors import error_for

if TYPE_CHECKING:
    from netsocket.aio import AsyncTCPSocket

READ_SIZE = 16384
HIGH_WATER = 64 * 1024


class SocketTransport(asyncio.Transport):
    """The transport of one connected ``AsyncTCPSocket`` (it owns and closes the socket)."""

    _start_tls_compatible = True  # asyncio's check that loop.start_tls may wrap this transport

    def __init__(self, sock: AsyncTCPSocket, protocol: asyncio.BaseProtocol, peername: tuple[str, int]) -> None:
        super().__init__({"peername": peername})
        self._sock = sock
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._out = bytearray()
        self._out_ready = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        self._lost = False
        self._writing_paused = False
        self._high, self._low = HIGH_WATER, HIGH_WATER // 4
        self._loop.call_soon(protocol.connection_made, self)
        self._reader = self._loop.create_task(self._read_loop())
        self._writer = self._loop.create_task(self._write_loop())

    # -- reading --------------------------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        buffer = bytearray(READ_SIZE)
        while True:
            await self._reading.wait()
            result = await self._sock.recv(buffer)
            if result > 0:
                try:
                    self._deliver(memoryview(buffer)[:result])
                except Exception as exc:  # the protocol failed on what came: the connection is of no further use
                    self._connection_lost(exc)
                    return
            elif result == 0:
                keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
                if not keep_open:
                    self.close()
                return
            else:
                self._connection_lost(error_for(result, "recv"))
                return

    def _deliver(self, data: memoryview) -> None:
        protocol = self._protocol
        if isinstance(protocol, asyncio.BufferedProtocol):  # asyncio's TLS layer is one
            while data:
                room = memoryview(protocol.get_buffer(len(data))).cast("B")
                size = min(len(room), len(data))
                room[:size] = data[:size]
                protocol.buffer_updated(size)
                data = data[size:]
        else:
            protocol.data_received(bytes(data))  # type: ignore[attr-defined]

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set() and not self._closing

    # -- writing --------------------------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return  # as asyncio's transports: writes after close() are dropped (the streams check is_closing)
        self._out += data
        self._out_ready.set()
        if not self._writing_paused and len(self._out) > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    async def _write_loop(self) -> None:
        while True:
            await self._out_ready.wait()
            while self._out:
                chunk = bytes(self._out[:HIGH_WATER])
                sent = await self._sock.send(chunk)
                if sent < 0:
                    self._connection_lost(error_for(sent, "send"))
                    return
                del self._out[:sent]
                if self._writing_paused and len(self._out) <= self._low:
                    self._writing_paused = False
                    self._protocol.resume_writing()
            self._out_ready.clear()
            if self._closing:
                self._connection_lost(None)
                return

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = HIGH_WATER if high is None else high
        self._low = self._high // 4 if low is None else low

    def can_write_eof(self) -> bool:
        return False

    # -- ending ---------------------------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        if self._closing:
            return
        self._closing = True
        self._reader.cancel()
        self._out_ready.set()  # the writer sees the end once the queue is empty

    def abort(self) -> None:
        self._closing = True
        self._connection_lost(None)

    def _force_close(self, exc: Exception | None) -> None:
        """What asyncio's TLS layer calls on a fatal error (a failed handshake)."""
        self._connection_lost(exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        for task in (self._reader, self._writer):
            if task is not asyncio.current_task():
                task.cancel()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return super().get_extra_info(name, default)
