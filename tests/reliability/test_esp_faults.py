"""Megabytes through the emulated ESP module while things go wrong: chunked output, URCs injected between answers
and line noise; a module reset, a Wi-Fi loss or a module that falls silent at a random moment of a transfer.
Every blocking call returns within its deadline (plus a margin); data either arrives intact (SHA-256) or the call
gives a negative error; after a reset or a Wi-Fi loss the interface recovers and a new transfer works."""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.mocks.esp_at import Emulator, find_emulator, running_emulators

from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from tests.reliability._flood import FloodServer, stream
from tests.servers import LoopbackServers

pytestmark = pytest.mark.esp

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
PROFILES = ["at22_8266", "at3_esp32", "nonos17"]
TIMEOUT_MS = 3000
MARGIN_S = 1.0
_names = itertools.count(1)
_log = logging.getLogger(__name__)


def make_interface(profile: str, seed: int, extra: str = "") -> ESP8266Interface:
    url = f"espemu://?profile={profile}&timescale=0.01&pace=0&seed={seed}&name=storm-{profile}-{next(_names)}{extra}"
    iface = ESP8266Interface(url)
    assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
    return iface


def emulator_of(iface: ESP8266Interface) -> Emulator:
    return find_emulator(iface.stack.runner.port)


@pytest.fixture(scope="module")
def servers() -> Iterator[LoopbackServers]:
    with LoopbackServers() as running:
        yield running


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    yield
    assert running_emulators() == []
    for thread in threading.enumerate():
        if thread.name.startswith(("esp_at-", "espemu:")):
            thread.join(2.0)
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("esp_at-", "espemu:"))]


class Deadline:
    """Times each blocking call and fails if one overran the socket timeout by more than the margin."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.longest = 0.0

    def call(self, what: str, fn: object, *args: object) -> int:
        start = time.monotonic()
        result: int = fn(*args)  # type: ignore[operator]
        took = time.monotonic() - start
        self.longest = max(self.longest, took)
        assert took < TIMEOUT_MS / 1000 + MARGIN_S, f"{self.context}: {what} took {took:.2f} s (gave {result!s})"
        return result


def open_tcp(iface: ESP8266Interface, address: tuple[str, int], deadline: Deadline) -> TCPSocket:
    sock = TCPSocket()
    assert sock.open(iface) == NsapiError.OK
    sock.set_timeout(TIMEOUT_MS)
    assert deadline.call("connect", sock.connect, SocketAddress(*address)) == NsapiError.OK, deadline.context
    return sock


def download(sock: TCPSocket, deadline: Deadline, stop_after: int | None = None) -> tuple[bytes, int]:
    """Reads until EOF, an error, or (if given) ``stop_after`` bytes; returns (SHA-256 so far, last result)."""
    digest = hashlib.sha256()
    got = 0
    buffer = bytearray(8192)
    while True:
        want = len(buffer) if stop_after is None else min(len(buffer), stop_after - got)
        if want == 0:
            return digest.digest(), got
        result = deadline.call("recv", sock.recv, memoryview(buffer)[:want])
        if result <= 0:
            return digest.digest(), result
        digest.update(memoryview(buffer)[:result])
        got += result


@pytest.mark.parametrize("profile", PROFILES)
def test_echo_through_chunking_urcs_and_noise_is_intact_or_an_error(profile: str, servers: LoopbackServers) -> None:
    seed = 101
    context = f"profile={profile} seed={seed}"
    rng = random.Random(seed)
    size = 1_000_000
    data = stream(seed, size)
    iface = make_interface(profile, seed, "&chunking=1&inject=1")
    deadline = Deadline(context)
    try:
        emulator = emulator_of(iface)
        sock = open_tcp(iface, servers.echo_tcp.address, deadline)
        errors: list[int] = []
        received = [0]
        progress = threading.Condition()

        def sender() -> None:
            sent = 0
            while sent < size:
                with progress:
                    if not progress.wait_for(lambda s=sent: s - received[0] < 65536 or errors, 30):  # type: ignore[misc]
                        errors.append(NsapiError.CONNECTION_TIMEOUT)
                    if errors:
                        return
                result = deadline.call("send", sock.send, data[sent : sent + 4096])
                if result <= 0:
                    with progress:
                        errors.append(result)
                        progress.notify_all()
                    return
                sent += result

        thread = threading.Thread(target=sender, name="storm-sender")
        thread.start()
        digest = hashlib.sha256()
        buffer = bytearray(8192)
        next_noise = rng.randrange(1, 65536)
        try:
            while received[0] < size:
                if received[0] >= next_noise:
                    emulator.inject_noise(rng.randrange(1, 24))
                    next_noise += rng.randrange(1, 65536)
                result = deadline.call("recv", sock.recv, buffer)
                if result <= 0:
                    with progress:
                        errors.append(result)
                        progress.notify_all()
                    break
                digest.update(memoryview(buffer)[:result])
                with progress:
                    received[0] += result
                    progress.notify_all()
        finally:
            thread.join(TIMEOUT_MS / 1000 * 3)
        assert not thread.is_alive(), context
        _log.info(f"{context}: {received[0]} bytes echoed, errors {errors}, longest call {deadline.longest:.2f} s")
        assert digest.digest() == hashlib.sha256(data[: received[0]]).digest(), (
            f"{context}: wrong bytes returned as success (a hole or damage within the first {received[0]} bytes)"
        )
        if errors:
            assert all(e < 0 for e in errors), f"{context}: {errors}"
        else:
            assert received[0] == size, context
            assert digest.digest() == hashlib.sha256(data).digest(), f"{context}: wrong bytes returned as success"
        sock.close()
    finally:
        iface.close()


class StatusLog:
    def __init__(self, iface: ESP8266Interface) -> None:
        self.statuses: list[int] = []
        self._cond = threading.Condition()
        iface.attach(self._record)

    def _record(self, event: object, status: int) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_for(self, status: NsapiConnectionStatus, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: status in self.statuses, timeout)


def interrupted_download(iface: ESP8266Interface, fault: str, seed: int, context: str) -> None:
    """Downloads 2 MB, applies ``fault`` after a seeded random number of bytes, and checks that the download then
    ends with a negative error within its deadline, every byte before it intact."""
    size = 2_000_000
    data = stream(seed, size)
    cut = random.Random(seed).randrange(50_000, size // 2)
    deadline = Deadline(f"{context} cut={cut}")
    with FloodServer(data) as flood:
        sock = open_tcp(iface, flood.server.address, deadline)
        head, got = download(sock, deadline, stop_after=cut)
        assert got == cut, deadline.context
        emulator = emulator_of(iface)
        if fault == "reset":
            emulator.inject_reset()
        elif fault == "wifi":
            emulator.drop_wifi(reconnect=True)
        else:
            emulator.go_silent()
        digest = hashlib.sha256(data[:cut])
        got = cut
        buffer = bytearray(8192)
        while (result := deadline.call("recv after the fault", sock.recv, buffer)) > 0:
            digest.update(memoryview(buffer)[:result])
            got += result
        assert head == hashlib.sha256(data[:cut]).digest(), deadline.context
        assert got < size and result < 0, f"{deadline.context}: {got} bytes, then {result!s}"
        assert digest.digest() == hashlib.sha256(data[:got]).digest(), f"{deadline.context}: wrong bytes"
        if fault in ("reset", "wifi"):
            assert result == NsapiError.CONNECTION_LOST, f"{deadline.context}: {result!s}"
        sent = deadline.call("send after the fault", sock.send, b"x")
        _log.info(f"{deadline.context}: {got} bytes intact, then recv gave {result!s}; a send then gave {sent!s}")
        if fault in ("reset", "wifi"):
            assert sent == NsapiError.CONNECTION_LOST, f"{deadline.context}: {sent!s}"
        assert sock.close() == NsapiError.OK


def fresh_download_works(iface: ESP8266Interface, seed: int, context: str) -> None:
    data = stream(seed + 1, 300_000)
    deadline = Deadline(f"{context} (after recovery)")
    with FloodServer(data) as flood:
        sock = open_tcp(iface, flood.server.address, deadline)
        digest, result = download(sock, deadline)
        assert result == 0 and digest == hashlib.sha256(data).digest(), f"{deadline.context}: {result!s}"
        assert sock.close() == NsapiError.OK


@pytest.mark.parametrize("seed", [202, 203, 204])
@pytest.mark.parametrize("profile", PROFILES)
def test_module_reset_mid_download_is_reported_then_the_interface_recovers(profile: str, seed: int) -> None:
    context = f"profile={profile} seed={seed} fault=reset (chunked output, injected URCs)"
    iface = make_interface(profile, seed, "&chunking=1&inject=1")
    try:
        log = StatusLog(iface)
        interrupted_download(iface, "reset", seed, context)
        assert log.wait_for(NsapiConnectionStatus.DISCONNECTED, 5), context
        assert iface.wait_initialised(10), context
        assert iface.connect(SSID, PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK, context
        fresh_download_works(iface, seed, context)
    finally:
        iface.close()


@pytest.mark.parametrize("seed", [303, 304, 305])
@pytest.mark.parametrize("profile", PROFILES)
def test_wifi_loss_mid_download_is_reported_then_the_interface_recovers(profile: str, seed: int) -> None:
    context = f"profile={profile} seed={seed} fault=wifi (chunked output, injected URCs)"
    iface = make_interface(profile, seed, "&chunking=1&inject=1")
    try:
        log = StatusLog(iface)
        interrupted_download(iface, "wifi", seed, context)
        assert log.wait_for(NsapiConnectionStatus.CONNECTING, 5), context
        if profile == "nonos17":  # the NonOS module does not rejoin by itself
            assert iface.connect() == NsapiError.OK, context
        assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP, 10), context
        fresh_download_works(iface, seed, context)
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at3_esp32"])  # the other two: the echo variant below
def test_silent_module_mid_download_gives_errors_within_deadlines(profile: str) -> None:
    seed = 404
    context = f"profile={profile} seed={seed} fault=silent"
    iface = make_interface(profile, seed)
    try:
        interrupted_download(iface, "silent", seed, context)
        start = time.monotonic()
        iface.disconnect()  # the module does not answer; whatever the call says, it must come back
        assert time.monotonic() - start < 30, f"{context}: disconnect hung"
    finally:
        iface.close()


@pytest.mark.parametrize("profile", ["at22_8266", "nonos17"])
def test_silent_module_during_an_echo_releases_both_blocked_calls_in_time(
    profile: str, servers: LoopbackServers
) -> None:
    seed = 505
    context = f"profile={profile} seed={seed} fault=silent-echo"
    silent_after = random.Random(seed).randrange(20_000, 200_000)
    iface = make_interface(profile, seed)
    deadline = Deadline(f"{context} after={silent_after}")
    try:
        sock = open_tcp(iface, servers.echo_tcp.address, deadline)
        send_results: list[int] = []

        def sender() -> None:
            block = stream(seed, 4096)
            while (result := deadline.call("send", sock.send, block)) > 0:
                pass
            send_results.append(result)

        thread = threading.Thread(target=sender, name="silent-sender")
        thread.start()
        got = 0
        buffer = bytearray(8192)
        silenced = False
        while (result := deadline.call("recv", sock.recv, buffer)) > 0:
            got += result
            if got >= silent_after and not silenced:
                emulator_of(iface).go_silent()
                silenced = True
        thread.join(TIMEOUT_MS / 1000 + MARGIN_S)
        assert not thread.is_alive(), f"{deadline.context}: the blocked send never returned"
        assert silenced and result < 0, f"{deadline.context}: {got} bytes, then recv gave {result!s}"
        assert send_results and send_results[0] < 0, f"{deadline.context}: {send_results}"
        _log.info(f"{deadline.context}: recv gave {result!s}, the blocked send gave {send_results[0]!s}")
        assert sock.close() == NsapiError.OK
    finally:
        start = time.monotonic()
        iface.close()
        assert time.monotonic() - start < 30, f"{context}: close took too long"
