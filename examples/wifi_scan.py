"""Wi-Fi scan with an ESP module's ``WiFiInterface.scan``: how many networks are visible, then a table of them.

Run: ``python -m examples.wifi_scan`` (the emulated ESP8266 sees ``netsocket-open``, ``netsocket-wpa2`` and
``neighbour``), or ``python -m examples.wifi_scan --port /dev/ttyUSB0``. Scanning does not join a network.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from examples._network import NetworkError, add_network_arguments, describe, interruptible, open_network, release
from netsocket import NsapiError, WiFiAccessPoint, WiFiInterface
from netsocket.cli.diagnose import hint_for


def format_bssid(bssid: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in bssid)


def _hint(err: int) -> str:
    hint = hint_for(NsapiError(err))
    return f"\nhint: {hint}" if hint else ""


def scan(net: WiFiInterface) -> list[WiFiAccessPoint]:
    """Mbed's two-step scan: ``scan(None, 0)`` counts the networks, ``scan(list, n)`` fetches up to n of them."""
    count = net.scan(None, 0)
    if count < 0:
        raise NetworkError(f"scan failed: {NsapiError(count)}" + _hint(count))
    print(f"{count} networks visible")
    found: list[WiFiAccessPoint] = []
    if count:
        got = net.scan(found, count)
        if got < 0:
            raise NetworkError(f"scan failed: {NsapiError(got)}" + _hint(got))
    return found


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    try:
        net = open_network(args)
        try:
            if not isinstance(net, WiFiInterface):
                raise NetworkError(f"wifi_scan needs a Wi-Fi interface (an ESP module); {describe(args)} is not one")
            print(f"Scanning with {describe(args)}")
            found = scan(net)
        finally:
            release(net)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    if found:
        width = max(4, *(len(ap.get_ssid()) for ap in found))
        print(f"{'SSID':<{width}}  {'BSSID':<17}  {'SECURITY':<10}  {'RSSI':>4}  CHANNEL")
        for ap in sorted(found, key=lambda ap: ap.get_rssi(), reverse=True):
            print(
                f"{ap.get_ssid():<{width}}  {format_bssid(ap.get_bssid()):<17}  {ap.get_security().name:<10}  "
                f"{ap.get_rssi():>4}  {ap.get_channel()}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
