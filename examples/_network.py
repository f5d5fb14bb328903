"""Choosing and bringing up the network every example runs on (the one place the examples share).

Layer: application glue on top of the netsocket API. Command-line options, added by ``add_network_arguments``:

- ``--port PORT``: an ESP-AT module's serial port or pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``,
  ``espemu://?profile=nonos17``). Default: ``$NETSOCKET_ESP_PORT``, else ``espemu://``, the built-in emulated
  ESP8266 in its default world (DESIGN.md §5), whose sockets reach servers on 127.0.0.1.
- ``--baudrate``: the module's UART speed (default 115200).
- ``--ssid``/``--password``/``--security``: the Wi-Fi network to join (default ``netsocket-wpa2``, ``netsocket123``,
  WPA2: an access point of the emulated world; an ``--interface`` URL's own credentials unless ``--ssid`` is given).
- ``--interface URL``: any netsocket interface instead of an ESP module (``host://`` for this computer's own
  network, ``w5500:///dev/spidev0.0``, ``esp:///dev/ttyUSB0``).

``connected_network(args)`` yields a connected interface and always disconnects and releases it afterwards;
``open_network(args)`` only builds it (``wifi_scan`` scans without joining). Both raise ``NetworkError`` with a
message meant for the user; examples print it and return 1 instead of showing a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from netsocket import (
    NetworkInterface,
    NsapiError,
    NsapiSecurity,
    SocketAddress,
    WiFiInterface,
    open_interface,
)

ENV_PORT = "NETSOCKET_ESP_PORT"
EMULATOR_PORT = "espemu://"
DEFAULT_SSID = "netsocket-wpa2"
DEFAULT_PASSWORD = "netsocket123"
DEFAULT_SECURITY = "WPA2"


class NetworkError(Exception):
    """The network could not be used; ``str()`` says why, for the user."""


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--port``/``--interface``, ``--ssid``, ``--password`` and ``--security`` to ``parser``."""
    group = parser.add_argument_group("network")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--port",
        help=f"ESP-AT module's serial port or pyserial URL (default: ${ENV_PORT}, else {EMULATOR_PORT}, the emulator)",
    )
    where.add_argument("--interface", metavar="URL", help="any netsocket interface instead (host://, w5500://...)")
    group.add_argument("--baudrate", type=int, default=115200, help="the ESP module's UART speed (default: 115200)")
    group.add_argument("--ssid", help=f"Wi-Fi network to join (default: {DEFAULT_SSID}, or the --interface URL's)")
    group.add_argument("--password", help=f"Wi-Fi passphrase (default with the default SSID: {DEFAULT_PASSWORD})")
    group.add_argument(
        "--security",
        default=DEFAULT_SECURITY,
        choices=["NONE", "WEP", "WPA", "WPA2", "WPA_WPA2", "WPA3", "WPA3_WPA2"],
        help=f"Wi-Fi security (default: {DEFAULT_SECURITY})",
    )


def esp_port(args: argparse.Namespace) -> str:
    """The serial port the ESP module is on: ``--port``, else ``$NETSOCKET_ESP_PORT``, else the emulator."""
    port: str | None = args.port
    return port or os.environ.get(ENV_PORT) or EMULATOR_PORT


def emulated(args: argparse.Namespace) -> bool:
    """True when the examples run on the built-in emulated ESP module."""
    return not args.interface and esp_port(args).startswith("espemu:")


def describe(args: argparse.Namespace) -> str:
    """Where the examples' traffic goes, in words: ``ESP8266 on espemu://`` or ``interface host://``."""
    if args.interface:
        return f"interface {args.interface}"
    return f"ESP8266 on {esp_port(args)}" + (" (the built-in emulator)" if emulated(args) else "")


def open_network(args: argparse.Namespace) -> NetworkInterface:
    """Build the interface the options choose, without connecting it."""
    if args.interface:
        try:
            return open_interface(args.interface)
        except (ValueError, OSError) as exc:
            raise NetworkError(f"cannot open interface {args.interface!r}: {exc}") from exc
    from netsocket.drivers.esp_at import ESP8266Interface

    return ESP8266Interface(esp_port(args), args.baudrate)


def release(net: NetworkInterface) -> None:
    """Stop a driver's threads and close its port, for the drivers that hold any."""
    close = getattr(net, "close", None)
    if callable(close):
        close()


def credentials(args: argparse.Namespace) -> tuple[str, str, NsapiSecurity]:
    """SSID, passphrase and security to join: the options, else the emulator's ``netsocket-wpa2``."""
    ssid = args.ssid or DEFAULT_SSID
    password = args.password if args.password is not None else (DEFAULT_PASSWORD if ssid == DEFAULT_SSID else "")
    security = NsapiSecurity[args.security]
    return ssid, password if security != NsapiSecurity.NONE else "", security


def connect(net: NetworkInterface, args: argparse.Namespace) -> str:
    """Bring ``net`` up: a Wi-Fi interface joins the network of ``credentials`` (an ``--interface`` URL's own
    credentials count unless ``--ssid`` is given), others just ``connect()``. Returns what was joined, in words."""
    if isinstance(net, WiFiInterface) and (args.ssid or not args.interface):
        ssid, password, security = credentials(args)
        err = net.connect(ssid, password, security)
        what = f"cannot join Wi-Fi network {ssid!r} ({security.name}) via {describe(args)}"
        joined = f", joined {ssid!r}"
    else:
        err = net.connect()
        what = f"cannot connect {describe(args)}"
        joined = ", joined Wi-Fi" if isinstance(net, WiFiInterface) else ""
    if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
        raise NetworkError(f"{what}: {NsapiError(err)}{_hint(NsapiError(err))}")
    return joined


def _hint(err: NsapiError) -> str:
    hints = {
        NsapiError.DEVICE_ERROR: " (is the module on that port, powered, and at the --baudrate speed?)",
        NsapiError.AUTH_FAILURE: " (wrong --password?)",
        NsapiError.PARAMETER: " (a WPA passphrase has 8 to 63 characters; an SSID at most 32)",
        NsapiError.NO_SSID: " (no such --ssid in range; try examples.wifi_scan)",
    }
    return hints.get(err, "")


def ip_address(net: NetworkInterface) -> str:
    address = SocketAddress()
    err = net.get_ip_address(address)
    return (address.get_ip_address() or "?") if err == NsapiError.OK else "?"


@contextlib.contextmanager
def connected_network(args: argparse.Namespace) -> Iterator[NetworkInterface]:
    """The chosen interface, connected, for the length of the block; prints one line saying which it is."""
    net = open_network(args)
    try:
        joined = connect(net, args)
        print(f"Network: {describe(args)}{joined}, IP address {ip_address(net)}")
        try:
            yield net
        finally:
            net.disconnect()
    finally:
        release(net)


def resolve(net: NetworkInterface, host: str, port: int) -> SocketAddress:
    """``host:port`` through the interface's own DNS; ``NetworkError`` if the name does not resolve."""
    address = SocketAddress()
    err = net.gethostbyname(host, address)
    if err != NsapiError.OK:
        raise NetworkError(f"cannot resolve {host!r}: {NsapiError(err)}")
    address.set_port(port)
    return address


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` into a pair; ``argparse``-friendly ``ValueError`` otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port or (text.count(":") > 1 and not text.startswith("[")):
        host, port = text, ""
    host = host.strip("[]")
    if not host:
        raise ValueError(f"no host in {text!r}")
    number = int(port) if port else default_port
    if not 0 < number <= 0xFFFF:
        raise ValueError(f"port out of range in {text!r}")
    return host, number
