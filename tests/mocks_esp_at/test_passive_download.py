"""A 200 KB passive-mode download from a loopback server, checked by SHA-256, and real TCP backpressure."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time

import pytest

from .helpers import AtPort, pty_emulator, tcp_server

OK = b"\r\nOK\r\n"


class PassiveReader:
    """Reads link 0 with AT+CIPRECVDATA, skipping notices, until the module reports the link closed."""

    def __init__(self, at: AtPort) -> None:
        self.at = at
        self.buffer = bytearray()
        self.closed = False

    def _fill(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise AssertionError(f"stalled; buffer {bytes(self.buffer[-80:])!r}")
        self.buffer += self.at.port.read(max(1, self.at.port.in_waiting))

    def _note_closed(self) -> None:
        if b"0,CLOSED\r\n" in self.buffer:
            self.closed = True
            self.buffer = self.buffer.replace(b"0,CLOSED\r\n", b"", 1)

    def read_chunk(self) -> bytes | None:
        nonos = self.at.nonos
        self.at.send(b"AT+CIPRECVDATA=0,2048\r\n")
        head = re.compile(rb"\r\n\+CIPRECVDATA,(\d+):" if nonos else rb"\+CIPRECVDATA:(\d+),")
        deadline = time.monotonic() + 5
        while True:
            match = head.search(self.buffer)
            if match:
                break
            if b"\r\nERROR\r\n" in self.buffer:
                self.buffer = self.buffer.replace(b"\r\nERROR\r\n", b"", 1)
                self._note_closed()
                return None
            self._fill(deadline)
        length = int(match.group(1))
        end = match.end() + length
        while len(self.buffer) < end + len(OK):
            self._fill(deadline)
        data = bytes(self.buffer[match.end() : end])
        assert self.buffer[end : end + len(OK)] == OK
        del self.buffer[: end + len(OK)]
        self._note_closed()
        return data

    def wait_for_more(self) -> None:
        deadline = time.monotonic() + 5
        while b"+IPD,0," not in self.buffer and b"0,CLOSED\r\n" not in self.buffer:
            self._fill(deadline)
        self._note_closed()
        self.buffer = bytearray(re.sub(rb"\r\n\+IPD,0,\d+\r\n", b"", bytes(self.buffer)))


@pytest.mark.parametrize(
    ("profile", "faults"),
    [
        ("nonos17", {}),
        ("at22_8266", {}),
        ("at3_esp32", {}),
        ("at22_8266", {"chunking": True, "inject": 0.5}),
        ("at3_esp32", {"chunking": True, "inject": 1.0, "baud": 2_000_000}),
    ],
)
def test_200k_passive_download_sha256(profile: str, faults: dict[str, object]) -> None:
    payload = os.urandom(200 * 1024)
    with pty_emulator(profile, **faults) as at, tcp_server() as server:
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPRECVMODE=1", OK)
        at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",%d' % server.getsockname()[1], b"0,CONNECT\r\n" + OK)
        peer, _ = server.accept()

        def serve() -> None:
            with peer:
                peer.sendall(payload)

        sender = threading.Thread(target=serve)
        sender.start()
        reader = PassiveReader(at)
        received = bytearray()
        while True:
            chunk = reader.read_chunk()
            if chunk:
                received += chunk
                continue
            if reader.closed and len(received) == len(payload):
                break
            reader.wait_for_more()
        sender.join(5)
        assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_full_passive_window_stalls_the_peer() -> None:
    with pty_emulator("at22_8266") as at, tcp_server() as server:
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPRECVMODE=1", OK)
        at.cmd(b'AT+CIPSTART=0,"TCP","127.0.0.1",%d' % server.getsockname()[1], b"0,CONNECT\r\n" + OK)
        peer, _ = server.accept()
        with peer:
            peer.setblocking(False)
            sent = 0
            block = b"x" * 65536
            with pytest.raises(BlockingIOError):
                while sent < 256 * 1024 * 1024:
                    sent += peer.send(block)
            at.wait_for(lambda dev: dev.links[0].buffered == 5760)
            notice = at.read_until(b"\r\n+IPD,0,")
            if not re.search(rb"\+IPD,0,\d+\r\n", notice):
                at.read_until(b"\r\n")
            at.cmd(b"AT+CIPRECVLEN?", b"+CIPRECVLEN:5760,-1,-1,-1,-1\r\n" + OK)
