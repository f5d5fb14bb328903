"""The socket layer's blocking, timeout and sigio policy, checked against a scripted stack.

The scripted stack answers each primitive from a queue the test fills, and records the calls, so these tests show
what the socket layer itself does: how often it asks the stack, when it waits, and what it returns.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from netsocket import NsapiError, NsapiProtocol, SocketAddress, TCPSocket, UDPSocket
from netsocket.stack import NetworkStack

E = NsapiError
PEER = SocketAddress("127.0.0.1", 7)


class ScriptedStack(NetworkStack):
    def __init__(self, max_sockets: int = 4) -> None:
        self.script: dict[str, deque[Any]] = {}
        self.calls: list[str] = []
        self.callbacks: dict[int, Callable[[], None] | None] = {}
        self.open_handles: set[int] = set()
        self.max_sockets = max_sockets
        self.recv_called = threading.Event()
        self._next = 0

    def answer(self, name: str, *results: Any) -> None:
        self.script.setdefault(name, deque()).extend(results)

    def _next_answer(self, name: str, default: Any) -> Any:
        self.calls.append(name)
        queue = self.script.get(name)
        return queue.popleft() if queue else default

    def fire(self, handle: int = 0) -> None:
        callback = self.callbacks.get(handle)
        if callback is not None:
            callback()

    def socket_open(self, proto: NsapiProtocol) -> tuple[NsapiError, Any]:
        if len(self.open_handles) >= self.max_sockets:
            return E.NO_SOCKET, None
        handle, self._next = self._next, self._next + 1
        self.open_handles.add(handle)
        return E.OK, handle

    def socket_close(self, handle: Any) -> NsapiError:
        self.open_handles.discard(handle)
        return E.OK

    def socket_bind(self, handle: Any, address: SocketAddress) -> NsapiError:
        return self._next_answer("bind", E.OK)  # type: ignore[no-any-return]

    def socket_listen(self, handle: Any, backlog: int) -> NsapiError:
        return E.OK

    def socket_connect(self, handle: Any, address: SocketAddress) -> NsapiError:
        return self._next_answer("connect", E.IS_CONNECTED)  # type: ignore[no-any-return]

    def socket_accept(self, handle: Any) -> tuple[NsapiError, Any, SocketAddress | None]:
        return self._next_answer("accept", (E.WOULD_BLOCK, None, None))  # type: ignore[no-any-return]

    def socket_send(self, handle: Any, data: bytes | memoryview) -> int:
        result = self._next_answer("send", len(data))
        return min(int(result), len(data)) if result >= 0 else int(result)

    def socket_recv(self, handle: Any, buffer: memoryview) -> int:
        result = self._next_answer("recv", E.WOULD_BLOCK)
        self.recv_called.set()
        if isinstance(result, bytes):
            buffer[: len(result)] = result
            return len(result)
        return int(result)

    def socket_sendto(self, handle: Any, address: SocketAddress, data: bytes | memoryview) -> int:
        return int(self._next_answer("sendto", len(data)))

    def socket_recvfrom(self, handle: Any, buffer: memoryview) -> tuple[int, SocketAddress | None]:
        result = self._next_answer("recvfrom", (E.WOULD_BLOCK, None))
        data, sender = result
        if isinstance(data, bytes):
            buffer[: len(data)] = data
            return len(data), sender
        return data, sender

    def socket_attach(self, handle: Any, callback: Callable[[], None] | None) -> None:
        self.callbacks[handle] = callback


@pytest.fixture
def stack() -> ScriptedStack:
    return ScriptedStack()


def connected_tcp(stack: ScriptedStack) -> TCPSocket:
    sock = TCPSocket()
    assert sock.open(stack) == E.OK
    assert sock.connect(PEER) == E.IS_CONNECTED
    return sock


def fire_later(stack: ScriptedStack, delay: float, before: Callable[[], object] = lambda: None) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)  # plays the network's part: the event happens some time later
        before()
        stack.fire()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_blocking_recv_waits_for_the_stack_event_without_polling(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    stack.answer("recv", E.WOULD_BLOCK, b"data")
    thread = fire_later(stack, 0.2)
    buf = bytearray(10)
    assert sock.recv(buf) == 4
    thread.join()
    assert buf[:4] == b"data"
    assert stack.calls.count("recv") == 2


def test_timed_out_recv_returns_connection_timeout_after_the_timeout(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    sock.set_timeout(150)
    started = time.monotonic()
    assert sock.recv(bytearray(10)) == E.CONNECTION_TIMEOUT
    assert 0.14 <= time.monotonic() - started < 1.0
    assert stack.calls.count("recv") == 1


def test_non_blocking_recv_returns_would_block_at_once(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    sock.set_blocking(False)
    assert sock.recv(bytearray(10)) == E.WOULD_BLOCK


def test_close_from_another_thread_wakes_a_blocked_recv(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    results: list[int] = []
    reader = threading.Thread(target=lambda: results.append(sock.recv(bytearray(10))))
    reader.start()
    assert stack.recv_called.wait(2)
    started = time.monotonic()
    assert sock.close() == E.OK
    reader.join(2)
    assert results == [E.NO_SOCKET]
    assert time.monotonic() - started < 0.5


def test_blocking_send_loops_until_everything_is_sent(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    stack.answer("send", 3, E.WOULD_BLOCK, 4)
    thread = fire_later(stack, 0.05)
    assert sock.send(b"0123456789") == 10
    thread.join()
    assert stack.calls.count("send") == 4


def test_send_timeout_returns_the_partial_count(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    sock.set_timeout(50)
    stack.answer("send", 3, E.WOULD_BLOCK)
    assert sock.send(b"0123456789") == 3


def test_sigio_fires_once_between_calls_and_rearms_on_the_next_call(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    count = 0

    def on_event() -> None:
        nonlocal count
        count += 1

    sock.sigio(on_event)
    stack.fire()
    stack.fire()
    assert count == 1
    sock.set_blocking(False)
    sock.recv(bytearray(1))
    stack.fire()
    assert count == 2


def test_socket_calls_from_a_sigio_callback_raise_runtime_error(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    seen: list[BaseException] = []

    def on_event() -> None:
        try:
            sock.recv(bytearray(1))
        except RuntimeError as exc:
            seen.append(exc)

    sock.sigio(on_event)
    stack.fire()
    assert len(seen) == 1 and "callback" in str(seen[0])


def test_connect_sequence_non_blocking(stack: ScriptedStack) -> None:
    sock = TCPSocket()
    sock.open(stack)
    sock.set_blocking(False)
    stack.answer("connect", E.IN_PROGRESS, E.ALREADY, E.IS_CONNECTED)
    assert [sock.connect(PEER) for _ in range(3)] == [E.IN_PROGRESS, E.ALREADY, E.IS_CONNECTED]


def test_blocking_connect_waits_and_returns_ok(stack: ScriptedStack) -> None:
    sock = TCPSocket()
    sock.open(stack)
    stack.answer("connect", E.IN_PROGRESS, E.IS_CONNECTED)
    thread = fire_later(stack, 0.05)
    assert sock.connect(PEER) == E.OK
    thread.join()
    address = SocketAddress()
    assert sock.getpeername(address) == E.OK and address == PEER


def test_blocking_connect_timeout(stack: ScriptedStack) -> None:
    sock = TCPSocket()
    sock.open(stack)
    sock.set_timeout(50)
    stack.answer("connect", E.IN_PROGRESS)
    assert sock.connect(PEER) == E.CONNECTION_TIMEOUT


def test_error_table(stack: ScriptedStack) -> None:
    tcp = TCPSocket()
    buf = bytearray(4)
    assert tcp.send(b"x") == E.NO_SOCKET
    assert tcp.recv(buf) == E.NO_SOCKET
    assert tcp.bind(1024) == E.NO_SOCKET
    assert tcp.listen() == E.NO_SOCKET
    assert tcp.accept() == (None, E.NO_SOCKET)
    assert tcp.close() == E.NO_SOCKET
    assert tcp.getpeername(SocketAddress()) == E.NO_SOCKET
    assert tcp.setsockopt(7000, 1, 1) == E.NO_SOCKET
    assert tcp.open(stack) == E.OK
    assert tcp.open(stack) == E.PARAMETER
    assert tcp.send(b"x") == E.NO_CONNECTION
    assert tcp.getpeername(SocketAddress()) == E.NO_CONNECTION
    udp = UDPSocket()
    assert udp.open(stack) == E.OK
    assert udp.send(b"x") == E.NO_ADDRESS
    assert udp.sendto(SocketAddress(), b"x") == E.PARAMETER
    assert udp.listen() == E.UNSUPPORTED


def test_no_free_socket(stack: ScriptedStack) -> None:
    sockets = [UDPSocket() for _ in range(5)]
    results = [s.open(stack) for s in sockets]
    assert results == [E.OK] * 4 + [E.NO_SOCKET]


def test_connected_udp_drops_datagrams_from_other_senders(stack: ScriptedStack) -> None:
    udp = UDPSocket()
    udp.open(stack)
    udp.connect(PEER)
    stack.answer("recvfrom", (b"stranger", SocketAddress("127.0.0.2", 7)), (b"peer", PEER))
    sender = SocketAddress()
    buf = bytearray(16)
    assert udp.recvfrom(sender, buf) == 4
    assert buf[:4] == b"peer" and sender == PEER


def test_wrong_buffer_types_are_programming_errors(stack: ScriptedStack) -> None:
    sock = connected_tcp(stack)
    with pytest.raises(TypeError):
        sock.recv(b"immutable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sock.send("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sock.connect(("127.0.0.1", 7))  # type: ignore[arg-type]


def test_accept_returns_a_connected_socket(stack: ScriptedStack) -> None:
    server = TCPSocket()
    server.open(stack)
    assert server.bind(8080) == E.OK
    assert server.listen() == E.OK
    stack.answer("accept", (E.OK, 99, SocketAddress("127.0.0.1", 5555)))
    client, err = server.accept()
    assert err == E.OK and client is not None
    peer = SocketAddress()
    assert client.getpeername(peer) == E.OK and peer.get_port() == 5555
    stack.answer("send", 2)
    assert client.send(b"hi") == 2


def test_filtered_datagrams_do_not_restart_the_timeout(stack: ScriptedStack) -> None:
    """Issue 12: a connected UDP socket with a 300 ms timeout stayed blocked as long as another host kept sending,
    because every dropped datagram started the wait again. One deadline per call."""
    udp = UDPSocket()
    assert udp.open(stack) == E.OK
    udp.connect(PEER)
    udp.set_timeout(300)
    stranger = SocketAddress("127.0.0.2", 7)
    stop = threading.Event()

    def chatter() -> None:  # a datagram from a stranger every 50 ms for up to 3 s
        for _ in range(60):
            if stop.wait(0.05):
                return
            stack.answer("recvfrom", (b"stranger", stranger))
            stack.fire()

    thread = threading.Thread(target=chatter)
    thread.start()
    started = time.monotonic()
    try:
        assert udp.recv(bytearray(16)) == E.CONNECTION_TIMEOUT
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    assert 0.29 <= elapsed < 0.8, f"the 300 ms timeout fired after {elapsed:.2f} s"


@pytest.mark.parametrize("value", [2**32 - 1, 2**32, 10**16, 1e300, float("inf")])
def test_huge_timeouts_mean_forever(stack: ScriptedStack, value: float) -> None:
    sock = connected_tcp(stack)
    sock.set_timeout(value)  # type: ignore[arg-type]
    assert sock.get_timeout() == -1
    stack.answer("recv", E.WOULD_BLOCK, b"data")
    thread = fire_later(stack, 0.1)
    assert sock.recv(bytearray(10)) == 4  # waits (no OverflowError from the wait) until the data comes
    thread.join()


@pytest.mark.parametrize("value", [-1, -5, -(10**16), float("-inf")])
def test_negative_timeouts_mean_forever(value: float) -> None:
    sock = TCPSocket()
    sock.set_timeout(value)  # type: ignore[arg-type]
    assert sock.get_timeout() == -1


def test_fractional_timeouts_round_up_and_nan_is_a_value_error() -> None:
    sock = TCPSocket()
    sock.set_timeout(0.4)  # type: ignore[arg-type]
    assert sock.get_timeout() == 1  # still blocking: a fraction of a millisecond is not "non-blocking"
    sock.set_timeout(2**32 - 2)
    assert sock.get_timeout() == 2**32 - 2
    with pytest.raises(ValueError, match="NaN"):
        sock.set_timeout(float("nan"))  # type: ignore[arg-type]
    assert sock.get_timeout() == 2**32 - 2
