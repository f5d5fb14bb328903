"""TCP echo server on the network interface: ``bind``, ``listen``, ``accept`` and echo, with netsocket sockets.

Run: ``python -m examples.tcp_server`` (listens on port 7007 of the emulated ESP8266; the emulator makes a server
socket on the module reachable from this computer at 127.0.0.1 on the same port, so try
``nc 127.0.0.1 7007``), or ``python -m examples.tcp_server --listen 8080 --port /dev/ttyUSB0``.
``--once`` serves one connection and exits; otherwise it serves one client after another until Ctrl-C.

``--mdns NAME`` announces the server over mDNS once it listens: the host name ``NAME.local`` and the service
``_echo`` (``--mdns-service``) on its port, through the ESP module's ``set_mdns`` (``AT+MDNS``; not in Mbed OS),
withdrawn on the way out. An interface without it (W5500, the host's stack) is told so and nothing is served.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence

from examples._network import (
    NetworkError,
    add_network_arguments,
    connected_network,
    emulated,
    interruptible,
    ip_address,
)
from netsocket import NetworkInterface, NsapiError, SocketAddress, TCPSocket

DEFAULT_PORT = 7007


def echo(conn: TCPSocket) -> tuple[int, NsapiError | None]:
    """Echo until the peer closes: (bytes echoed, the error that ended it or None for an orderly close)."""
    total = 0
    buffer = bytearray(1460)
    while True:
        size = conn.recv(buffer)
        if size == 0:
            return total, None
        if size < 0:
            return total, NsapiError(size)
        sent = conn.send(buffer[:size])
        if sent < 0:
            return total, NsapiError(sent)
        total += sent


@contextlib.contextmanager
def announced(net: NetworkInterface, name: str | None, service: str, port: int) -> Iterator[None]:
    """Announce ``name`` and ``service`` on ``port`` over mDNS for the length of the block (nothing if ``name`` is
    None); ``NetworkError`` when the interface or its firmware has no mDNS, or refuses the names."""
    if name is None:
        yield
        return
    set_mdns = getattr(net, "set_mdns", None)
    if not callable(set_mdns):
        raise NetworkError(f"{type(net).__name__} has no mDNS: --mdns needs an ESP module (set_mdns, AT+MDNS)")
    err = set_mdns(name, service, port)
    if err != NsapiError.OK:
        raise NetworkError(f"cannot announce {name}.local ({service}) over mDNS: {NsapiError(err)}")
    print(f"Announced over mDNS: {name}.local, service {service} on port {port}", flush=True)
    try:
        yield
    finally:
        set_mdns(None)


def serve(
    net: NetworkInterface,
    port: int,
    address: str | None,
    once: bool,
    note: str = "",
    mdns: tuple[str | None, str] = (None, "_echo"),
) -> int:
    with TCPSocket() as server:
        for what, err in (
            ("open a socket", server.open(net)),
            (f"bind port {port}", server.bind(SocketAddress(address, port) if address else port)),
            ("listen", server.listen(1)),
        ):
            if err != NsapiError.OK:
                raise NetworkError(f"cannot {what}: {NsapiError(err)}")
        print(f"Echo server listening on {address or ip_address(net)}:{port}{note}", flush=True)
        with announced(net, mdns[0], mdns[1], port):
            return accept_loop(server, once)


def accept_loop(server: TCPSocket, once: bool) -> int:
    """Serve one client after another (only one with ``once``)."""
    while True:
        conn, err = server.accept()
        if conn is None:
            raise NetworkError(f"accept failed: {NsapiError(err)}")
        with conn:
            peer = SocketAddress()
            conn.getpeername(peer)
            print(f"Connection from {peer}", flush=True)
            total, error = echo(conn)
            ending = "closed by the peer" if error is None else f"ended: {error}"
            print(f"Echoed {total} bytes to {peer}; connection {ending}", flush=True)
        if once:
            return 0


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", type=int, default=DEFAULT_PORT, metavar="PORT", help="TCP port (default: 7007)")
    parser.add_argument("--address", help="local IP address to bind (default: any; ESP modules support only any)")
    parser.add_argument("--once", action="store_true", help="serve one connection, then exit")
    parser.add_argument("--mdns", metavar="NAME", help="announce NAME.local and the service over mDNS (ESP modules)")
    parser.add_argument("--mdns-service", default="_echo", help="the mDNS service announced (default: _echo)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.listen <= 0xFFFF:
        parser.error("--listen must be a port number 1-65535")
    try:
        with connected_network(args) as net:
            note = f" (from this computer: 127.0.0.1:{args.listen})" if emulated(args) else ""
            return serve(net, args.listen, args.address, args.once, note, (args.mdns, args.mdns_service))
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
