"""Mbed's UDPSOCKET_* cases (test plan §3.3) against the loopback echo and discard servers, plus the DESIGN.md §4
contract: CONNECTION_TIMEOUT on timeouts, NO_ADDRESS without a peer, connected sockets filtering other senders,
truncation of a datagram larger than the buffer.

Mbed tolerates up to 30% loss on a real network; every server here is on loopback, so a lost datagram is a bug:
a case may retry a datagram (as Mbed's does) but must end with every one echoed."""

from __future__ import annotations

import threading
from collections import Counter

from netsocket import NsapiError, SocketAddress, UDPSocket
from tests.conformance.harness import ECHO_SIZES, SOCKET_TIMEOUT_MS, Network, Sigio, Sockets, payload, timed

TRIES = 3
"""Mbed's sendto/recvfrom tries per datagram."""
TRY_TIMEOUT_MS = 1000
BURST = [100, 200, 300, 120, 500]
BURST_ROUNDS = 100


def echo_datagram(sock: UDPSocket, target: SocketAddress | None, data: bytes) -> None:
    """Send one datagram (to ``target``, or the connected peer) and read its echo, with Mbed's retries."""
    buffer = bytearray(len(data) + 100)
    sock.set_timeout(TRY_TIMEOUT_MS)
    for _ in range(TRIES):
        sent = sock.send(data) if target is None else sock.sendto(target, data)
        assert sent == len(data), f"sendto gave {sent!s}"
        sender = SocketAddress()
        result = sock.recvfrom(sender, buffer)
        if result == NsapiError.CONNECTION_TIMEOUT:
            continue
        assert result == len(data), f"recvfrom gave {result!s} for {len(data)} bytes"
        assert buffer[:result] == data
        expected = target if target is not None else SocketAddress()
        if target is None:
            assert sock.getpeername(expected) == NsapiError.OK
        assert sender == expected
        return
    raise AssertionError(f"no echo of a {len(data)}-byte datagram in {TRIES} tries")


def sizes(network: Network) -> list[int]:
    return [size for size in ECHO_SIZES if size <= network.caps.max_udp_payload]


def test_UDPSOCKET_ECHOTEST(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    for size in sizes(network):
        echo_datagram(sock, network.echo_udp, payload(size))


def test_UDPSOCKET_ECHOTEST_CONNECT_SEND_RECV(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    assert sock.connect(network.echo_udp) == NsapiError.OK
    for size in sizes(network):
        echo_datagram(sock, None, payload(size, seed=3))


def nonblocking_echo(sock: UDPSocket, sigio: Sigio, target: SocketAddress | None, data: bytes) -> None:
    buffer = bytearray(len(data) + 100)
    while True:
        sigio.arm()
        sent = sock.send(data) if target is None else sock.sendto(target, data)
        if sent == NsapiError.WOULD_BLOCK:
            sigio.wait("send a datagram")
            continue
        assert sent == len(data), f"sendto gave {sent!s}"
        break
    while True:
        sigio.arm()
        result = sock.recvfrom(None, buffer)
        if result == NsapiError.WOULD_BLOCK:
            sigio.wait("receive a datagram")
            continue
        assert result == len(data), f"recvfrom gave {result!s}"
        assert buffer[:result] == data
        return


def test_UDPSOCKET_ECHOTEST_NONBLOCK(network: Network, sockets: Sockets) -> None:
    """Non-blocking echo driven by sigio (an Event, no polling)."""
    sock = sockets.udp()
    sigio = Sigio(sock)
    sock.set_blocking(False)
    for size in sizes(network):
        nonblocking_echo(sock, sigio, network.echo_udp, payload(size, seed=4))


def test_UDPSOCKET_ECHOTEST_NONBLOCK_CONNECT_SEND_RECV(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    sigio = Sigio(sock)
    sock.set_blocking(False)
    assert sock.connect(network.echo_udp) == NsapiError.OK
    for size in sizes(network):
        nonblocking_echo(sock, sigio, None, payload(size, seed=5))


def burst_round(sock: UDPSocket, network: Network, round_: int, sigio: Sigio | None) -> None:
    sent = [payload(size, seed=round_) for size in BURST]
    for data in sent:
        while True:
            if sigio is not None:
                sigio.arm()
            result = sock.sendto(network.echo_udp, data)
            if result == NsapiError.WOULD_BLOCK and sigio is not None:
                sigio.wait("send a burst")
                continue
            assert result == len(data), f"sendto gave {result!s}"
            break
    received: list[bytes] = []
    buffer = bytearray(sum(BURST))
    merging = network.caps.udp_merges_queued_datagrams

    def all_back() -> bool:
        if merging:
            return sum(map(len, received)) >= sum(map(len, sent))
        return len(received) >= len(sent)

    while not all_back():
        if sigio is not None:
            sigio.arm()
        result = sock.recvfrom(None, buffer)
        if result == NsapiError.WOULD_BLOCK and sigio is not None:
            sigio.wait("receive a burst")
            continue
        assert result > 0, f"round {round_}: recvfrom gave {result!s} after {len(received)} datagrams"
        received.append(bytes(buffer[:result]))
    if merging:
        assert b"".join(received) == b"".join(sent), "joined datagrams must keep their order; no loss or damage"
    else:
        assert Counter(received) == Counter(sent), "reordering is allowed; loss, merging and damage are not"


def test_UDPSOCKET_ECHOTEST_BURST(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    sock.set_timeout(5000)
    for round_ in range(BURST_ROUNDS):
        burst_round(sock, network, round_, None)


def test_UDPSOCKET_ECHOTEST_BURST_NONBLOCK(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    sigio = Sigio(sock)
    sock.set_blocking(False)
    for round_ in range(BURST_ROUNDS):
        burst_round(sock, network, round_, sigio)


def test_UDPSOCKET_SENDTO_REPEAT(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    before = network.servers.discard_udp.received
    for _ in range(100):
        assert sock.sendto(network.discard_udp, b"hello") == 5
    # The datagrams really left (loopback loses none).
    assert network.servers.discard_udp.wait_received(before + 100, 5.0), network.servers.discard_udp.received


def test_UDPSOCKET_SENDTO_INVALID(network: Network, sockets: Sockets) -> None:
    """No address, an empty address or port 0: PARAMETER. A 0-byte datagram: 0. Then a real one: 5."""
    sock = sockets.udp()
    port = network.discard_udp.get_port()
    assert sock.sendto(SocketAddress(), b"hello") == NsapiError.PARAMETER
    assert sock.sendto(SocketAddress("", port), b"hello") == NsapiError.PARAMETER
    assert sock.sendto(SocketAddress(network.discard_udp.get_ip_address(), 0), b"hello") == NsapiError.PARAMETER
    assert sock.sendto(network.discard_udp, b"") == 0
    assert sock.sendto(network.discard_udp, b"hello") == 5


def test_UDPSOCKET_SENDTO_WRONG_FAMILY(network: Network, sockets: Sockets) -> None:
    """After IPv4 traffic, an IPv6 destination is the wrong family: PARAMETER."""
    sock = sockets.udp()
    assert sock.sendto(network.discard_udp, b"v4") == 2
    assert sock.sendto(SocketAddress("::1", network.discard_udp.get_port()), b"v6") == NsapiError.PARAMETER


def test_UDPSOCKET_SENDTO_TIMEOUT(network: Network, sockets: Sockets) -> None:
    """Each sendto of 100 bytes to discard returns 100 promptly, blocking forever or with set_timeout(1000)."""
    sock = sockets.udp()
    for timeout in (-1, 1000):
        sock.set_timeout(timeout)
        for _ in range(10):
            result, seconds = timed(lambda: sock.sendto(network.discard_udp, payload(100)))
            assert result == 100
            assert seconds < 0.5


def test_UDPSOCKET_RECV_TIMEOUT(network: Network, sockets: Sockets) -> None:
    """set_timeout(100): a recvfrom with nothing to read returns CONNECTION_TIMEOUT (DESIGN, not Mbed's
    WOULD_BLOCK) after about 100 ms; an echo afterwards still arrives."""
    sock = sockets.udp()
    buffer = bytearray(100)
    for round_ in range(3):
        sock.set_timeout(100)
        result, seconds = timed(lambda: sock.recvfrom(None, buffer))
        assert result == NsapiError.CONNECTION_TIMEOUT
        assert 0.09 <= seconds < 1.0, f"timed out after {seconds:.3f} s"
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        echo_datagram(sock, network.echo_udp, payload(100, seed=round_))


def test_UDPSOCKET_RECV_NONBLOCK_EMPTY(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    sock.set_blocking(False)
    assert sock.sendto(network.discard_udp, b"x") == 1
    assert sock.recvfrom(None, bytearray(10)) == NsapiError.WOULD_BLOCK


def test_UDPSOCKET_SEND_WITHOUT_CONNECT(network: Network, sockets: Sockets) -> None:
    """send on a UDP socket with no peer: NO_ADDRESS; connecting to an empty address clears the peer again."""
    sock = sockets.udp()
    assert sock.send(b"hello") == NsapiError.NO_ADDRESS
    assert sock.getpeername(SocketAddress()) == NsapiError.NO_CONNECTION
    assert sock.connect(network.discard_udp) == NsapiError.OK
    assert sock.send(b"hello") == 5
    assert sock.connect(SocketAddress()) == NsapiError.OK
    assert sock.send(b"hello") == NsapiError.NO_ADDRESS


def test_UDPSOCKET_CONNECTED_FILTERS_OTHER_SENDERS(network: Network, sockets: Sockets) -> None:
    """A connected UDP socket drops datagrams from anyone but its peer (here: the echo of another server)."""
    sock = sockets.udp()
    assert sock.connect(network.echo_udp) == NsapiError.OK
    other_before = network.servers.echo_udp_other.received
    assert sock.sendto(network.echo_udp_other, b"from the other server") == 21
    assert network.servers.echo_udp_other.wait_received(other_before + 1, 5.0)
    assert sock.send(b"from the peer") == 13
    buffer = bytearray(100)
    sender = SocketAddress()
    result = sock.recvfrom(sender, buffer)
    assert result == 13
    assert buffer[:result] == b"from the peer"
    assert sender == network.echo_udp
    sock.set_timeout(100)
    assert sock.recv(buffer) == NsapiError.CONNECTION_TIMEOUT


def test_UDPSOCKET_TIMEOUT_WHILE_OTHERS_SEND(network: Network, sockets: Sockets) -> None:
    """Issue 12: the timeout of a connected socket's recv is one deadline for the call. Datagrams from another
    sender (here the echoes of a second server, one every 100 ms) are dropped without starting the wait again."""
    sock = sockets.udp()
    assert sock.connect(network.echo_udp) == NsapiError.OK
    stop = threading.Event()
    sent: list[int] = []

    def provoke_echoes() -> None:
        while not stop.wait(0.1):
            sent.append(sock.sendto(network.echo_udp_other, b"echo me"))

    thread = threading.Thread(target=provoke_echoes, name="other-sender")
    thread.start()
    try:
        assert network.servers.echo_udp_other.wait_received(2, 5.0)
        sock.set_timeout(500)
        result, seconds = timed(lambda: sock.recv(bytearray(100)))
    finally:
        stop.set()
        thread.join(5)
    assert result == NsapiError.CONNECTION_TIMEOUT, f"recv gave {result!s}"
    assert 0.45 <= seconds < 1.2, f"a 500 ms timeout fired after {seconds:.2f} s"
    assert sent and all(size == 7 for size in sent), sent


def test_UDPSOCKET_TRUNCATION(network: Network, sockets: Sockets) -> None:
    """A datagram larger than the buffer is truncated; the rest is dropped, never merged into the next one."""
    sock = sockets.udp()
    assert sock.connect(network.echo_udp) == NsapiError.OK
    big = payload(500, seed=6)
    assert sock.send(big) == 500
    small = bytearray(10)
    assert sock.recv(small) == 10
    assert small == big[:10]
    assert sock.send(b"next") == 4
    buffer = bytearray(600)
    result = sock.recv(buffer)
    assert result == 4
    assert buffer[:4] == b"next"


def test_UDPSOCKET_GETPEERNAME(network: Network, sockets: Sockets) -> None:
    sock = sockets.udp()
    peer = SocketAddress()
    assert sock.getpeername(peer) == NsapiError.NO_CONNECTION
    assert sock.connect(network.echo_udp) == NsapiError.OK
    assert sock.getpeername(peer) == NsapiError.OK
    assert peer == network.echo_udp
