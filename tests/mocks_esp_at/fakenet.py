"""A scripted in-memory `Network` for driving the sans-IO device model without sockets."""

from __future__ import annotations

from collections import deque

from netsocket.mocks.esp_at.network import ConnectError, Connection, Listener, TlsOptions


class FakeConnection:
    def __init__(self, kind: str = "TCP", remote: tuple[str, int] = ("127.0.0.1", 5000)) -> None:
        self.kind = kind
        self.remote_ip, self.remote_port = remote
        self.local_port = 4000
        self.incoming: deque[bytes] = deque()
        self.datagrams: deque[tuple[bytes, str, int]] = deque()
        self.eof = False
        self.sent = bytearray()
        self.closed = False

    def recv(self, max_bytes: int) -> bytes | None:
        if self.incoming:
            data = self.incoming.popleft()
            if len(data) > max_bytes:
                self.incoming.appendleft(data[max_bytes:])
                data = data[:max_bytes]
            return data
        return b"" if self.eof else None

    def recv_datagram(self) -> tuple[bytes, str, int] | None:
        return self.datagrams.popleft() if self.datagrams else None

    def send(self, data: bytes, address: tuple[str, int] | None = None) -> bool:
        self.sent += data
        return not self.closed

    def close(self) -> None:
        self.closed = True


class FakeListener:
    def __init__(self, port: int) -> None:
        self.port = port
        self.pending: deque[FakeConnection] = deque()

    def accept(self) -> Connection | None:
        return self.pending.popleft() if self.pending else None

    def close(self) -> None:
        pass


class FakeNetwork:
    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.listeners: list[FakeListener] = []

    def connect(
        self,
        kind: str,
        ip: str,
        port: int,
        *,
        local_port: int = 0,
        udp_fixed_remote: bool = True,
        tls: TlsOptions | None = None,
    ) -> Connection | ConnectError:
        conn = FakeConnection(kind, (ip, port))
        self.connections.append(conn)
        return conn

    def listen(self, port: int) -> Listener | ConnectError:
        listener = FakeListener(port)
        self.listeners.append(listener)
        return listener

    def close_all(self) -> None:
        pass
