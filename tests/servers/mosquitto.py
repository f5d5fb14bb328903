"""A real MQTT broker for end-to-end tests: ``mosquitto`` on 127.0.0.1 with a generated configuration.

``Mosquitto(workdir).start()`` picks a free loopback port, writes ``listener <port> 127.0.0.1`` and
``allow_anonymous true``, starts the broker and waits (with a deadline) until it accepts TCP connections;
``stop()`` terminates it. A missing ``mosquitto`` binary raises ``MosquittoMissing`` (tests turn that into a
failure that says how to install it: a broker test must never pass by being skipped).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.servers.threaded import LOOPBACK

READY_TIMEOUT_S = 10.0
_SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin"


class MosquittoMissing(RuntimeError):
    pass


def find_mosquitto() -> str:
    """The broker's path; ``MosquittoMissing`` saying how to install it if it is not there."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path=_SEARCH_PATH)
    if found is None:
        raise MosquittoMissing(
            "the MQTT broker mosquitto is not installed: apt-get install mosquitto (Debian/Ubuntu), "
            "brew install mosquitto (macOS)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Mosquitto:
    """One mosquitto process on 127.0.0.1; ``port`` is valid after ``start()``."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_mosquitto()
        self.workdir = workdir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, attempts: int = 3) -> Mosquitto:
        """Start on a free port (another port if that one was taken meanwhile) and wait until it is ready."""
        for _ in range(attempts):
            self.port = _free_port()
            config = self.workdir / "mosquitto.conf"
            config.write_text(f"listener {self.port} {LOOPBACK}\nallow_anonymous true\npersistence false\n")
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [self.binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            if self._wait_ready():
                return self
        raise RuntimeError(f"mosquitto did not start; its log:\n{self.log_path.read_text(errors='replace')}")

    def _wait_ready(self) -> bool:
        """True once the broker accepts a connection; False if it exited (e.g. the port was taken)."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return True
            except OSError:
                pass
            try:  # waiting on the process doubles as the pause between attempts, and notices an early exit
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            return False
        self.stop()
        raise RuntimeError(f"mosquitto did not accept connections within {READY_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
