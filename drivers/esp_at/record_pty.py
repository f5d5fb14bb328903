"""Record what any program says to a module: a pseudo-terminal in front of the real port, with a transcript.

Layer: I/O adapter (POSIX). ``python -m netsocket.drivers.esp_at.record_pty --port /dev/ttyUSB0 --out s.jsonl``
prints a device path (flushed) and forwards bytes both ways between it and the port until killed, recording them
with `RecordingPort` (passphrases and each ``--secret`` masked). Point any program at the printed path: netsocket's
driver, the vendor's tool, a terminal. For netsocket's own driver the ``record=`` option (or a ``record://`` URL)
does the same with no extra process. ``serve_recording_pty`` is the function a command line can call.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import sys
import threading
import tty
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType

from .recorder import RecordingPort
from .serial_port import open_port

_log = logging.getLogger("netsocket.drivers.esp_at")
_POLL = 0.05


def serve_recording_pty(
    port: str,
    transcript: str | os.PathLike[str],
    stop: threading.Event,
    *,
    baudrate: int = 115200,
    secrets: Iterable[str] = (),
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a pty forwarding to ``port`` (a path or a pyserial URL) until ``stop`` is set; the transcript is
    complete when this returns. ``on_ready`` gets the pty's path."""
    inner, owned = open_port(port, baudrate, False)
    recording = RecordingPort(inner, transcript, secrets=secrets, owns_inner=owned)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    pump = threading.Thread(
        target=_module_to_pty, args=(recording, master, stop), name="esp_at-record-pty", daemon=True
    )
    try:
        pump.start()
        if on_ready is not None:
            on_ready(os.ttyname(slave))
        while not stop.is_set():
            readable, _, _ = select.select([master], [], [], _POLL)
            if not readable:
                continue
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except OSError:  # EIO: nobody has the pty open at the moment
                stop.wait(_POLL)
                continue
            if data:
                recording.write(data)
    finally:
        stop.set()
        pump.join(2.0)
        recording.close()
        os.close(master)
        os.close(slave)


def _module_to_pty(recording: RecordingPort, master: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            data = recording.read(max(1, min(recording.in_waiting, 4096)))
        except Exception as exc:  # the port vanished: end the session (the transcript keeps what it had)
            _log.warning("recording: the port failed: %r", exc)
            stop.set()
            return
        view = memoryview(data)
        while view and not stop.is_set():
            try:
                view = view[os.write(master, view) :]
            except BlockingIOError:
                select.select([], [master], [], _POLL)
            except OSError:
                break  # nobody reads the pty: what the module said is in the transcript anyway


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netsocket.drivers.esp_at.record_pty", description=__doc__)
    parser.add_argument("--port", required=True, help="the module's port: a device path or a pyserial URL")
    parser.add_argument("--out", required=True, type=Path, help="the transcript file to write")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--secret", action="append", default=[], help="a string to mask (repeatable)")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

    def announce(path: str) -> None:
        sys.stdout.write(path + "\n")
        sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):
        serve_recording_pty(args.port, args.out, stop, baudrate=args.baud, secrets=args.secret, on_ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
