"""A loopback TLS server that upper-cases each connection's first message (or, for a message starting ``sink``, keeps
everything until the client closes), for the module-side TLS tests: the emulator's SSL links and the driver's
``ModuleTLSSocket`` connect to it."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

import trustme

sunk: list[bytes] = []
"""What the servers' ``sink`` connections received, whole (one entry per connection)."""


@contextlib.contextmanager
def upper_tls_server(
    ca: trustme.CA, *identities: str, client_ca: trustme.CA | None = None, host: str = "127.0.0.1"
) -> Iterator[tuple[int, list[str | None]]]:
    """A loopback TLS server (certificate for ``identities``, signed by ``ca``) that answers each connection's
    first message in upper case and closes (a first message starting with ``sink``: keeps all it gets until the
    client closes, in ``sunk``); yields its port and the server names the clients sent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*identities).configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    names: list[str | None] = []

    def remember(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = remember  # type: ignore[assignment]
    server = socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    server.settimeout(0.05)  # the loop sees `stop` soon after the test ends
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            handler = threading.Thread(target=answer, args=(conn,))
            handler.start()
            handlers.append(handler)

    def answer(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(5)
            first = tls.recv(100)
            if first.startswith(b"sink"):  # keep everything until the client closes
                while chunk := tls.recv(65536):
                    first += chunk
                sunk.append(first)
            else:
                tls.sendall(first.upper())

    handlers: list[threading.Thread] = []
    sunk.clear()
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield int(server.getsockname()[1]), names
    finally:
        stop.set()
        server.close()
        thread.join(10)
        for handler in handlers:
            handler.join(10)
