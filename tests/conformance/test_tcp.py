"""Mbed's TCPSOCKET_* cases (test plan §3.4) against the loopback echo/discard/chargen/daytime servers, plus the
DESIGN.md §4 contract: CONNECTION_TIMEOUT on timeouts, the non-blocking connect sequence, NO_CONNECTION before
connect, close() waking a blocked call, no socket calls from sigio, a server socket, a peer reset."""

from __future__ import annotations

import re
import socket as pysocket
import threading
import time
from collections.abc import Callable

import pytest

from netsocket import NsapiError, NsapiSocketLevel, NsapiSocketOption, SocketAddress, TCPSocket
from tests.conformance.harness import (
    ECHO_SIZES,
    SOCKET_TIMEOUT_MS,
    Network,
    Sigio,
    Sockets,
    free_port,
    payload,
    recv_exactly,
    recv_nonblocking,
    send_nonblocking,
    timed,
)
from tests.servers import ChargenChecker, http_big_body

BURST = [100, 200, 300, 120, 500]
BURST_ROUNDS = 100
RECV_100K = 102_400


def echo_once(sock: TCPSocket, data: bytes) -> None:
    assert sock.send(data) == len(data), "a blocking send sends everything"
    assert recv_exactly(sock, len(data)) == data


def test_TCPSOCKET_ECHOTEST(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.echo_tcp)
    for size in ECHO_SIZES:
        echo_once(sock, payload(size))


def test_TCPSOCKET_ECHOTEST_NONBLOCK(network: Network, sockets: Sockets) -> None:
    """Non-blocking echo driven by sigio (an Event, no polling)."""
    sock = sockets.tcp(network.echo_tcp)
    sigio = Sigio(sock)
    sock.set_blocking(False)
    for size in ECHO_SIZES:
        data = payload(size, seed=1)
        send_nonblocking(sock, data, sigio)
        assert recv_nonblocking(sock, size, sigio) == data
    assert sigio.calls > 0


def test_TCPSOCKET_ECHOTEST_BURST(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.echo_tcp)
    for round_ in range(BURST_ROUNDS):
        chunks = [payload(size, seed=round_) for size in BURST]
        for chunk in chunks:
            assert sock.send(chunk) == len(chunk)
        assert recv_exactly(sock, sum(BURST)) == b"".join(chunks)


def test_TCPSOCKET_ECHOTEST_BURST_NONBLOCK(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.echo_tcp)
    sigio = Sigio(sock)
    sock.set_blocking(False)
    for round_ in range(BURST_ROUNDS):
        chunks = [payload(size, seed=round_) for size in BURST]
        for chunk in chunks:
            send_nonblocking(sock, chunk, sigio)
        assert recv_nonblocking(sock, sum(BURST), sigio) == b"".join(chunks)


def test_TCPSOCKET_RECV_100K(network: Network, sockets: Sockets) -> None:
    """100 KiB from chargen into a 1220-byte buffer; every recv gives data; the RFC 864 pattern holds."""
    sock = sockets.tcp(network.chargen_tcp)
    checker = ChargenChecker()
    buffer = bytearray(1220)
    while checker.checked < RECV_100K:
        result = sock.recv(buffer)
        assert 0 < result <= len(buffer), f"recv gave {result!s} after {checker.checked} bytes"
        checker.feed(memoryview(buffer)[:result])


def test_TCPSOCKET_RECV_100K_NONBLOCK(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.chargen_tcp)
    sigio = Sigio(sock)
    sock.set_blocking(False)
    checker = ChargenChecker()
    buffer = bytearray(1220)
    while checker.checked < RECV_100K:
        sigio.arm()
        result = sock.recv(buffer)
        if result == NsapiError.WOULD_BLOCK:
            sigio.wait("receive chargen data")
            continue
        assert 0 < result <= len(buffer), f"recv gave {result!s} after {checker.checked} bytes"
        checker.feed(memoryview(buffer)[:result])


def test_TCPSOCKET_RECV_TIMEOUT(network: Network, sockets: Sockets) -> None:
    """set_timeout(100): a recv with nothing to read returns CONNECTION_TIMEOUT (DESIGN, not Mbed's WOULD_BLOCK)
    after about 100 ms; data sent afterwards still arrives."""
    sock = sockets.tcp(network.echo_tcp)
    buffer = bytearray(100)
    for round_ in range(3):
        sock.set_timeout(100)
        result, seconds = timed(lambda: sock.recv(buffer))
        assert result == NsapiError.CONNECTION_TIMEOUT
        assert 0.09 <= seconds < 1.0, f"timed out after {seconds:.3f} s"
        sock.set_timeout(SOCKET_TIMEOUT_MS)
        echo_once(sock, payload(100, seed=round_))


def test_TCPSOCKET_SEND_REPEAT(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.discard_tcp)
    for _ in range(100):
        assert sock.send(b"hello") == 5


def test_TCPSOCKET_SEND_TIMEOUT(network: Network, sockets: Sockets) -> None:
    """Each send("hello") to discard returns 5 within 800 ms, blocking forever or with set_timeout(1000)."""
    sock = sockets.tcp(network.discard_tcp)
    for timeout in (-1, 1000):
        sock.set_timeout(timeout)
        for _ in range(10):
            result, seconds = timed(lambda: sock.send(b"hello"))
            assert result == 5
            assert seconds < 0.8


def test_TCPSOCKET_ENDPOINT_CLOSE(network: Network, sockets: Sockets) -> None:
    """daytime sends the date and closes: recv gives the date, then 0 (and 0 again); close is OK."""
    sock = sockets.tcp(network.daytime_tcp)
    buffer = bytearray(30)
    text = b""
    while (result := sock.recv(buffer)) != 0:
        assert result > 0, f"recv gave {result!s}"
        text += buffer[:result]
        assert len(text) < 30
    assert re.fullmatch(rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n", text), text
    assert sock.recv(buffer) == 0
    assert sock.close() == NsapiError.OK


def test_TCPSOCKET_CONNECT_INVALID(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp()
    port = network.discard_tcp.get_port()
    assert sock.connect(SocketAddress()) == NsapiError.PARAMETER
    assert sock.connect(SocketAddress("", port)) == NsapiError.PARAMETER
    assert sock.connect(SocketAddress(network.discard_tcp.get_ip_address(), 0)) == NsapiError.PARAMETER
    assert sock.connect(SocketAddress("no such host", port)) == NsapiError.PARAMETER
    assert sock.connect(network.discard_tcp) == NsapiError.OK
    assert sock.close() == NsapiError.OK


def test_TCPSOCKET_CONNECT_REFUSED(network: Network, sockets: Sockets) -> None:
    """Nothing listens on the port: NO_CONNECTION."""
    sock = sockets.tcp()
    assert sock.connect(network.route(("127.0.0.1", free_port()))) == NsapiError.NO_CONNECTION


def test_TCPSOCKET_CONNECT_TWICE(network: Network, sockets: Sockets) -> None:
    """connect on a connected socket gives IS_CONNECTED, and the connection still works."""
    sock = sockets.tcp(network.echo_tcp)
    assert sock.connect(network.echo_tcp) == NsapiError.IS_CONNECTED
    echo_once(sock, b"still connected")


def test_TCPSOCKET_CONNECT_NONBLOCK(network: Network, sockets: Sockets) -> None:
    """Non-blocking connect: IN_PROGRESS, then ALREADY while pending (sigio says when to ask again), then
    IS_CONNECTED; the connection then carries data."""
    sock = sockets.tcp()
    sigio = Sigio(sock)
    sock.set_blocking(False)
    sigio.arm()
    results = [sock.connect(network.echo_tcp)]
    assert results[0] == NsapiError.IN_PROGRESS
    while results[-1] != NsapiError.IS_CONNECTED:
        assert len(results) < 50, results
        sigio.wait("connect")
        sigio.arm()
        results.append(sock.connect(network.echo_tcp))
        assert results[-1] in (NsapiError.ALREADY, NsapiError.IS_CONNECTED), results
    assert sock.connect(network.echo_tcp) == NsapiError.IS_CONNECTED
    data = payload(500)
    send_nonblocking(sock, data, sigio)
    assert recv_nonblocking(sock, len(data), sigio) == data


def test_TCPSOCKET_CONNECT_PENDING_ALREADY(network: Network, sockets: Sockets) -> None:
    """A connect the peer does not answer stays pending: IN_PROGRESS, then ALREADY on every further call."""
    sock = sockets.tcp()
    sock.set_blocking(False)
    assert sock.connect(network.stalled_tcp) == NsapiError.IN_PROGRESS
    assert sock.connect(network.stalled_tcp) == NsapiError.ALREADY
    assert sock.connect(network.stalled_tcp) == NsapiError.ALREADY
    assert sock.send(b"x") == NsapiError.NO_CONNECTION
    assert sock.close() == NsapiError.OK


def test_TCPSOCKET_CONNECT_TIMEOUT(network: Network, sockets: Sockets) -> None:
    """A blocking connect that does not finish within set_timeout gives CONNECTION_TIMEOUT, on time."""
    sock = sockets.tcp()
    sock.set_timeout(200)
    result, seconds = timed(lambda: sock.connect(network.stalled_tcp))
    assert result == NsapiError.CONNECTION_TIMEOUT
    assert 0.18 <= seconds < 1.5, f"gave up after {seconds:.3f} s"


def test_TCPSOCKET_SEND_UNCONNECTED(network: Network, sockets: Sockets) -> None:
    """send/recv on an opened but unconnected TCP socket: NO_CONNECTION (DESIGN's error table)."""
    sock = sockets.tcp()
    assert sock.send(b"hello") == NsapiError.NO_CONNECTION
    assert sock.recv(bytearray(10)) == NsapiError.NO_CONNECTION
    assert sock.getpeername(SocketAddress()) == NsapiError.NO_CONNECTION


def test_TCPSOCKET_GETPEERNAME(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp(network.echo_tcp)
    peer = SocketAddress()
    assert sock.getpeername(peer) == NsapiError.OK
    assert peer == network.echo_tcp


def test_TCPSOCKET_SETSOCKOPT_KEEPALIVE_VALID(network: Network, sockets: Sockets) -> None:
    sock = sockets.tcp()
    expected = NsapiError.OK if network.caps.keepalive else NsapiError.UNSUPPORTED
    assert sock.setsockopt(NsapiSocketLevel.SOCKET, NsapiSocketOption.KEEPALIVE, 7200) == expected
    assert sock.connect(network.discard_tcp) == NsapiError.OK
    assert sock.send(b"hello") == 5


def test_TCPSOCKET_SETSOCKOPT_UNKNOWN(network: Network, sockets: Sockets) -> None:
    """An option the stack does not know: UNSUPPORTED (Mbed §1.16)."""
    sock = sockets.tcp()
    assert sock.setsockopt(NsapiSocketLevel.SOCKET, 999, 1) == NsapiError.UNSUPPORTED
    assert sock.getsockopt(NsapiSocketLevel.SOCKET, 999) == (NsapiError.UNSUPPORTED, None)


def test_TCPSOCKET_THREAD_PER_SOCKET_SAFETY(network: Network, sockets: Sockets) -> None:
    """Two sockets in two threads: one echoes 10-byte packets, the other sizes 1001, 901, ..., 1."""
    small, large = sockets.tcp(network.echo_tcp), sockets.tcp(network.echo_tcp)
    errors: list[BaseException] = []
    rounds = 0

    def helper() -> None:
        nonlocal rounds
        try:
            for i in range(100):
                echo_once(small, payload(10, seed=i))
                rounds += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=helper, name="THREAD_PER_SOCKET_SAFETY")
    thread.start()
    try:
        for size in range(1001, 0, -100):
            echo_once(large, payload(size, seed=2))
    finally:
        thread.join(30)
    assert not thread.is_alive()
    assert not errors, errors
    assert rounds == 100


def test_TCPSOCKET_CLOSE_WAKES_RECV(network: Network, sockets: Sockets, monkeypatch: pytest.MonkeyPatch) -> None:
    """close() from another thread wakes a recv blocked in the socket at once; the recv returns NO_SOCKET."""
    sock = sockets.tcp(network.echo_tcp)
    sock.set_timeout(-1)
    asked = threading.Event()
    original = network.stack.socket_recv

    def spy(handle: object, buffer: memoryview) -> int:
        result = original(handle, buffer)
        asked.set()
        return result

    monkeypatch.setattr(network.stack, "socket_recv", spy)
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(sock.recv(bytearray(10))), name="blocked-recv")
    thread.start()
    try:
        assert asked.wait(5), "recv never asked the stack"
        start = time.monotonic()
        assert sock.close() == NsapiError.OK
    finally:
        thread.join(5)
    assert not thread.is_alive(), "close() did not wake the blocked recv"
    assert time.monotonic() - start < 1.0
    assert outcome == [NsapiError.NO_SOCKET]


def test_TCPSOCKET_NO_CALLS_FROM_SIGIO(network: Network, sockets: Sockets) -> None:
    """recv or send from inside a sigio callback raises RuntimeError instead of deadlocking."""
    sock = sockets.tcp(network.echo_tcp)
    raised: list[BaseException | None] = []
    done = threading.Event()

    def callback() -> None:
        calls: list[Callable[[], int]] = [lambda: sock.recv(bytearray(8)), lambda: sock.send(b"x")]
        for call in calls:
            try:
                call()
            except RuntimeError as exc:
                raised.append(exc)
            else:
                raised.append(None)
        done.set()

    sock.sigio(callback)
    assert sock.send(b"ping") == 4
    assert done.wait(5), "sigio never ran"
    assert len(raised) == 2
    assert all(isinstance(exc, RuntimeError) for exc in raised), raised
    sock.sigio(None)
    assert recv_exactly(sock, 4) == b"ping"  # the socket still works outside the callback


def test_TCPSOCKET_PEER_RESET(network: Network, sockets: Sockets) -> None:
    """The peer resets the connection: recv reports it (CONNECTION_LOST per DESIGN; 0 where the stack cannot tell
    a reset from a close), and a later send gives CONNECTION_LOST."""
    sock = sockets.tcp(network.reset_tcp)
    assert sock.send(b"x") == 1
    assert sock.recv(bytearray(10)) in network.caps.peer_reset
    assert sock.send(b"after the reset") == NsapiError.CONNECTION_LOST


def test_TCPSOCKET_SERVER(network: Network, sockets: Sockets) -> None:
    """bind/listen/accept on the stack; a host client connects to where the stack entry says; data both ways;
    the host's close reaches the accepted socket as recv() == 0."""
    server = sockets.tcp()
    port = free_port()
    if not network.caps.listen:
        assert server.listen() == NsapiError.UNSUPPORTED
        return
    assert server.bind(port) == NsapiError.OK
    assert server.listen(2) == NsapiError.OK
    server.set_blocking(False)
    assert server.accept() == (None, NsapiError.WOULD_BLOCK)
    server.set_timeout(100)
    result, seconds = timed(lambda: server.accept()[1])
    assert result == NsapiError.CONNECTION_TIMEOUT
    assert 0.09 <= seconds < 1.0
    server.set_timeout(SOCKET_TIMEOUT_MS)
    with pysocket.create_connection(network.reach(port), timeout=5) as client:
        conn, err = server.accept()
        assert err == NsapiError.OK
        assert conn is not None
        sockets.track(conn)
        peer = SocketAddress()
        assert conn.getpeername(peer) == NsapiError.OK
        assert peer and peer.get_port() != 0
        client.sendall(b"hello stack")
        assert recv_exactly(conn, 11) == b"hello stack"
        assert conn.send(b"hello host") == 10
        received = b""
        while len(received) < 10:
            chunk = client.recv(10 - len(received))
            assert chunk
            received += chunk
        assert received == b"hello host"
    assert conn.recv(bytearray(10)) == 0
    assert conn.close() == NsapiError.OK


def test_TCPSOCKET_HTTP_GET(network: Network, sockets: Sockets) -> None:
    """End to end: an HTTP/1.1 GET of 256 KiB from the loopback HTTP server arrives byte-exact."""
    sock = sockets.tcp(network.http)
    request = f"GET /big HTTP/1.1\r\nHost: {network.http}\r\nConnection: close\r\n\r\n".encode()
    assert sock.send(request) == len(request)
    response = bytearray()
    buffer = bytearray(4096)
    while (result := sock.recv(buffer)) != 0:
        assert result > 0, f"recv gave {result!s}"
        response += buffer[:result]
    head, _, body = bytes(response).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == http_big_body()
