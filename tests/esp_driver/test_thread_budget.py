"""The driver runs at most two threads per module (the AT reader and one worker), whatever it is asked to do at
once: five sockets echoing, five asynchronous DNS look-ups, a module reset with its re-initialisation, a rejoin."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import find_emulator

from netsocket import NsapiConnectionStatus, NsapiError, NsapiEvent, NsapiSecurity, SocketAddress, TCPSocket
from tests.servers import LoopbackServers

pytestmark = pytest.mark.esp

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"


class ThreadCounter:
    """Records, at every start of a driver thread, how many driver threads are alive with it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: list[str] = []
        self.most_alive = 0
        original = threading.Thread.start
        counter = self

        def start(thread: threading.Thread) -> None:
            original(thread)
            if thread.name.startswith("esp_at-"):
                counter.started.append(thread.name)
                alive = [t for t in threading.enumerate() if t.name.startswith("esp_at-")]
                counter.most_alive = max(counter.most_alive, len(alive))

        monkeypatch.setattr(threading.Thread, "start", start)

    def alive_now(self) -> int:
        return len([t for t in threading.enumerate() if t.name.startswith("esp_at-")])


@pytest.fixture
def servers() -> Iterator[LoopbackServers]:
    with LoopbackServers() as running:
        yield running


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17"])
def test_busy_module_runs_on_two_threads(
    profile: str, servers: LoopbackServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = ThreadCounter(monkeypatch)
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&seed=5&name=threads-{os.getpid()}")
    statuses: list[int] = []
    status_changed = threading.Condition()

    def on_status(_event: NsapiEvent, status: int) -> None:
        with status_changed:
            statuses.append(status)
            status_changed.notify_all()

    iface.attach(on_status)
    try:
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        sockets = []
        for _ in range(5):
            sock = TCPSocket()
            assert sock.open(iface) == NsapiError.OK
            sock.set_timeout(10_000)
            assert sock.connect(SocketAddress(*servers.echo_tcp.address)) == NsapiError.OK
            sockets.append(sock)
        answers: list[tuple[int, SocketAddress | None]] = []
        answered = threading.Condition()

        def on_answer(result: int, address: SocketAddress | None) -> None:
            with answered:
                answers.append((result, address))
                answered.notify_all()

        for _ in range(5):
            assert iface.gethostbyname_async("localhost", on_answer) > 0
        for round_ in range(3):
            for index, sock in enumerate(sockets):
                data = b"socket %d round %d " % (index, round_) * 20
                assert sock.send(data) == len(data)
            for index, sock in enumerate(sockets):
                data = b"socket %d round %d " % (index, round_) * 20
                got = bytearray()
                buffer = bytearray(1024)
                while len(got) < len(data):
                    result = sock.recv(buffer)
                    assert result > 0, f"recv gave {result!s}"
                    got += buffer[:result]
                assert bytes(got) == data
        with answered:
            assert answered.wait_for(lambda: len(answers) == 5, 15.0)
        assert all(result > 0 and address is not None for result, address in answers), answers

        find_emulator(iface.stack.runner.port).inject_reset()
        with status_changed:
            assert status_changed.wait_for(lambda: NsapiConnectionStatus.DISCONNECTED in statuses, 5.0)
        assert sockets[0].recv(bytearray(8)) == NsapiError.CONNECTION_LOST
        for sock in sockets:
            sock.close()
        assert iface.wait_initialised(10.0)
        iface.set_blocking(False)
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        with status_changed:
            assert status_changed.wait_for(lambda: statuses[-1] == NsapiConnectionStatus.GLOBAL_UP, 10.0)
        assert counter.most_alive <= 2, (counter.most_alive, len(counter.started), sorted(set(counter.started)))
        assert counter.alive_now() <= 2
    finally:
        iface.close()
