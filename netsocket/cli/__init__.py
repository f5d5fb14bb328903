"""The ``netsocket`` command (also ``python -m netsocket``): see a module answer, and find out why when it does not.

Layer: an application on top of the API. It may use the drivers and the emulators, which it imports lazily, by
URL or entry point, when a subcommand needs one; nothing in the API imports this package.

Every subcommand exits 0 on success and non-zero on failure, printing a sentence, the NSAPI name and a hint
(never a traceback); Ctrl-C prints ``Interrupted.`` and exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from netsocket import __version__
from netsocket.config import ConfigError

from .diagnose import UserError

EXIT_INTERRUPTED = 130

COMMANDS = (
    "ports",
    "probe",
    "info",
    "scan",
    "join",
    "ping",
    "get",
    "at",
    "trace",
    "emulate",
    "record",
    "bench",
    "softap",
)


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(
        prog="netsocket",
        description="Talk to an ESP-AT module or a W5500 (real or emulated) through netsocket.",
        epilog="The device comes from --device, else NETSOCKET_INTERFACE or netsocket.ini, else the built-in "
        "emulated ESP8266 (espemu://). Wi-Fi credentials: NETSOCKET_WIFI_SSID and NETSOCKET_WIFI_PASSWORD.",
    )
    parser.add_argument("--version", action="version", version=f"netsocket {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0 ok, 1 failure, 2 usage, 130 interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    try:
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write("the netsocket command needs rich: pip install 'netsocket[cli]'\n")
        return 1
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (UserError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except OSError as exc:  # a port or socket failing in a way no check above foresaw: still a sentence, no traceback
        sys.stderr.write(
            f"error: {exc}\nhint: `netsocket trace -- {' '.join(argv or sys.argv[1:])}` shows the traffic\n"
        )
        return 1
    return status


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())
