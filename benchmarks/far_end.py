"""The far end of an ESP benchmark, in its own process: an emulated module on a pseudo-terminal.

Running the module in another process keeps its CPU cost out of the driver's figure (on a 2-core machine they
also run in parallel, as a real module does). Prints the pty's path, then serves until its stdin closes or it gets
SIGTERM. With ``--ipd-log FILE`` it appends ``time.monotonic()`` of each write that carries ``+IPD`` (the moment it
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


class _StampingTransport(FdTransport):
    """A pty master that notes when each ``+IPD`` leaves for the host."""

    def __init__(self, fd: int, log: IO[str]) -> None:
        super().__init__(fd)
        self._log = log

    def write(self, data: bytes) -> int:
        written = super().write(data)
        if b"+IPD" in data[:written]:
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
    transport = _StampingTransport(master, log) if log else FdTransport(master)
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
