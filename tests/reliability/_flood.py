"""Helpers for the reliability suite: a loopback server that floods each client as fast as the client's side
lets it, and a wait for it to be held back (backpressure), deadlines everywhere."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

from tests.servers import TcpServer

CHUNK = 65536


def stream(seed: int, size: int) -> bytes:
    """Reproducible incompressible bytes (``size`` of them) for ``seed``."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest() * 128
        counter += 1
    return bytes(out[:size])


class FloodServer:
    """Sends ``data`` to the first client as fast as TCP lets it, counting what the kernel took; closes after."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = 0
        self.finished = False
        self._cond = threading.Condition()
        self.server = TcpServer("flood", self._serve)

    def _serve(self, conn: socket.socket) -> None:
        view = memoryview(self.data)
        try:
            while self.sent < len(self.data):
                count = conn.send(view[self.sent : self.sent + CHUNK])
                with self._cond:
                    self.sent += count
                    self._cond.notify_all()
        except OSError:
            pass
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def wait_held_back(self, quiet: float, deadline: float) -> bool:
        """True once ``quiet`` seconds pass without the server sending anything (before it sent all), within
        ``deadline`` seconds."""
        end = time.monotonic() + deadline
        with self._cond:
            while time.monotonic() < end:
                before = self.sent
                self._cond.wait_for(lambda b=before: self.sent != b or self.finished, quiet)  # type: ignore[misc]
                if self.finished:
                    return False
                if self.sent == before and self.sent > 0:
                    return True
        return False

    def __enter__(self) -> FloodServer:
        self.server.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.__exit__(None, None, None)
