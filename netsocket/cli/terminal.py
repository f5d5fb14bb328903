"""``netsocket at``: an interactive AT terminal (like pyserial's miniterm, but a command line at a time).

Layer: application, on pyserial directly. Lines are edited with readline; each one is sent with CR LF and the
reply shown until ``OK``/``ERROR``/``FAIL``/``SEND OK`` or a pause, with control bytes escaped. ``$PASSWORD`` in a
line stands for the configured Wi-Fi passphrase (``NETSOCKET_WIFI_PASSWORD``), so it is never typed; the
passphrase, wherever it appears (the module's echo included), is shown as ``********``, and lines holding it are
kept out of the readline history.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from netsocket.config import load_settings
from netsocket.errors import NsapiError

from .device import choose_target, open_serial
from .diagnose import UserError, check_port, open_error

FINAL = re.compile(rb"\r\n(OK|ERROR|FAIL|SEND OK|SEND FAIL)\r\n|^(OK|ERROR)\r\n|>\s*$")
QUIET_S = 0.3
MASK = "********"
_JOIN = re.compile(r'(AT\+CW(?:JAP|SAP)(?:_CUR|_DEF)?=\s*"(?:[^"\\]|\\.)*"\s*,\s*")((?:[^"\\]|\\.)*)(")')


def register(sub: Any, add_device: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("at", help="interactive AT terminal (secrets masked; $PASSWORD = the configured passphrase)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a final result code")
    add_device(p)
    p.set_defaults(handler=cmd_at)


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every secret and every join command's passphrase replaced by ``********``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _JOIN.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def readable(data: bytes) -> str:
    """Bytes as text: printable ASCII and line breaks as they are, anything else escaped."""
    out = []
    for byte in data:
        if byte in (10, 13) or 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out).replace("\r\n", "\n").replace("\r", "")


def exchange(port: Any, line: str, timeout: float) -> bytes:
    port.write(line.encode() + b"\r\n")
    deadline = time.monotonic() + timeout
    quiet_until = time.monotonic() + QUIET_S
    reply = bytearray()
    while time.monotonic() < deadline:
        chunk = port.read(4096)
        if chunk:
            reply += chunk
            quiet_until = time.monotonic() + QUIET_S
            if FINAL.search(reply):
                # collect what follows at once (URCs), then stop
                quiet_until = min(quiet_until, time.monotonic() + 0.05)
        elif FINAL.search(reply) and time.monotonic() >= quiet_until:
            break
    return bytes(reply)


def cmd_at(args: argparse.Namespace) -> int:

    settings = load_settings()
    target = choose_target(args.device, args.baudrate, settings)
    if not target.is_serial:
        raise UserError(f"`at` needs an ESP module on a serial port; {target.shown} is not one", NsapiError.PARAMETER)
    check_port(target.name)
    password = settings.wifi_password or ""
    secrets = [password] if password else []
    interactive = sys.stdin.isatty()
    history: Any = None
    if interactive:
        with contextlib.suppress(ImportError):
            import readline

            history = readline
    try:
        port = open_serial(target.name, target.baudrate)
    except (OSError, ValueError) as exc:
        raise open_error(target.shown, exc) from exc
    with port:
        if interactive:
            print(f"AT terminal on {target.shown} at {target.baudrate} baud; an empty line or Ctrl-D quits.")
        silent = answered = 0
        while True:
            try:
                line = input("AT> " if interactive else "")
            except EOFError:
                break
            line = line.strip()
            if not line:
                if interactive:
                    break
                continue
            expanded = line.replace("$PASSWORD", password)
            if history is not None and ((password and password in expanded) or _JOIN.search(expanded)):
                history.remove_history_item(history.get_current_history_length() - 1)
            if not interactive:
                print(f"> {mask(expanded, secrets)}")
            reply = exchange(port, expanded, args.timeout)
            if FINAL.search(reply):
                answered += 1
            else:
                # Nothing, or bytes that end in no result code: garbage at a wrong baud rate looks like this.
                silent += 1
                print("(no answer)" if not reply else "(no result code: garbled?)")
            print(mask(readable(reply), secrets), end="" if reply.endswith(b"\n") else "\n")
        if silent and not answered:  # one unanswered command (a module still booting) is no failure
            raise UserError(
                f"no command got a readable answer from {target.shown} at {target.baudrate} baud",
                NsapiError.DEVICE_ERROR,
                f"run `netsocket probe --device {target.shown}` to find the rate it answers at",
            )
    return 0
