"""A UDP server on 127.0.0.1 (an ephemeral port) for the examples' own demo peers, on its own thread."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable, Iterator

Answer = Callable[[bytes, tuple[str, int]], "bytes | None"]
"""The reply to one datagram from a sender, or None for none."""


class LocalUdpServer:
    """Answers each datagram with ``answer(data, peer)`` until ``stop()``."""

    def __init__(self, name: str, answer: Answer) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self._answer = answer
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_r in ready:
                    return
                data, peer = self.sock.recvfrom(65535)
                reply = self._answer(data, peer)
                if reply is not None:
                    self.sock.sendto(reply, peer)

    def stop(self) -> None:
        self._wake_w.send(b"x")
        self._thread.join()
        for sock in (self.sock, self._wake_r, self._wake_w):
            sock.close()


@contextlib.contextmanager
def local_udp_server(name: str, answer: Answer) -> Iterator[str]:
    """A ``LocalUdpServer`` for the block; yields its ``host:port``."""
    server = LocalUdpServer(name, answer)
    try:
        yield server.address
    finally:
        server.stop()
