"""The far end of an ESP benchmark, in its own process: an emulated module on a pseudo-terminal.

Running the module in another process keeps its CPU cost out of the driver's figure (on a 2-core machine they
also run in parallel, as a real module does). Prints the pty's path, then serves until its stdin closes or it gets
SIGTERM. With ``--refuse-passive`` the module answers the driver's ``AT+CIPRECVMODE=1`` with ERROR, as firmware
without passive receive does, so the driver uses active-mode ``+IPD`` (whichever runner drives it).
With ``--ipd-log FILE`` it appends ``time.monotonic()`` of each write that carries ``+IPD`` (the moment it
reaches the port); CLOCK_MONOTONIC is system-wide, so the driver's process can compare its own times with it.

    python -m benchmarks.far_end --profile at22_8266 --baud 921600 --rtt 0.005
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import replace
from typing import IO

from netsocket.mocks.esp_at import Emulator, EmulatorOptions, Timing
from netsocket.mocks.esp_at.transport import FdTransport


class _PassiveRefusal:
    """Rewrites ``AT+CIPRECVMODE=1`` in the host's bytes into ``=7`` (which the module rejects), however the bytes
    are split across reads: the rewrite keeps the length, so only the match's progress is carried over."""

    PATTERN = b"AT+CIPRECVMODE="

    def __init__(self) -> None:
        self._matched = 0

    def rewrite(self, data: bytes) -> bytes:
        out = bytearray(data)
        for index, byte in enumerate(out):
            if self._matched == len(self.PATTERN):
                if byte == ord("1"):
                    out[index] = ord("7")
                self._matched = 0
            if byte == self.PATTERN[self._matched]:
                self._matched += 1
            else:
                self._matched = 1 if byte == self.PATTERN[0] else 0
        return bytes(out)


class _FarTransport(FdTransport):
    """A pty master that can note when each ``+IPD`` leaves for the host and refuse passive receive."""

    def __init__(self, fd: int, log: IO[str] | None, refusal: _PassiveRefusal | None) -> None:
        super().__init__(fd)
        self._log = log
        self._refusal = refusal

    def read(self, size: int) -> bytes | None:
        data = super().read(size)
        return self._refusal.rewrite(data) if data and self._refusal else data

    def write(self, data: bytes) -> int:
        written = super().write(data)
        if self._log and b"+IPD" in data[:written]:
            self._log.write(f"{time.monotonic():.9f}\n")
            self._log.flush()
        return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", default="at22_8266")
    parser.add_argument("--baud", type=int, default=0, help="throttle at this baud rate (0: as fast as possible)")
    parser.add_argument("--rtt", type=float, default=0.0, help="network round trip, seconds")
    parser.add_argument("--timescale", type=float, default=0.01, help="scale of the emulated delays (joins, boot)")
    parser.add_argument("--ipd-log", default=None)
    parser.add_argument("--refuse-passive", action="store_true", help="answer AT+CIPRECVMODE=1 with ERROR")
    args = parser.parse_args(argv)

    timing = replace(Timing().with_timescale(args.timescale), network_rtt=args.rtt)
    options = EmulatorOptions(  # baud 0: unpaced (the line as fast as the pty carries it)
        profile=args.profile,
        baud=args.baud or 115200,
        pace=args.baud > 0,
        timing=timing,
        name=f"far-{os.getpid()}",
    )
    master, slave = os.openpty()
    tty.setraw(slave)
    log = open(args.ipd_log, "a") if args.ipd_log else None  # noqa: SIM115
    transport = _FarTransport(master, log, _PassiveRefusal() if args.refuse_passive else None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    emulator = Emulator(options, transport).start()
    try:
        print(os.ttyname(slave), flush=True)
        while not stop.wait(0.2) and emulator.running:
            pass
    finally:
        emulator.close()
        os.close(slave)
        if log:
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
