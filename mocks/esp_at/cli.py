"""Command line: serve an emulated module on a pseudo-terminal or as a ``socket://`` server.

Layer: I/O adapter. ``python -m netsocket.mocks.esp_at --pty --profile at3_esp32`` prints the device path (flushed) and
serves until killed; ``python -m netsocket.mocks.esp_at --listen 127.0.0.1:0`` prints the TCP port and gives every
client that connects a freshly powered module. The listening address must be a loopback one. ``--replay FILE`` plays a
recorded transcript instead (``--timescale`` scales its delays, ``--lenient`` relaxes the matching); the pty then
closes when the replay diverges.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import select
import signal
import socket
import sys
import threading
import tty
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import FrameType

from .emulator import Emulator
from .options import EmulatorOptions
from .profiles import DEFAULT_PROFILE, PROFILES
from .replay import ReplayPlayer, start_replay
from .timing import Timing
from .transport import FdTransport, SocketTransport, Transport, tty_baud


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m netsocket.mocks.esp_at", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal; print its path")
    where.add_argument("--listen", metavar="HOST:PORT", help="serve socket:// clients; print the port")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--chunking", action="store_true", help="random output chunk sizes and gaps")
    parser.add_argument("--inject", type=float, default=0.0, help="URC injection probability per point")
    parser.add_argument("--baud", type=int, default=115200, help="the module's UART rate (default 115200)")
    parser.add_argument(
        "--no-pace", dest="pace", action="store_false", help="do not pace the line at the baud rate (fast tests)"
    )
    parser.add_argument("--timescale", type=float, default=1.0, help="scale every emulated delay (0..1)")
    parser.add_argument("--noise", type=float, default=0.0, help="bit-flip probability per output chunk")
    parser.add_argument("--quirks", default="", help="comma list of reference §8 quirks to switch on")
    parser.add_argument("--allow-non-loopback", action="store_true", help="let links reach beyond 127/8")
    parser.add_argument("--log-file", default=None, help="append the byte log of both directions here")
    parser.add_argument("--replay", metavar="FILE", default=None, help="play this transcript instead of emulating")
    parser.add_argument("--lenient", action="store_true", help="replay: tolerate link ids, ports, command order")
    parser.add_argument("-v", "--verbose", action="store_true", help="byte log on stderr (DEBUG)")
    return parser


def options_from_args(args: argparse.Namespace) -> EmulatorOptions:
    return EmulatorOptions(
        profile=args.profile,
        seed=args.seed,
        chunking=args.chunking,
        inject=args.inject,
        baud=args.baud,
        pace=args.pace,
        timing=Timing().with_timescale(args.timescale),
        noise=args.noise,
        quirks=frozenset(q for q in str(args.quirks).split(",") if q),
        allow_non_loopback=args.allow_non_loopback,
        log_file=args.log_file,
        replay=args.replay,
        lenient=args.lenient,
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _print_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(
    options: EmulatorOptions,
    transport: Transport,
    aliases: tuple[str, ...] = (),
    host_baud: Callable[[], int | None] | None = None,
) -> Emulator | ReplayPlayer:
    """A started emulator, or the player of ``options.replay``, on ``transport``."""
    if options.replay is not None:
        try:
            return start_replay(
                options.replay,
                transport,
                timescale=options.timing.timescale,
                lenient=options.lenient,
                name=options.name,
            )
        except (OSError, ValueError) as exc:
            transport.close()
            raise SystemExit(f"cannot replay {options.replay}: {exc}") from exc
    return Emulator(options, transport, aliases=aliases, host_baud=host_baud).start()


def serve_pty(options: EmulatorOptions, stop: threading.Event, announce: Callable[[str], None] = _print_line) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    # The program on the slave end sets its baud rate there; a mismatch with the module's garbles, as on a wire.
    emulator = serve(options, FdTransport(master), aliases=(path,), host_baud=lambda: tty_baud(slave))
    try:
        announce(path)
        while not stop.wait(0.2) and emulator.running:
            pass
        divergence = getattr(emulator, "divergence", None)
        if divergence:
            sys.stderr.write(divergence + "\n")
    finally:
        emulator.close()
        os.close(slave)


def serve_tcp(
    options: EmulatorOptions, host: str, port: int, stop: threading.Event, announce: Callable[[str], None] = _print_line
) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit("--listen must name a loopback address")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1)
    announce(f"{server.getsockname()[1]}")
    emulator: Emulator | ReplayPlayer | None = None
    count = 0
    try:
        while not stop.is_set():
            ready, _, _ = select.select([server], [], [], 0.2)
            if emulator is not None and not emulator.running:
                emulator.close()
                emulator = None
            if not ready:
                continue
            client, _ = server.accept()
            if emulator is not None:
                emulator.close()
            count += 1
            name = f"{options.name or 'espemu-tcp'}-{count}"
            emulator = serve(replace(options, name=name), SocketTransport(client))
    finally:
        if emulator is not None:
            emulator.close()
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    try:
        options = options_from_args(args)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    stop = _stop_on_signals()
    if args.pty:
        serve_pty(options, stop)
    else:
        host, _, port = str(args.listen).rpartition(":")
        serve_tcp(options, host or "127.0.0.1", int(port), stop)
    return 0
