"""``netsocket emulate esp|w5500``: serve an emulated module to other programs until Ctrl-C, saying how to reach it.

Layer: application over the emulators' own adapters (imported by module name when asked for). ``esp`` serves an
emulated ESP-AT module on a new pseudo-terminal (any program that takes a serial path can use it) or, with
``--listen``, as a ``socket://`` server; ``w5500`` serves an emulated W5500 on a loopback TCP port, reached as
``w5500emu://127.0.0.1:PORT``. Both serve the default emulated world (DESIGN.md §5), whose links reach servers on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import threading
from importlib import import_module
from typing import Any

from netsocket.errors import NsapiError

from .diagnose import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("emulate", help="serve an emulated ESP module (pty or socket://) or W5500 (w5500emu://)")
    p.add_argument("kind", choices=["esp", "w5500"])
    p.add_argument("--listen", metavar="HOST:PORT", help="serve on this loopback TCP address instead of a pty (esp)")
    p.add_argument("--profile", default="at22_8266", help="ESP firmware: nonos17, at22_8266 (default), at3_esp32")
    p.add_argument("--baud", type=int, default=115200, help="the emulated module's UART rate (default 115200)")
    p.add_argument("--no-pace", dest="pace", action="store_false", help="do not pace the line at the baud rate")
    p.add_argument("--log-file", help="append the emulator's byte log here (passphrases masked)")
    p.add_argument(
        "--replay", metavar="FILE", help="play this recorded transcript as the module (esp; docs/transcripts.md)"
    )
    p.add_argument("--lenient", action="store_true", help="with --replay: tolerate link ids, ports, command order")
    p.set_defaults(handler=cmd_emulate)


def _split(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise UserError(f"--listen {listen!r} is not HOST:PORT", NsapiError.PARAMETER, "for example 127.0.0.1:0")
    return host or "127.0.0.1", int(port)


def cmd_emulate(args: argparse.Namespace) -> int:
    stop = threading.Event()  # never set: Ctrl-C ends the command
    if args.kind == "w5500":
        return _serve_w5500(args, stop)
    esp_cli = import_module("netsocket.mocks.esp_at.cli")
    emulator_options = import_module("netsocket.mocks.esp_at.options").EmulatorOptions
    if args.lenient and not args.replay:
        raise UserError("--lenient goes with --replay", NsapiError.PARAMETER, "netsocket emulate esp --replay FILE")
    try:
        if args.replay:  # the transcript is the module: emulation settings do not apply
            options = emulator_options(replay=args.replay, lenient=args.lenient)
        else:
            options = emulator_options(profile=args.profile, baud=args.baud, pace=args.pace, log_file=args.log_file)
    except ValueError as exc:
        raise UserError(f"cannot emulate that module: {exc}", NsapiError.PARAMETER) from exc

    what = f"replay of {args.replay}" if args.replay else f"{args.profile}, {args.baud} baud"

    def on_pty(path: str) -> None:
        _say(
            f"Emulated ESP module ({what}) on {path}",
            f"  netsocket info --device {path} --baudrate {args.baud}",
            f"  NETSOCKET_INTERFACE=esp://{path}?baudrate={args.baud} python -m examples.http_client",
            "Its Wi-Fi: netsocket-wpa2 (passphrase netsocket123), netsocket-open. Ctrl-C stops it.",
        )

    def on_port(port: str) -> None:
        _say(
            f"Emulated ESP module ({what}) at socket://{host}:{port} (each client gets a fresh module)",
            f"  netsocket info --device socket://{host}:{port}",
            "Ctrl-C stops it.",
        )

    if args.listen:
        host, port = _split(args.listen)
        try:
            esp_cli.serve_tcp(options, host, port, stop, announce=on_port)
        except (OSError, SystemExit) as exc:
            raise UserError(f"cannot listen on {args.listen}: {exc}", NsapiError.PARAMETER) from None
    else:
        try:
            esp_cli.serve_pty(options, stop, announce=on_pty)
        except SystemExit as exc:  # the replay's transcript cannot be read
            raise UserError(str(exc), NsapiError.PARAMETER, "record one with `netsocket record`") from None
    return 0


def _serve_w5500(args: argparse.Namespace, stop: threading.Event) -> int:
    spi_server = import_module("netsocket.mocks.w5500.spi_url").SpiServer
    host, port = _split(args.listen) if args.listen else ("127.0.0.1", 0)
    try:
        server = spi_server(host, port)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot serve the emulated W5500 on {host}:{port}: {exc}", NsapiError.PARAMETER) from None
    with server:
        _say(
            f"Emulated W5500 at {server.url} (one client at a time; DHCP and DNS on its emulated LAN)",
            f"  netsocket info --device {server.url}",
            f"  NETSOCKET_INTERFACE={server.url} python -m examples.http_client",
            "Ctrl-C stops it.",
        )
        while not stop.wait(0.5):
            pass
    return 0


def _say(*lines: str) -> None:
    print("\n".join(lines), flush=True)
