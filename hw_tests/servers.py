"""Echo servers for the hardware tests, on an address the device can reach (``--server-bind``)."""

from __future__ import annotations

import contextlib
import socket
import threading


class EchoServers:
    """TCP and UDP echo on one bind address, each on an ephemeral port; ``host`` is how the device reaches them."""

    def __init__(self, bind: str, host: str) -> None:
        self.host = host
        self._tcp = socket.create_server((bind, 0))
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((bind, 0))
        self.tcp_port = self._tcp.getsockname()[1]
        self.udp_port = self._udp.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._serve_tcp, name="hw-echo-tcp", daemon=True),
            threading.Thread(target=self._serve_udp, name="hw-echo-udp", daemon=True),
        ]
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> EchoServers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in (self._tcp, self._udp):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:
                pass
        with self._lock:
            self._connections.remove(conn)

    def _serve_udp(self) -> None:
        while True:
            try:
                data, sender = self._udp.recvfrom(65535)
                if sender is None:  # shut down
                    return
                self._udp.sendto(data, sender)
            except OSError:
                return
