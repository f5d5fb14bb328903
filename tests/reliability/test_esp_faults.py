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

from drivers.esp_at import ESP8266Interface
from mocks.esp_at import Emulator, find_emulator, running_emulators
from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket
from tests.reliability._flood import stream
from tests.servers import LoopbackServers

pytestmark = pytest.mark.esp

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"
PROFILES = ["at22_8266", "at3_esp32", "nonos17"]
TIMEOUT_MS = 3000
MARGIN_S = 1.0
_names = itertools.count(1)
_log = logging.getLogger(__name__)


def make_interface(profile: str, seed: int, extra: str = "") -> ESP8266Interface:
    url = f"espemu://?profile={profile}&timescale=0.01&seed={seed}&name=storm-{profile}-{next(_names)}{extra}"
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
