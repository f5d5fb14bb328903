"""``netsocket record --port P --out FILE``: record what any program says to a module, as a transcript.

Layer: application over the ESP driver's recording pseudo-terminal (imported by module name when asked for). It
serves a new pty that forwards to the module's port and writes every byte of both directions to FILE (JSON Lines,
docs/transcripts.md), Wi-Fi passphrases and ``--secret`` strings masked before writing. Point the program at the
printed pty; Ctrl-C ends the recording, and the transcript replays with ``netsocket emulate esp --replay FILE``.
"""

from __future__ import annotations

import argparse
import threading
from importlib import import_module
from typing import Any

from netsocket.errors import NsapiError

from .diagnose import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("record", help="record a module's serial session to a transcript (replay: emulate --replay)")
    p.add_argument("--port", required=True, help="the module's port: a device path or a pyserial URL")
    p.add_argument("--out", required=True, metavar="FILE", help="the transcript to write")
    p.add_argument("--baud", type=int, default=115200, help="the module's UART rate (default 115200)")
    p.add_argument("--secret", action="append", default=[], help="a string to mask in the transcript (repeatable)")
    p.set_defaults(handler=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    record_pty = import_module("netsocket.drivers.esp_at.record_pty")
    stop = threading.Event()  # never set: Ctrl-C ends the recording

    def on_ready(path: str) -> None:
        print(
            f"Recording {args.port} to {args.out} through {path}\n"
            f"  point your program at {path} (e.g. NETSOCKET_INTERFACE=esp://{path}); Ctrl-C ends the recording",
            flush=True,
        )

    try:
        record_pty.serve_recording_pty(
            args.port, args.out, stop, baudrate=args.baud, secrets=args.secret, on_ready=on_ready
        )
    except KeyboardInterrupt:
        print(f"Transcript written to {args.out} (replay: netsocket emulate esp --replay {args.out})", flush=True)
        return 0
    except OSError as exc:
        raise UserError(f"cannot record {args.port}: {exc}", NsapiError.DEVICE_ERROR, "netsocket ports") from None
    return 0
