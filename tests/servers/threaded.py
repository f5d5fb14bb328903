"""Threaded, stoppable loopback servers: the I/O layer under the test services of ``tests.servers``.

A ``TcpServer`` accepts on ``127.0.0.1`` or ``::1`` (an ephemeral port) and runs one handler thread per connection; a
``UdpServer`` runs one thread that answers datagrams. ``stop()`` wakes every thread at once (a socketpair wakes the
accept/receive loop; connections are shut down so blocked handlers return), joins them and closes every socket, so a
test session leaves no thread or socket behind. Only loopback addresses may be bound (127.0.0.0/8, or ::1 for the
IPv6 cases).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

_log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
JOIN_TIMEOUT_S = 5.0

ConnectionHandler = Callable[[socket.socket], None]
"""Serves one accepted connection; returning (or raising ``OSError``) ends it and the server closes the socket."""

ConnectionWrapper = Callable[[socket.socket], socket.socket]
"""Turns an accepted connection into the socket the handler gets (e.g. a TLS server socket after its handshake)."""

DatagramHandler = Callable[[bytes, tuple[str, int]], "bytes | None"]
"""Answers one datagram: the reply to send back to the sender, or None for no reply."""


LOOPBACK6 = "::1"


def _check_loopback(host: str) -> socket.AddressFamily:
    """The family of a loopback address (127.0.0.0/8 or ::1); ValueError for any other."""
    if host == LOOPBACK6:
        return socket.AF_INET6
    if not host.startswith("127."):
        raise ValueError(f"test servers bind 127.0.0.0/8 or ::1 only, not {host!r}")
    return socket.AF_INET


_ServiceT = TypeVar("_ServiceT", bound="_Service")


class _Service:
    """What both servers share: a name, the wake-up socketpair, start/stop and the context manager."""

    def __init__(self, name: str, sock: socket.socket) -> None:
        self.name = name
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"{name}-server", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> _Service:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake and join every thread, close every socket. Safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)
        self._stop_more()
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def _stop_more(self) -> None:
        """Hook for the TCP server: end the connections."""

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r or self._stopping.is_set():
                        return
                    self._ready()

    def _ready(self) -> None:
        raise NotImplementedError

    def __enter__(self: _ServiceT) -> _ServiceT:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} on {self.address[0]}:{self.address[1]}>"


class TcpServer(_Service):
    """A TCP server on ``host`` (loopback) and an ephemeral port; ``handler(conn)`` runs on a thread per
    connection. ``backlog`` is the listen queue (the stalled server uses 0). ``wrap`` (run on the connection's
    thread) replaces the accepted socket first, e.g. with TLS; if it raises ``OSError`` the connection ends."""

    def __init__(
        self,
        name: str,
        handler: ConnectionHandler,
        host: str = LOOPBACK,
        backlog: int = 16,
        wrap: ConnectionWrapper | None = None,
    ) -> None:
        sock = socket.socket(_check_loopback(host), socket.SOCK_STREAM)
        sock.bind((host, 0))
        sock.listen(backlog)
        super().__init__(name, sock)
        self._handler = handler
        self._wrap = wrap
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self.accepted = 0
        """How many connections were accepted so far."""

    def _ready(self) -> None:
        try:
            conn, _peer = self._sock.accept()
        except OSError:
            return
        thread = threading.Thread(target=self._run, args=(conn,), name=f"{self.name}-conn", daemon=True)
        with self._lock:
            self.accepted += 1
            self._connections[conn] = thread
        thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            if self._wrap is not None:
                wrapped = self._wrap(conn)
                with self._lock:
                    self._connections[wrapped] = self._connections.pop(conn)
                conn = wrapped
            self._handler(conn)
        except OSError as exc:  # the peer went away: normal for chargen, echo after a reset, ...
            _log.debug("%s: connection ended: %s", self.name, exc)
        finally:
            with self._lock:
                self._connections.pop(conn, None)
                conn.close()

    def _stop_more(self) -> None:
        with self._lock:
            live = list(self._connections.items())
            for conn, _thread in live:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for _conn, thread in live:
            thread.join(JOIN_TIMEOUT_S)


class UdpServer(_Service):
    """A UDP server on ``host`` (loopback) and an ephemeral port; ``handler(data, sender)`` may return a reply."""

    MAX_DATAGRAM = 65535

    def __init__(self, name: str, handler: DatagramHandler, host: str = LOOPBACK) -> None:
        sock = socket.socket(_check_loopback(host), socket.SOCK_DGRAM)
        sock.bind((host, 0))
        super().__init__(name, sock)
        self._handler = handler
        self._arrived = threading.Condition()
        self.received = 0
        """How many datagrams arrived so far."""

    def wait_received(self, count: int, timeout: float) -> bool:
        """Wait until ``received >= count``; False if ``timeout`` seconds passed first."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self.received >= count, timeout)

    def _ready(self) -> None:
        try:
            data, sender = self._sock.recvfrom(self.MAX_DATAGRAM)
        except OSError:
            return
        reply = self._handler(data, (str(sender[0]), int(sender[1])))
        if reply is not None:
            try:
                self._sock.sendto(reply, sender)
            except OSError as exc:
                _log.debug("%s: reply to %s failed: %s", self.name, sender, exc)
        with self._arrived:  # counted once answered, so a waiter knows any reply is on its way
            self.received += 1
            self._arrived.notify_all()
