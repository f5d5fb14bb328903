"""Running an example the way a user does: ``python -m examples.<name> ...`` in a fresh interpreter.

``ExampleProcess`` reads the child's stdout on a thread, so a test can wait (with a deadline) for a line that says
the example is ready, talk to it, and then collect its exit status and output.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from examples._network import CONFIG_ENV

ROOT = Path(__file__).resolve().parents[2]
HOST = ["--interface", "host://"]
"""Options for this computer's own network stack."""
FAST_ESP = ["--port", "espemu://?timescale=0.05"]
"""The emulated ESP8266 with its delays shrunk, for failure cases."""
HTTPS_PAGE = b"<html><body>served over TLS</body></html>\n"


def free_loopback_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ExampleProcess:
    def __init__(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        for variable in CONFIG_ENV:  # a developer's configuration must not send the tests to real hardware
            env.pop(variable, None)
        env["NETSOCKET_CONFIG"] = os.devnull
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"examples.{name}", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with ``prefix``; AssertionError if the example ends or time runs out."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"example ended before printing {prefix!r}: {self.lines} {self.stderr()}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r} within {timeout} s; got {self.lines}")

    def stderr(self) -> str:
        return self.process.stderr.read() if self.process.stderr and self.process.poll() is not None else ""

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for the exit: (status, all stdout, stderr)."""
        returncode = self.process.wait(timeout)
        self._reader.join(timeout)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        assert self.process.stderr is not None
        return returncode, "".join(self.lines), self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self._reader.join(5)

    def __enter__(self) -> ExampleProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
