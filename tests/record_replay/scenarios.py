"""The application sessions the shipped transcripts hold, written once for recording and for replaying.

Each scenario is plain application code on a connected ``ESP8266Interface`` (`Scenario.run`), plus what a recording
needs around it: the loopback peer it talks to (`Scenario.peer`) and, for fault scenarios, the fault it injects into
the emulator at a fixed point of the application's progress (`Live.inject`). A replay runs the same code with the
recorded peer address, no peer and no injection: the transcript already holds what the module said.

What the application saw is an `Outcome`: every byte it received (compared by SHA-256) and the result codes of its
calls that were not plain successes.

Sockets are closed after the interface (`Outcome.later`, run by `finish`): closing one queues ``AT+CIPCLOSE`` or
``AT+CIPSERVER=0`` on the driver's worker thread, which races the ``AT+CWQAP`` of ``disconnect()`` (a recording may
hold either order, or no ``AT+CIPSERVER=0`` at all), and a transcript whose last commands depend on thread timing
would not replay exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import find_emulator

from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket, UDPSocket
from tests.servers import HttpResponse, HttpServer, TcpServer, UdpServer

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
PROFILES = ("at22_8266", "at3_esp32", "nonos17")
TIMEOUT_MS = 5000
DOWNLOAD_SIZE = 24 * 1024
FAULT_BODY_SIZE = 48 * 1024
UPLOAD_SIZE = 12 * 1024
FAULT_AFTER = 4096
UDP_LOCAL_PORT = 40123


def body(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible test data."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


@dataclass
class Outcome:
    received: bytes = b""
    codes: list[str] = field(default_factory=list)
    later: list[Callable[[], object]] = field(default_factory=list)
    """Closing the application's sockets, once the interface is closed."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.received).hexdigest()

    def note(self, what: str, result: int) -> None:
        if result < 0:
            self.codes.append(f"{what}:{NsapiError(result).name}")


@dataclass
class Live:
    """What only a recording does: the emulator behind the interface, to inject a fault into."""

    iface: ESP8266Interface

    def inject(self, fault: str) -> None:
        emulator = find_emulator(self.iface.stack.runner.port)
        if fault == "wifi_loss":
            emulator.drop_wifi(reconnect=False)
        elif fault == "reset":
            emulator.inject_reset()
        else:
            raise ValueError(fault)


Run = Callable[[ESP8266Interface, tuple[str, int], "Live | None"], Outcome]


@dataclass(frozen=True)
class Scenario:
    name: str
    profiles: tuple[str, ...]
    run: Run
    peer: Callable[[], contextlib.AbstractContextManager[tuple[str, int]]]


# -- application code -------------------------------------------------------------------------------------------
def _open_tcp(iface: ESP8266Interface, address: tuple[str, int], outcome: Outcome) -> TCPSocket | None:
    sock = TCPSocket()
    outcome.note("open", sock.open(iface))
    sock.set_timeout(TIMEOUT_MS)
    err = sock.connect(SocketAddress(*address))
    outcome.note("connect", err)
    outcome.later.append(sock.close)
    return sock if err == NsapiError.OK else None


def _send_all(sock: TCPSocket, data: bytes, outcome: Outcome) -> bool:
    view = memoryview(data)
    while view:
        sent = sock.send(view)
        if sent < 0:
            outcome.note("send", sent)
            return False
        view = view[sent:]
    return True


def _recv_until_closed(
    sock: TCPSocket, outcome: Outcome, on_progress: Callable[[int], None] | None = None, step: int = 1024
) -> None:
    buffer = bytearray(step)
    while True:
        got = sock.recv(buffer)
        if got <= 0:
            outcome.note("recv", got)
            return
        outcome.received += bytes(buffer[:got])
        if on_progress is not None:
            on_progress(len(outcome.received))


def http_get(path: str, fault: str | None = None) -> Run:
    def run(iface: ESP8266Interface, address: tuple[str, int], live: Live | None) -> Outcome:
        outcome = Outcome()
        sock = _open_tcp(iface, address, outcome)
        if sock is None:
            return outcome
        request = f"GET {path} HTTP/1.0\r\nHost: {address[0]}\r\n\r\n".encode()
        injected = False

        def progress(count: int) -> None:
            nonlocal injected
            if fault is not None and live is not None and not injected and count >= FAULT_AFTER:
                injected = True
                live.inject(fault)

        if _send_all(sock, request, outcome):
            _recv_until_closed(sock, outcome, progress)
        if fault == "reset":
            outcome.codes.append(f"reinitialised:{iface.wait_initialised(10.0)}")
        return outcome

    return run


def upload(iface: ESP8266Interface, address: tuple[str, int], live: Live | None) -> Outcome:
    """Send a block; the peer answers with the SHA-256 of what it got, then closes."""
    outcome = Outcome()
    sock = _open_tcp(iface, address, outcome)
    if sock is None:
        return outcome
    if _send_all(sock, body(UPLOAD_SIZE, seed=2), outcome):
        _recv_until_closed(sock, outcome)
    return outcome


def udp_echo(iface: ESP8266Interface, address: tuple[str, int], live: Live | None) -> Outcome:
    """Five datagrams to an echo server, each answer read before the next goes out. The socket is bound to a fixed
    port so that the exact replay sees the same ``AT+CIPSTART`` (the driver picks a random one otherwise)."""
    outcome = Outcome()
    sock = UDPSocket()
    outcome.note("open", sock.open(iface))
    outcome.later.append(sock.close)
    outcome.note("bind", sock.bind(UDP_LOCAL_PORT))
    sock.set_timeout(TIMEOUT_MS)
    buffer = bytearray(2048)
    for number in range(5):
        datagram = body(100 + 300 * number, seed=10 + number)
        outcome.note("sendto", sock.sendto(SocketAddress(*address), datagram))
        got = sock.recvfrom(None, buffer)
        if got < 0:
            outcome.note("recvfrom", got)
            break
        outcome.received += bytes(buffer[:got])
    return outcome


def server_accept(iface: ESP8266Interface, address: tuple[str, int], live: Live | None) -> Outcome:
    """A server on the module: accept one client, read its greeting, answer, close."""
    outcome = Outcome()
    server = TCPSocket()
    outcome.note("open", server.open(iface))
    outcome.later.append(server.close)
    outcome.note("bind", server.bind(address[1]))
    outcome.note("listen", server.listen(1))
    server.set_timeout(TIMEOUT_MS)
    client_thread = None
    if live is not None:
        client_thread = threading.Thread(target=_client_of_the_module, args=(address[1],), daemon=True)
        client_thread.start()
    client, err = server.accept()
    outcome.note("accept", err)
    if client is not None:
        outcome.later.append(client.close)
        client.set_timeout(TIMEOUT_MS)
        buffer = bytearray(256)
        got = client.recv(buffer)
        outcome.note("recv", got)
        if got > 0:
            outcome.received += bytes(buffer[:got])
            _send_all(client, b"welcome, " + bytes(buffer[:got]), outcome)
        _recv_until_closed(client, outcome)
    if client_thread is not None:
        client_thread.join(10.0)
    return outcome


def _client_of_the_module(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as conn:
        conn.sendall(b"hello module\n")
        conn.recv(256)


# -- peers (recording only) -------------------------------------------------------------------------------------
@contextlib.contextmanager
def http_peer() -> Iterator[tuple[str, int]]:
    routes = {"/data": HttpResponse(body(DOWNLOAD_SIZE, seed=1)), "/big": HttpResponse(body(FAULT_BODY_SIZE, seed=3))}
    with HttpServer(routes) as server:
        yield server.address


def _digest_then_close(conn: socket.socket) -> None:
    received = bytearray()
    while len(received) < UPLOAD_SIZE:
        chunk = conn.recv(65536)
        if not chunk:
            break
        received += chunk
    conn.sendall(hashlib.sha256(received).hexdigest().encode() + b"\n")


@contextlib.contextmanager
def digest_peer() -> Iterator[tuple[str, int]]:
    with TcpServer("digest", _digest_then_close) as server:
        yield server.address


@contextlib.contextmanager
def udp_echo_peer() -> Iterator[tuple[str, int]]:
    with UdpServer("echo-udp", lambda data, _sender: data) as server:
        yield server.address


@contextlib.contextmanager
def free_port() -> Iterator[tuple[str, int]]:
    """A port nobody listens on, for the module's server (reachable from the host at the same number)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield ("127.0.0.1", port)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("download", PROFILES, http_get("/data"), http_peer),
        Scenario("upload", ("at22_8266", "at3_esp32"), upload, digest_peer),
        Scenario("udp", ("at22_8266", "at3_esp32"), udp_echo, udp_echo_peer),
        Scenario("server_accept", ("at22_8266",), server_accept, free_port),
        Scenario("wifi_loss", ("at22_8266",), http_get("/big", fault="wifi_loss"), http_peer),
        Scenario("reset", ("at3_esp32",), http_get("/big", fault="reset"), http_peer),
    )
}


def connected_interface(port: str, *, record: str | None = None) -> ESP8266Interface:
    iface = ESP8266Interface(port, record=record)
    err = iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2)
    if err != NsapiError.OK:
        iface.close()
        raise AssertionError(f"connect to {SSID} on {port} gave {NsapiError(err).name}")
    return iface


def finish(iface: ESP8266Interface, outcome: Outcome | None = None) -> None:
    """Leave the network, close the interface, then the application's sockets (see the module's docstring)."""
    iface.disconnect()
    iface.close()
    for close in outcome.later if outcome is not None else ():
        close()
