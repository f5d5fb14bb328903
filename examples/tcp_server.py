"""TCP echo server on the network interface: ``bind``, ``listen``, ``accept`` and echo, with netsocket sockets.

Run: ``python -m examples.tcp_server`` (listens on port 7007 of the emulated ESP8266; the emulator makes a server
socket on the module reachable from this computer at 127.0.0.1 on the same port, so try
``nc 127.0.0.1 7007``), or ``python -m examples.tcp_server --listen 8080 --port /dev/ttyUSB0``.
``--once`` serves one connection and exits; otherwise it serves one client after another until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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


def serve(net: NetworkInterface, port: int, address: str | None, once: bool, note: str = "") -> int:
    with TCPSocket() as server:
        for what, err in (
            ("open a socket", server.open(net)),
            (f"bind port {port}", server.bind(SocketAddress(address, port) if address else port)),
            ("listen", server.listen(1)),
        ):
            if err != NsapiError.OK:
                raise NetworkError(f"cannot {what}: {NsapiError(err)}")
        print(f"Echo server listening on {address or ip_address(net)}:{port}{note}", flush=True)
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
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.listen <= 0xFFFF:
        parser.error("--listen must be a port number 1-65535")
    try:
        with connected_network(args) as net:
            note = f" (from this computer: 127.0.0.1:{args.listen})" if emulated(args) else ""
            return serve(net, args.listen, args.address, args.once, note)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
