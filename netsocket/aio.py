"""The asyncio face: ``open_connection`` streams and ``AsyncTCPSocket``/``AsyncUDPSocket`` over any stack.

Each awaitable call runs ``netsocket.nonblocking``'s retry loop, woken by the socket's ``sigio``: on the loop itself
for a driver that runs on it (the ESP-AT asyncio runner), through ``loop.call_soon_threadsafe`` from a driver's
thread (python-can's Notifier pattern). ``open_connection`` puts asyncio's own streams, and its TLS
(``loop.start_tls``), on an ``AsyncTCPSocket`` through ``aio_transport.SocketTransport``: no thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections.abc import Callable
from typing import Any

from netsocket import nonblocking
from netsocket.address import SocketAddress
from netsocket.aio_transport import SocketTransport
from netsocket.deadline import Deadline
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.oserrors import error_for
from netsocket.socket import InternetSocket, ReadableBuffer, TCPSocket, UDPSocket, WritableBuffer, _as_stack
from netsocket.stack import NetworkStack

Stack = NetworkInterface | NetworkStack

__all__ = ["AsyncTCPSocket", "AsyncUDPSocket", "open_connection"]


async def open_connection(
    host: str,
    port: int,
    *,
    stack: Stack,
    ssl: _ssl.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    timeout: float | None = None,
    limit: int = 2**16,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Like ``asyncio.open_connection``, over ``stack``. Raises the ``OSError`` subclasses of ``netsocket.compat``;
    ``timeout`` bounds the look-up, the connect and the TLS handshake together."""
    target = _as_stack(stack)
    if target is None:
        raise TypeError(f"open_connection needs a NetworkInterface or a NetworkStack, not {type(stack).__name__}")
    return await _open_on_loop(host, port, target, ssl, server_hostname, timeout, limit)


async def _open_on_loop(
    host: str,
    port: int,
    stack: NetworkStack,
    ssl: _ssl.SSLContext | bool | None,
    server_hostname: str | None,
    timeout: float | None,
    limit: int,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = Deadline.from_seconds(timeout)
    address = await _resolve(stack, host, deadline.remaining())
    address.set_port(port)
    sock = AsyncTCPSocket()
    err = sock.open(stack)
    if err != NsapiError.OK:
        raise error_for(err, "cannot open a socket")
    try:
        err = await sock.connect(address, deadline.remaining())
        if err != NsapiError.OK:
            raise error_for(err, f"cannot connect to {host}:{port}")
    except BaseException:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    peer = (address.get_ip_address() or host, port)
    if ssl is None or ssl is False:
        transport: asyncio.BaseTransport = SocketTransport(sock, protocol, peer)
    else:
        context = ssl if isinstance(ssl, _ssl.SSLContext) else _ssl.create_default_context()
        raw = SocketTransport(sock, asyncio.Protocol(), peer)
        try:
            tls = await asyncio.wait_for(
                loop.start_tls(raw, raw.get_protocol(), context, server_hostname=server_hostname or host),
                deadline.remaining(),
            )
        except BaseException:
            raw.abort()
            raise
        assert tls is not None
        tls.set_protocol(protocol)
        protocol.connection_made(tls)
        transport = tls
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]


async def _resolve(stack: NetworkStack, host: str, timeout: float | None) -> SocketAddress:
    """Resolve with the stack's asynchronous look-up (its callback arrives on the loop)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[tuple[int, SocketAddress | None]] = loop.create_future()

    def done(result: int, address: SocketAddress | None) -> None:
        if not answer.done():
            answer.set_result((result, address))

    def callback(result: int, address: SocketAddress | None) -> None:
        loop.call_soon_threadsafe(done, result, address)

    query = stack.gethostbyname_async(host, callback)
    if query < 0:
        raise error_for(query, f"cannot resolve {host!r}")
    try:
        result, address = await asyncio.wait_for(answer, timeout)
    except asyncio.TimeoutError:
        stack.gethostbyname_async_cancel(query)
        raise error_for(NsapiError.TIMEOUT, f"cannot resolve {host!r}") from None
    if result < 0 or address is None:  # Mbed's callback: a count of addresses (>= 0), or an error
        raise error_for(result if result < 0 else NsapiError.DNS_FAILURE, f"cannot resolve {host!r}")
    return SocketAddress(address.get_ip_address(), 0)


class _AsyncSocket:
    _sock: InternetSocket

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()

    def open(self, stack: Stack) -> NsapiError:
        """Open on ``stack`` (non-blocking underneath; the awaitables do the waiting)."""
        self._loop = asyncio.get_running_loop()
        err = self._sock.open(stack)
        if err == NsapiError.OK:
            self._sock.set_blocking(False)
            self._sock.sigio(self._wake)
        return err

    def _wake(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ready.set)

    async def _retry(
        self,
        attempt: Callable[[], Any],
        timeout: float | None,
        retry_on: frozenset[int],
        deadline: Deadline | None = None,
    ) -> Any:
        """``netsocket.nonblocking``'s loop, waiting on the loop for the socket's ``sigio`` or the deadline."""

        def tracked() -> Any:
            self._ready.clear()  # a wake-up from here on is news to this attempt
            return attempt()

        async def wait(remaining: float | None) -> None:
            with contextlib.suppress(asyncio.TimeoutError):  # the next step sees the deadline passed
                await asyncio.wait_for(self._ready.wait(), remaining)

        steps = nonblocking.attempts(tracked, retry_on, deadline or Deadline.from_seconds(timeout))
        return await nonblocking.run_async(steps, wait)

    def close(self) -> NsapiError:
        return self._sock.close()

    async def __aenter__(self) -> _AsyncSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


_WAIT = frozenset({NsapiError.WOULD_BLOCK})


class AsyncTCPSocket(_AsyncSocket):
    """A ``TCPSocket`` whose calls are awaitable; ``timeout`` (seconds, None: forever) gives CONNECTION_TIMEOUT."""

    def __init__(self) -> None:
        super().__init__()
        self._sock = self._tcp = TCPSocket()

    async def connect(self, address: SocketAddress, timeout: float | None = None) -> NsapiError:
        result = await self._retry(
            lambda: self._tcp.connect(address), timeout, frozenset({NsapiError.IN_PROGRESS, NsapiError.ALREADY})
        )
        return NsapiError.OK if result == NsapiError.IS_CONNECTED else NsapiError(result)

    async def send(self, data: ReadableBuffer, timeout: float | None = None) -> int:
        """Send everything: the full size, or an error (CONNECTION_TIMEOUT if the timeout passed first)."""
        view = memoryview(data).cast("B")
        sent = 0
        deadline = Deadline.from_seconds(timeout)  # one for the whole call, not one per chunk

        def attempt() -> int:
            return self._tcp.send(view[sent:])

        while sent < len(view):
            result = await self._retry(attempt, timeout, _WAIT, deadline)
            if result < 0:
                return sent if sent else int(result)
            sent += result
        return sent

    async def recv(self, buffer: WritableBuffer, timeout: float | None = None) -> int:
        return int(await self._retry(lambda: self._tcp.recv(buffer), timeout, _WAIT))

    def bind(self, address: SocketAddress | int) -> NsapiError:
        return self._tcp.bind(address)

    def listen(self, backlog: int = 1) -> NsapiError:
        return self._tcp.listen(backlog)

    async def accept(self, timeout: float | None = None) -> tuple[TCPSocket | None, NsapiError]:
        """Wait for a connection: ``(socket, OK)`` or ``(None, error)``; the new socket is an ordinary blocking one."""

        def attempt() -> tuple[NsapiError, TCPSocket | None]:
            sock, err = self._tcp.accept()
            return err, sock

        result = await self._retry(attempt, timeout, _WAIT)
        if not isinstance(result, tuple):
            return None, NsapiError(result)
        err, sock = result
        return sock, err


class AsyncUDPSocket(_AsyncSocket):
    """A ``UDPSocket`` whose receive calls are awaitable."""

    def __init__(self) -> None:
        super().__init__()
        self._sock = self._udp = UDPSocket()

    def bind(self, address: SocketAddress | int) -> NsapiError:
        return self._udp.bind(address)

    def connect(self, address: SocketAddress) -> NsapiError:
        return self._udp.connect(address)

    async def sendto(self, address: SocketAddress, data: ReadableBuffer, timeout: float | None = None) -> int:
        return int(await self._retry(lambda: self._udp.sendto(address, data), timeout, _WAIT))

    async def recvfrom(
        self, address: SocketAddress | None, buffer: WritableBuffer, timeout: float | None = None
    ) -> int:
        return int(await self._retry(lambda: self._udp.recvfrom(address, buffer), timeout, _WAIT))
