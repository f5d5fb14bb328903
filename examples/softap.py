"""An ESP module as a Wi-Fi access point beside its station link: start a SoftAP, watch stations join and get an
address, list them, stop it.

Run: ``python -m examples.softap --port "espemu://?softap_stations=2" --stations 2`` (the emulator sends two
stations when the access point comes up), or ``python -m examples.softap --port /dev/ttyUSB0`` and join
``netsocket-ap`` from a phone (Ctrl-C or ``--duration`` ends it). The station side joins its network first
(``--ssid``), and keeps it while the access point runs (the module is in station+SoftAP mode).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import time
from collections.abc import Sequence

from netsocket.drivers.esp_at import ESP8266Interface, ESPSoftAP, SoftAPEvent, SoftAPEventKind

from examples._network import NetworkError, add_network_arguments, connected_network, describe, interruptible
from netsocket import NsapiError, NsapiSecurity

PASSWORD_ENV = "NETSOCKET_SOFTAP_PASSWORD"
DEFAULT_AP_PASSWORD = "netsocket-ap-123"


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_network_arguments(parser)
    group = parser.add_argument_group("access point")
    group.add_argument("--ap-ssid", default="netsocket-ap", help="the network to offer (default: netsocket-ap)")
    group.add_argument("--channel", type=int, default=6, help="its channel, 1..13 (default: 6)")
    group.add_argument("--stations", type=int, default=None, help="stop once this many stations have an address")
    group.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    password = os.environ.get(PASSWORD_ENV, DEFAULT_AP_PASSWORD)
    try:
        with connected_network(args) as net:
            if not isinstance(net, ESP8266Interface):
                raise NetworkError(f"softap needs an ESP module; {describe(args)} has no access point")
            ap = net.softap()
            err = ap.set_credentials(args.ap_ssid, password, NsapiSecurity.WPA2)
            if err == NsapiError.OK:
                err = ap.set_channel(args.channel)
            if err != NsapiError.OK:
                raise NetworkError(f"the access point's settings are refused: {NsapiError(err)}")
            events: queue.Queue[SoftAPEvent] = queue.Queue()
            ap.attach(events.put)  # called on the driver's thread: hand the event over, nothing more
            err = ap.start()
            if err != NsapiError.OK:
                raise NetworkError(f"cannot start the access point: {NsapiError(err)}")
            print(f"Access point {args.ap_ssid!r} (WPA2) on channel {args.channel}; the station side stays joined")
            try:
                watch(ap, events, args.stations, args.duration)
            finally:
                ap.stop()
                print("Access point stopped")
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def watch(ap: ESPSoftAP, events: queue.Queue[SoftAPEvent], wanted: int | None, duration: float | None) -> None:
    """Print each station event until ``wanted`` stations have an address or ``duration`` has passed."""
    deadline = None if duration is None else time.monotonic() + duration
    addressed: set[str] = set()
    while (wanted is None or len(addressed) < wanted) and (deadline is None or time.monotonic() < deadline):
        ap.stations()  # NonOS reports joins only through the station list
        try:
            event = events.get(timeout=0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
        except queue.Empty:
            continue
        print(f"station {event.mac} {event.kind.value}" + (f" {event.ip}" if event.ip else ""))
        if event.kind is SoftAPEventKind.GOT_IP:
            addressed.add(event.mac)
        elif event.kind is SoftAPEventKind.LEFT:
            addressed.discard(event.mac)
    err, stations = ap.stations()
    if err == NsapiError.OK:
        print(f"{len(stations)} stations:")
        for station in stations:
            print(f"  {station.mac}  {station.ip}")


if __name__ == "__main__":
    sys.exit(main())
