"""``netsocket softap``: run the module's access point and watch stations join and leave.

Layer: application. Works on an interface that offers ``softap()`` (the ESP-AT driver's ``ESPSoftAP``; found by
duck typing, so this module imports no driver). Prints the settings, then one line per station event until
``--duration`` has passed or Ctrl-C; the SoftAP is stopped on the way out. The passphrase, as for joining, never
comes from the command line: ``NETSOCKET_SOFTAP_PASSWORD``, else asked for on a terminal, else an open network.
"""

from __future__ import annotations

import argparse
import getpass
import os
import queue
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from netsocket.errors import NsapiError
from netsocket.types import NsapiSecurity

from .device import Target, fail, parse_security
from .diagnose import UserError

PASSWORD_ENV = "NETSOCKET_SOFTAP_PASSWORD"
SOFTAP_HINT = (
    "an SSID has 1 to 32 bytes, a passphrase 8 to 63 characters, the channel is 1..13 and --max-stations at most "
    "the firmware's (4 on NonOS, 8 on ESP-AT for ESP8266, 10 on ESP32)"
)
POLL = 0.5
"""Seconds between station-list reads (firmware without station messages reports joins only through them)."""


def register(sub: Any, add_device: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("softap", help="run the module's Wi-Fi access point and list stations as they join and leave")
    p.add_argument("--ssid", default="netsocket-ap", help="network name to offer (default netsocket-ap)")
    p.add_argument(
        "--security",
        default=None,
        help=f"OPEN/NONE, WPA, WPA2 or WPA_WPA2 (default WPA2 with a passphrase from {PASSWORD_ENV}, else NONE)",
    )
    p.add_argument("--channel", type=int, default=1, help="Wi-Fi channel 1..13 (default 1)")
    p.add_argument("--max-stations", type=int, default=None, help="stations at once (default: the firmware's most)")
    p.add_argument("--hidden", action="store_true", help="leave the SSID out of the beacons")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    add_device(p)
    p.set_defaults(handler=cmd_softap)


def _passphrase(security: NsapiSecurity | None) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password is None and security != NsapiSecurity.NONE and sys.stdin.isatty():
        password = getpass.getpass("SoftAP passphrase (8 to 63 characters; empty for an open network): ")
    return password or ""


def _security(name: str | None, password: str) -> NsapiSecurity:
    if name is None:
        return NsapiSecurity.WPA2 if password else NsapiSecurity.NONE
    return NsapiSecurity.NONE if name.strip().upper() == "OPEN" else parse_security(name)


def cmd_softap(args: argparse.Namespace) -> int:
    from .commands import opened  # the subcommands' module imports this one

    if args.duration is not None and args.duration <= 0:
        raise UserError(
            "--duration must be a positive number of seconds", NsapiError.PARAMETER, "e.g. --duration 60, or none"
        )
    explicit = None if args.security is None else _security(args.security, "x")
    password = _passphrase(explicit)
    security = _security(args.security, password)
    console = Console()
    with opened(args) as (net, target):
        make = getattr(net, "softap", None)
        if not callable(make):
            raise UserError(
                f"{target.shown} has no Wi-Fi access point", NsapiError.UNSUPPORTED, "use an ESP module (esp://)"
            )
        ap = make()
        for err, what in (
            (ap.set_credentials(args.ssid, password, security), f"the SSID or passphrase for {args.ssid!r}"),
            (ap.set_channel(args.channel), f"channel {args.channel}"),
            (ap.set_max_stations(args.max_stations), f"--max-stations {args.max_stations}"),
            (ap.set_hidden(args.hidden), "--hidden"),
        ):
            if err != NsapiError.OK:
                raise _refused(f"{what} cannot be used", err, target)
        events: queue.Queue[Any] = queue.Queue()
        ap.attach(events.put)  # runs in the driver's callback context: only hands the event over
        err = ap.start()
        if err != NsapiError.OK:
            raise _refused(f"cannot start the access point on {target.shown}", err, target)
        try:
            _show_settings(console, ap, target)
            _watch(console, ap, events, args.duration)
        finally:
            ap.stop()
            _print_events(console, events)
            ap.attach(None)
    console.print("Access point stopped.")
    return 0


def _refused(what: str, err: int, target: Target) -> UserError:
    if err == NsapiError.PARAMETER:
        return UserError(what, NsapiError.PARAMETER, SOFTAP_HINT)
    if err == NsapiError.UNSUPPORTED:
        return UserError(
            what, NsapiError.UNSUPPORTED, "the SoftAP offers OPEN, WPA, WPA2 and WPA_WPA2 (no WEP, no WPA3)"
        )
    return fail(what, err, target)


def _show_settings(console: Console, ap: Any, target: Target) -> None:
    table = Table(title="Access point", show_header=False)
    table.add_row("device", target.shown)
    table.add_row("SSID", ap.get_ssid())
    table.add_row("security", ap.get_security().name)
    table.add_row("channel", str(ap.get_channel()))
    table.add_row("max stations", str(ap.get_max_stations() or "firmware's most"))
    table.add_row("hidden", "yes" if ap.is_hidden() else "no")
    console.print(table)
    console.print("Waiting for stations" + " (Ctrl-C stops)." if sys.stdin.isatty() else "Waiting for stations.")


def _watch(console: Console, ap: Any, events: queue.Queue[Any], duration: float | None) -> None:
    deadline = None if duration is None else time.monotonic() + duration
    next_poll = time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_poll:
            ap.stations()  # firmware without station messages reports joins and leaves through this
            next_poll = now + POLL
        wait = next_poll - now if deadline is None else min(next_poll, deadline) - now
        try:
            event = events.get(timeout=max(0.0, wait))
        except queue.Empty:
            continue
        _print_event(console, event)
    err, stations = ap.stations()
    if err == NsapiError.OK:
        table = Table(title=f"{len(stations)} stations")
        table.add_column("MAC")
        table.add_column("IP address")
        for station in stations:
            table.add_row(station.mac, station.ip or "-")
        console.print(table)


def _print_events(console: Console, events: queue.Queue[Any]) -> None:
    while True:
        try:
            _print_event(console, events.get_nowait())
        except queue.Empty:
            return


def _print_event(console: Console, event: Any) -> None:
    kind = event.kind.value
    if kind == "joined":
        console.print(f"station {event.mac} joined")
    elif kind == "got_ip":
        console.print(f"station {event.mac} got {event.ip}")
    else:
        console.print(f"station {event.mac} left")
