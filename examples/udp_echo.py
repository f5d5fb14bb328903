"""UDP echo client with a netsocket ``UDPSocket``: sends numbered datagrams, prints each round-trip time.

Run: ``python -m examples.udp_echo`` (starts a UDP echo server on 127.0.0.1 and pings it through the emulated
ESP8266), or ``python -m examples.udp_echo --server 127.0.0.1:7 --count 10 --size 512``.
Exit status 0 when every datagram came back intact, 1 when any was lost or a network call failed.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Sequence

from examples._network import (
    NetworkError,
    add_network_arguments,
    connected_network,
    interruptible,
    resolve,
    split_host_port,
)
from examples._udp_server import local_udp_server
from netsocket import NetworkInterface, NsapiError, SocketAddress, UDPSocket


def local_echo_server() -> contextlib.AbstractContextManager[str]:
    """A UDP echo server on 127.0.0.1 for the block; yields its ``host:port``."""
    return local_udp_server("demo-udp-echo", lambda data, _peer: data)


def payload(sequence: int, size: int) -> bytes:
    head = f"netsocket udp_echo #{sequence} ".encode()
    return (head * (size // len(head) + 1))[:size]


def ping(sock: UDPSocket, server: SocketAddress, sequence: int, size: int, timeout_ms: int) -> float | None:
    """Send one datagram and wait for its echo: the round trip in seconds, or None if none came in time.
    Late echoes of earlier datagrams are skipped; a network error raises ``NetworkError``."""
    data = payload(sequence, size)
    started = time.monotonic()
    sent = sock.sendto(server, data)
    if sent != len(data):
        raise NetworkError(f"sendto {server} failed: {NsapiError(sent) if sent < 0 else f'{sent} bytes sent'}")
    deadline = started + timeout_ms / 1000
    buffer = bytearray(size + 1)
    sender = SocketAddress()
    while (left := deadline - time.monotonic()) > 0:
        sock.set_timeout(max(1, int(left * 1000)))
        got = sock.recvfrom(sender, buffer)
        if got in (NsapiError.CONNECTION_TIMEOUT, NsapiError.WOULD_BLOCK):
            return None
        if got < 0:
            raise NetworkError(f"recvfrom failed: {NsapiError(got)}")
        if bytes(buffer[:got]) == data:
            return time.monotonic() - started
    return None


def run(net: NetworkInterface, target: str, count: int, size: int, timeout_ms: int) -> int:
    host, port = split_host_port(target, 7)
    server = resolve(net, host, port)
    rtts: list[float] = []
    with UDPSocket() as sock:
        err = sock.open(net)
        if err != NsapiError.OK:
            raise NetworkError(f"cannot open a UDP socket: {NsapiError(err)}")
        print(f"UDP echo to {server}: {count} datagrams of {size} bytes")
        for sequence in range(1, count + 1):
            rtt = ping(sock, server, sequence, size, timeout_ms)
            if rtt is None:
                print(f"#{sequence}: no echo within {timeout_ms} ms")
            else:
                rtts.append(rtt)
                print(f"#{sequence}: {size} bytes echoed in {rtt * 1000:.1f} ms")
    lost = count - len(rtts)
    summary = f"{count} sent, {len(rtts)} echoed, {lost} lost"
    if rtts:
        ms = [rtt * 1000 for rtt in rtts]
        summary += f"; round trip min/avg/max {min(ms):.1f}/{statistics.fmean(ms):.1f}/{max(ms):.1f} ms"
    print(summary)
    return 0 if lost == 0 else 1


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", help="echo server HOST:PORT (default: one started on 127.0.0.1)")
    parser.add_argument("--count", type=int, default=5, help="datagrams to send (default: 5)")
    parser.add_argument("--size", type=int, default=32, help="bytes per datagram, 1-1400 (default: 32)")
    parser.add_argument("--timeout-ms", type=int, default=2000, help="wait per echo (default: 2000)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 1400 or args.count < 1 or args.timeout_ms < 1:
        parser.error("--size must be 1-1400, --count and --timeout-ms positive")
    try:
        split_host_port(args.server or "127.0.0.1", 7)
    except ValueError as exc:
        parser.error(f"--server: {exc}")
    try:
        with connected_network(args) as net, contextlib.ExitStack() as stack:
            target = args.server or stack.enter_context(local_echo_server())
            return run(net, target, args.count, args.size, args.timeout_ms)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
