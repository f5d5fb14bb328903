"""Emulated modules in other processes, each on its own pseudo-terminal, for the asyncio runner's tests (an
in-process ``espemu://`` emulator runs a thread of its own, which would hide a thread the runner started)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SSID, PASSPHRASE = "netsocket-wpa2", "netsocket123"


class Modules(list[str]):
    """Device paths, with the emulator processes behind them."""

    processes: list[subprocess.Popen[str]]


@contextlib.contextmanager
def pty_modules(*profiles: str, extra: tuple[str, ...] = ("--no-pace",)) -> Iterator[Modules]:
    """One ``python -m netsocket.mocks.esp_at --pty`` per profile; yields their device paths."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "netsocket.mocks.esp_at", "--pty", "--profile", profile, *extra],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for profile in profiles
    ]
    try:
        paths = Modules()
        paths.processes = processes
        for process in processes:
            assert process.stdout is not None
            paths.append(process.stdout.readline().strip())
        assert all(path.startswith("/dev/") for path in paths), paths
        yield paths
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()


def loopback_listener() -> socket.socket:
    """A listening socket on 127.0.0.1 made here, so the loop does not look the address up in a thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    return listener
