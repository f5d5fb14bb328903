"""All the loopback test services of a session in one object (Mbed's echo-server host, on 127.0.0.1; IPv6 echo on ::1).

``with LoopbackServers() as servers: servers.echo_tcp.address`` gives ``("127.0.0.1", port)``. Each service has its
own ephemeral port; none uses the privileged RFC ports (7, 9, 13, 19).
"""

from __future__ import annotations

import hashlib
from types import TracebackType
from typing import Protocol

from tests.servers import services
from tests.servers.http import HttpResponse, HttpServer
from tests.servers.threaded import LOOPBACK6, TcpServer, UdpServer

HTTP_BIG_SIZE = 256 * 1024


class Service(Protocol):
    name: str

    @property
    def address(self) -> tuple[str, int]: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


def http_big_body() -> bytes:
    """The deterministic body of ``/big`` (256 KiB), for byte-exact end-to-end checks."""
    out = bytearray()
    counter = 0
    while len(out) < HTTP_BIG_SIZE:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:HTTP_BIG_SIZE])


class LoopbackServers:
    """Starts every service on entry and stops them all on exit."""

    def __init__(self) -> None:
        self.echo_tcp: TcpServer = services.echo_tcp()
        self.echo_udp: UdpServer = services.echo_udp()
        self.echo_udp_other: UdpServer = services.echo_udp("echo-udp-other")
        self.echo_tcp6: TcpServer = services.echo_tcp(LOOPBACK6)
        """Echo on ::1, for the IPv6 cases (only loopback: the emulators bridge IPv6 links to ::1 alone)."""
        self.echo_udp6: UdpServer = services.echo_udp("echo-udp6", LOOPBACK6)
        self.discard_tcp: TcpServer = services.discard_tcp()
        self.discard_udp: UdpServer = services.discard_udp()
        self.chargen_tcp: TcpServer = services.chargen_tcp()
        self.daytime_tcp: TcpServer = services.daytime_tcp()
        self.reset_tcp: TcpServer = services.reset_tcp()
        self.stalled_tcp = services.StalledTcpServer()
        self.tls = services.TlsServices()
        self.tls_echo_tcp: TcpServer = self.tls.echo()
        self.tls_discard_tcp: TcpServer = self.tls.discard()
        self.tls_daytime_tcp: TcpServer = self.tls.daytime()
        self.http = HttpServer(
            {
                "/hello": HttpResponse(b"hello from netsocket's loopback server\n"),
                "/big": HttpResponse(http_big_body(), "application/octet-stream"),
            }
        )
        self._all: list[Service] = [
            self.echo_tcp,
            self.echo_udp,
            self.echo_udp_other,
            self.echo_tcp6,
            self.echo_udp6,
            self.discard_tcp,
            self.discard_udp,
            self.chargen_tcp,
            self.daytime_tcp,
            self.reset_tcp,
            self.stalled_tcp,
            self.tls_echo_tcp,
            self.tls_discard_tcp,
            self.tls_daytime_tcp,
            self.http,
        ]

    def start(self) -> LoopbackServers:
        for service in self._all:
            service.start()
        return self

    def stop(self) -> None:
        for service in reversed(self._all):
            service.stop()

    def __enter__(self) -> LoopbackServers:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
