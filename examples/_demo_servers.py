"""Servers some examples start on 127.0.0.1 when no server is given, so they work with no options at all.

Layer: demo scaffolding on the host's own sockets (not netsocket): these play the far end of the network, which
the example then reaches through the chosen interface. Each is a context manager yielding its URL and stopping
cleanly (threads joined, sockets closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage

COAP_GREETING = b"Hello from netsocket's demo CoAP server"


def _serve_websocket(conn: socket.socket, stop: threading.Event) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    with conn:
        while not stop.is_set():
            data = conn.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Request):
                    conn.sendall(ws.send(AcceptConnection()))
                elif isinstance(event, TextMessage):
                    conn.sendall(ws.send(TextMessage(data=event.data, message_finished=event.message_finished)))
                elif isinstance(event, BytesMessage):
                    conn.sendall(ws.send(BytesMessage(data=event.data, message_finished=event.message_finished)))
                elif isinstance(event, Ping):
                    conn.sendall(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state is ConnectionState.REMOTE_CLOSING:
                        conn.sendall(ws.send(event.response()))
                    return
            if not data:
                return


@contextlib.contextmanager
def websocket_echo_server() -> Iterator[str]:
    """A WebSocket echo server (wsproto) on 127.0.0.1, one connection at a time; yields its ``ws://`` URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    wake_r, wake_w = socket.socketpair()
    stop = threading.Event()
    live: list[socket.socket] = []

    def serve() -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake_r, selectors.EVENT_READ)
            while not stop.is_set():
                if any(key.fileobj is wake_r for key, _ in selector.select()):
                    return
                conn, _ = listener.accept()
                live.append(conn)
                with contextlib.suppress(OSError):
                    _serve_websocket(conn, stop)
                live.remove(conn)

    thread = threading.Thread(target=serve, name="demo-websocket-server", daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/echo"
    finally:
        stop.set()
        wake_w.send(b"x")
        for conn in list(live):  # a client that gave up mid-way: wake the handler blocked in recv
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        thread.join()
        for sock in (listener, wake_r, wake_w):
            sock.close()


@contextlib.contextmanager
def coap_server() -> Iterator[str]:
    """An aiocoap server on 127.0.0.1 with a ``/hello`` resource, on its own event loop; yields that resource's URI."""
    import aiocoap  # type: ignore[import-untyped]
    import aiocoap.resource  # type: ignore[import-untyped]

    class Hello(aiocoap.resource.Resource):  # type: ignore[misc]
        async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
            return aiocoap.Message(payload=COAP_GREETING, content_format=0)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="demo-coap-server", daemon=True)
    thread.start()

    async def start() -> object:
        site = aiocoap.resource.Site()
        site.add_resource(["hello"], Hello())
        return await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))

    try:
        context = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        try:
            yield f"coap://127.0.0.1:{port}/hello"
        finally:
            asyncio.run_coroutine_threadsafe(context.shutdown(), loop).result(10)  # type: ignore[attr-defined]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@contextlib.contextmanager
def mqtt_broker() -> Iterator[str]:
    """An MQTT broker (amqtt, from PyPI) on 127.0.0.1, anonymous, on its own event loop; yields ``HOST:PORT``."""
    from amqtt.broker import Broker

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="demo-mqtt-broker", daemon=True)
    thread.start()

    async def start() -> Broker:
        broker = Broker(config, loop=loop)
        await broker.start()
        return broker

    try:
        broker = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
