"""examples.tcp_server end to end: run as a user does, a client on this computer connects and gets its echo."""

from __future__ import annotations

import ast
import logging
import signal
import socket
import threading

import pytest

from examples import tcp_server
from tests.examples.running import FAST_ESP, HOST, ExampleProcess, free_loopback_port

SERVER_OPTIONS = {"emulator": [], "host": [*HOST, "--address", "127.0.0.1"]}


def exchange(port: int, chunks: list[bytes]) -> bytes:
    """Connect to 127.0.0.1:port, send each chunk and read its echo, then close. (No half-close: an ESP module
    closes a link entirely when the peer sends FIN, as the AT firmware does.)"""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        for chunk in chunks:
            client.sendall(chunk)
            expected = len(received) + len(chunk)
            while len(received) < expected and (data := client.recv(65536)):
                received += data
    return bytes(received)


@pytest.mark.parametrize("where", list(SERVER_OPTIONS))
def test_echoes_one_client_then_exits(where: str) -> None:
    port = free_loopback_port()
    payload = [bytes(range(256)) * 8, b"second chunk\n"]
    with ExampleProcess("tcp_server", [*SERVER_OPTIONS[where], "--once", "--listen", str(port)]) as example:
        line = example.wait_for_line("Echo server listening on", timeout=30)
        assert line.rstrip().split(":")[-1].rstrip(")") == str(port)
        assert exchange(port, payload) == b"".join(payload)
        returncode, out, err = example.finish(timeout=30)
    assert returncode == 0, err
    assert "Connection from 127.0.0.1:" in out
    assert f"Echoed {sum(map(len, payload))} bytes" in out
    assert "connection closed by the peer" in out


def test_a_port_in_use_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with ExampleProcess("tcp_server", [*FAST_ESP, "--once", "--listen", str(port)]) as example:
            returncode, out, err = example.finish(timeout=30)
    assert returncode == 1
    assert f"cannot bind port {port}" in err or "cannot listen" in err
    assert "Traceback" not in err
    assert "Echo server listening" not in out


def test_serves_clients_one_after_another_until_ctrl_c() -> None:
    # On the host stack: through the ESP driver a client that connects right after the previous one closed is
    # sometimes never accepted (the module reuses link 0 while the driver's AT+CIPCLOSE=0 for the old link gets
    # ERROR; reported to the driver's owner).
    port = free_loopback_port()
    with ExampleProcess("tcp_server", [*HOST, "--address", "127.0.0.1", "--listen", str(port)]) as example:
        example.wait_for_line("Echo server listening on", timeout=30)
        for message in (b"first client\n", b"second client\n"):
            assert exchange(port, [message]) == message
            example.wait_for_line("Echoed", timeout=10)
        example.process.send_signal(signal.SIGINT)
        returncode, out, err = example.finish(timeout=30)
    assert returncode == 130, err  # Ctrl-C: like every example and netsocket subcommand
    assert out.count("Connection from 127.0.0.1:") == 2
    assert err.endswith("Interrupted.\n")
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------------------ mDNS
class WireWatch(logging.Handler):
    """Collects what the host sent to the emulated module (its wire log) and signals when ``needle`` went out."""

    def __init__(self, needle: bytes) -> None:
        super().__init__(logging.DEBUG)
        self.needle = needle
        self.sent = bytearray()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        parts = record.getMessage().split(" host->esp ", 1)
        if len(parts) == 2:
            self.sent += ast.literal_eval(parts[1])
            if self.needle in self.sent:
                self.seen.set()


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_mdns_announces_the_server_while_it_runs(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_loopback_port()
    announce = b'AT+MDNS=1,"netsocket-echo","_echo",%d\r\n' % port
    watch = WireWatch(announce)
    wire = logging.getLogger("netsocket.mocks.esp_at.wire")
    wire.addHandler(watch)
    old_level = wire.level
    wire.setLevel(logging.DEBUG)
    argv = ["--port", f"{FAST_ESP[1]}&pace=0&profile={profile}", "--once", "--listen", str(port)]
    results: list[int] = []
    runner = threading.Thread(
        target=lambda: results.append(tcp_server.main([*argv, "--mdns", "netsocket-echo"])), daemon=True
    )
    try:
        runner.start()
        assert watch.seen.wait(30), bytes(watch.sent)[-300:]
        assert exchange(port, [b"found by name\n"]) == b"found by name\n"
        runner.join(30)
    finally:
        wire.removeHandler(watch)
        wire.setLevel(old_level)
    assert results == [0]
    sent = bytes(watch.sent)
    assert sent.index(b"AT+CIPSERVER=1") < sent.index(announce) < sent.index(b"AT+MDNS=0\r\n")  # withdrawn at exit
    assert "Announced over mDNS: netsocket-echo.local, service _echo on port" in capsys.readouterr().out


def test_mdns_on_an_interface_without_it_is_explained() -> None:
    port = free_loopback_port()
    with ExampleProcess("tcp_server", [*HOST, "--address", "127.0.0.1", "--listen", str(port), "--mdns", "x"]) as ex:
        returncode, out, err = ex.finish(timeout=30)
    assert returncode == 1
    assert "HostInterface has no mDNS: --mdns needs an ESP module" in err and "Traceback" not in err
    assert "Connection from" not in out
