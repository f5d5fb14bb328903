"""A WebSocket echo server on 127.0.0.1 for end-to-end tests: wsproto (sans-IO) on a threaded ``TcpServer``.

Accepts the opening handshake on any path, echoes text and binary messages (fragment by fragment), answers pings,
and answers a close with a close. ``messages`` records every complete message and ``paths`` every request target,
so tests can check what really arrived.
"""

from __future__ import annotations

import socket
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)

from tests.servers.threaded import TcpServer


class WebSocketEchoServer(TcpServer):
    def __init__(self) -> None:
        super().__init__("websocket-echo", self._serve_connection)
        self._record_lock = threading.Lock()
        self.messages: list[str | bytes] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.address
        return f"ws://{host}:{port}/echo"

    def _record(self, message: str | bytes) -> None:
        with self._record_lock:
            self.messages.append(message)

    def _serve_connection(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        text: list[str] = []
        binary = bytearray()
        while True:
            data = conn.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Request):
                    with self._record_lock:
                        self.paths.append(event.target)
                    conn.sendall(ws.send(AcceptConnection()))
                elif isinstance(event, TextMessage):
                    conn.sendall(ws.send(TextMessage(data=event.data, message_finished=event.message_finished)))
                    text.append(event.data)
                    if event.message_finished:
                        self._record("".join(text))
                        text.clear()
                elif isinstance(event, BytesMessage):
                    conn.sendall(ws.send(BytesMessage(data=event.data, message_finished=event.message_finished)))
                    binary += event.data
                    if event.message_finished:
                        self._record(bytes(binary))
                        binary.clear()
                elif isinstance(event, Ping):
                    conn.sendall(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state is ConnectionState.REMOTE_CLOSING:  # not when the TCP connection just ended
                        conn.sendall(ws.send(event.response()))
                    return
            if not data:
                return
