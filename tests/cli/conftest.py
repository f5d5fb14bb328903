"""Fixtures for the ``netsocket`` command's tests: emulators served the way a user serves them, and a clean
configuration (a developer's ``NETSOCKET_*`` variables or ``netsocket.ini`` must not reach real hardware)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import HttpResponse, HttpServer

ROOT = Path(__file__).resolve().parents[2]
CONFIG_ENV = ("NETSOCKET_INTERFACE", "NETSOCKET_WIFI_SSID", "NETSOCKET_WIFI_PASSWORD", "NETSOCKET_WIFI_SECURITY")
#: The emulated ESP module with its delays shrunk and the line unpaced, for tests that need speed.
FAST_ESP = "espemu://?timescale=0.05&pace=0"
TEXT_PAGE = b"<html><body>hello from the CLI test</body></html>\n"
BINARY_SIZE = 96 * 1024
BINARY = bytes(range(256)) * (BINARY_SIZE // 256)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a ``netsocket`` child process: no configuration but ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_ENV}
    env.update({"NETSOCKET_CONFIG": os.devnull, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}, **extra)
    return env


@pytest.fixture(autouse=True)
def _no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETSOCKET_CONFIG", os.devnull)
    monkeypatch.setenv("COLUMNS", "120")


class Served:
    """``netsocket emulate ...`` running in a child process; ``lines`` is what it printed first."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "netsocket", "emulate", *args],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.lines = [self.process.stdout.readline().rstrip("\n")]
        assert self.lines[0], self.process.stderr.read() if self.process.stderr else ""

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user stops it; returns the exit status and stderr."""
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=20)
        return self.process.returncode, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=20)


@pytest.fixture
def esp_pty_9600() -> Iterator[tuple[str, Served]]:
    """An emulated ESP module on a pty whose UART is at 9600 baud (the wrong rate for a 115200 host)."""
    served = Served("esp", "--baud", "9600")
    try:
        yield served.lines[0].rsplit(" on ", 1)[1], served
    finally:
        served.kill()


@pytest.fixture
def esp_pty() -> Iterator[str]:
    """An emulated ESP module on a pty at 115200 baud."""
    served = Served("esp")
    try:
        yield served.lines[0].rsplit(" on ", 1)[1]
    finally:
        served.kill()


@pytest.fixture
def w5500_server() -> Iterator[tuple[str, Served]]:
    """An emulated W5500 served by ``netsocket emulate w5500``; yields its ``w5500emu://`` URL."""
    served = Served("w5500")
    try:
        yield served.lines[0].split(" at ", 1)[1].split(" ", 1)[0], served
    finally:
        served.kill()


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    routes = {
        "/page.html": HttpResponse(TEXT_PAGE, "text/html"),
        "/blob.bin": HttpResponse(BINARY, "application/octet-stream"),
    }
    with HttpServer(routes) as server:
        yield server
