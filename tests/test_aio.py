"""netsocket.aio: asyncio streams and awaitable sockets over a thread-driven stack."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable

import pytest
import trustme
from netsocket.drivers.host import HostInterface

from netsocket import NsapiError, SocketAddress
from netsocket.aio import AsyncTCPSocket, AsyncUDPSocket, open_connection

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Connections:
    """Counts a server's live handlers, so a test can wait for them to finish before its loop closes."""

    def __init__(self) -> None:
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def track(self, handler: Handler) -> Handler:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.active += 1
            self.idle.clear()
            try:
                await handler(reader, writer)
            finally:
                writer.close()
                await writer.wait_closed()
                self.active -= 1
                if not self.active:
                    self.idle.set()

        return run

    async def wait_idle(self) -> None:
        await asyncio.wait_for(self.idle.wait(), 5)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()


async def _echo_server(connections: _Connections) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(connections.track(_echo), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_open_connection_streams() -> None:
    async def main() -> None:
        net = HostInterface()
        net.connect()
        connections = _Connections()
        server, port = await _echo_server(connections)
        async with server:
            reader, writer = await open_connection("127.0.0.1", port, stack=net, timeout=5)
            writer.write(b"line one\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 5) == b"line one\n"
            writer.close()
            await writer.wait_closed()
            await connections.wait_idle()
        net.disconnect()

    asyncio.run(main())


def test_open_connection_with_tls() -> None:
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def main() -> None:
        net = HostInterface()
        net.connect()

        async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write((await reader.readline()).upper())
            await writer.drain()

        connections = _Connections()
        server = await asyncio.start_server(connections.track(shout), "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await open_connection(
                "127.0.0.1", port, stack=net, ssl=client_ctx, server_hostname="localhost", timeout=5
            )
            writer.write(b"quiet\n")
            assert await asyncio.wait_for(reader.readline(), 5) == b"QUIET\n"
            writer.close()
            await writer.wait_closed()
            await connections.wait_idle()
        net.disconnect()

    asyncio.run(main())


def test_async_tcp_socket_echo_and_timeout() -> None:
    async def main() -> None:
        net = HostInterface()
        net.connect()
        connections = _Connections()
        server, port = await _echo_server(connections)
        async with server, AsyncTCPSocket() as sock:
            assert sock.open(net) == NsapiError.OK
            assert await sock.connect(SocketAddress("127.0.0.1", port), timeout=5) == NsapiError.OK
            payload = bytes(range(256)) * 40
            assert await sock.send(payload, timeout=5) == len(payload)
            got = bytearray()
            buffer = bytearray(1000)
            while len(got) < len(payload):
                size = await sock.recv(buffer, timeout=5)
                assert size > 0
                got += buffer[:size]
            assert got == payload
            assert await sock.recv(buffer, timeout=0.1) == NsapiError.CONNECTION_TIMEOUT
            sock.close()
            await connections.wait_idle()
        net.disconnect()

    asyncio.run(main())


def test_async_accept_and_udp() -> None:
    async def main() -> None:
        net = HostInterface()
        net.connect()
        # The host stack cannot report which port bind(0) chose, so take a free port from the OS first.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        async with AsyncTCPSocket() as listener:
            listener.open(net)
            assert listener.bind(SocketAddress("127.0.0.1", port)) == NsapiError.OK
            assert listener.listen() == NsapiError.OK
            client = threading.Thread(target=lambda: socket.create_connection(("127.0.0.1", port), 5).close())
            client.start()
            accepted, err = await listener.accept(timeout=5)
            client.join()
            assert err == NsapiError.OK and accepted is not None
            accepted.close()
            assert await listener.accept(timeout=0.1) == (None, NsapiError.CONNECTION_TIMEOUT)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            async with AsyncUDPSocket() as udp:
                udp.open(net)
                assert await udp.sendto(SocketAddress(*peer.getsockname()), b"ping") == 4
                data, sender = peer.recvfrom(10)
                assert data == b"ping"
                peer.sendto(b"pong", sender)
                buffer = bytearray(10)
                source = SocketAddress()
                assert await udp.recvfrom(source, buffer, timeout=5) == 4
                assert buffer[:4] == b"pong" and source.get_port() == peer.getsockname()[1]
        net.disconnect()

    asyncio.run(main())


@pytest.mark.parametrize("port", [1])
def test_open_connection_refused_raises(port: int) -> None:
    async def main() -> None:
        net = HostInterface()
        net.connect()
        with pytest.raises(ConnectionRefusedError):
            await open_connection("127.0.0.1", port, stack=net, timeout=5)
        net.disconnect()

    asyncio.run(main())


def test_async_send_timeout_is_one_deadline_for_the_call() -> None:
    """Issue 12: ``send(data, timeout)`` waited ``timeout`` for each piece, so a peer reading slowly kept it going
    long after the timeout. The timeout is one deadline for the whole call: it returns the count sent so far."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def slow_reader() -> None:  # reads 64 KB every 10 ms: progress, but slower than the sender
        conn, _ = listener.accept()
        with conn:
            while not stop.wait(0.01):
                try:
                    conn.recv(65536)
                except OSError:
                    return

    reader = threading.Thread(target=slow_reader)
    reader.start()

    async def main() -> None:
        net = HostInterface()
        net.connect()
        async with AsyncTCPSocket() as sock:
            sock.open(net)
            assert await sock.connect(SocketAddress(*listener.getsockname()), timeout=5) == NsapiError.OK
            loop = asyncio.get_running_loop()
            started = loop.time()
            result = await sock.send(bytes(64 << 20), timeout=0.5)
            elapsed = loop.time() - started
            assert 0 < result < 64 << 20, f"send gave {result!s}"
            assert elapsed < 0.8, f"a 0.5 s timeout ended the send after {elapsed:.2f} s"
        net.disconnect()

    try:
        asyncio.run(main())
    finally:
        stop.set()
        listener.close()
        reader.join(5)
