"""Choosing and bringing up the network every example runs on (the one place the examples share).

Layer: application glue on top of the netsocket API. Command-line options, added by ``add_network_arguments``:

- ``--port PORT``: an ESP-AT module's serial port or pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``,
  ``espemu://?profile=nonos17``).
- ``--interface URL``: any netsocket interface instead of an ESP module (``host://`` for this computer's own
  network, ``w5500:///dev/spidev0.0``, ``w5500emu://``, ``esp:///dev/ttyUSB0``).
  With neither, the configuration's interface (``$NETSOCKET_INTERFACE`` or ``netsocket.ini``: see
  ``netsocket.config``), else ``espemu://``, the built-in emulated ESP8266 in its default world (DESIGN.md §5),
  whose sockets reach servers on 127.0.0.1.
- ``--baudrate``: the module's UART speed (default 115200).
- ``--ssid``/``--security``: the Wi-Fi network to join (default: ``$NETSOCKET_WIFI_SSID``, else the emulated
  world's ``netsocket-wpa2``, WPA2; an ``--interface`` URL's own credentials unless ``--ssid`` is given). The
  passphrase comes from ``$NETSOCKET_WIFI_PASSWORD`` (or ``netsocket.ini``), so it never has to be typed on a command
  line; ``--password`` still exists for throwaway networks.

Ctrl-C in any example prints ``Interrupted.`` and exits 130 (``interruptible``).

``connected_network(args)`` yields a connected interface and always disconnects and releases it afterwards;
``open_network(args)`` only builds it (``wifi_scan`` scans without joining). Both raise ``NetworkError`` with a
message meant for the user; examples print it and return 1 instead of showing a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence

from netsocket import (
    NetworkInterface,
    NsapiError,
    NsapiSecurity,
    SocketAddress,
    WiFiInterface,
    open_interface,
)
from netsocket.cli.device import Target
from netsocket.cli.diagnose import UserError, check_port, emulated_hosts, hint_for, redact
from netsocket.config import (
    ENV_CONFIG,
    ENV_INTERFACE,
    ENV_WIFI_PASSWORD,
    ENV_WIFI_SECURITY,
    ENV_WIFI_SSID,
    ConfigError,
    Settings,
    load_settings,
)

#: The environment variables of the configuration (tests clear them so a developer's setup cannot leak in).
CONFIG_ENV = (ENV_INTERFACE, ENV_WIFI_SSID, ENV_WIFI_PASSWORD, ENV_WIFI_SECURITY, ENV_CONFIG)
EXIT_INTERRUPTED = 130
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
        help=f"ESP-AT serial port or pyserial URL (default: ${ENV_INTERFACE}, else {EMULATOR_PORT}, the emulator)",
    )
    where.add_argument("--interface", metavar="URL", help="any netsocket interface instead (host://, w5500://...)")
    group.add_argument("--baudrate", type=int, default=115200, help="the ESP module's UART speed (default: 115200)")
    group.add_argument("--ssid", help=f"Wi-Fi network to join (default: ${ENV_WIFI_SSID}, else {DEFAULT_SSID})")
    group.add_argument(
        "--password", help=f"Wi-Fi passphrase; better in ${ENV_WIFI_PASSWORD}, which keeps it out of shell history"
    )
    group.add_argument(
        "--security",
        default=None,
        choices=["NONE", "WEP", "WPA", "WPA2", "WPA_WPA2", "WPA3", "WPA3_WPA2"],
        help=f"Wi-Fi security (default: ${ENV_WIFI_SECURITY}, else {DEFAULT_SECURITY}, NONE with no passphrase)",
    )


def settings() -> Settings:
    """The configuration; a broken configuration file is reported like any network problem."""
    try:
        return load_settings()
    except ConfigError as exc:
        raise NetworkError(str(exc)) from exc


def _where(args: argparse.Namespace) -> tuple[str, str]:
    """``("interface", URL)`` or ``("port", PORT)``: the options, else the configuration, else the emulator."""
    if args.interface:
        return "interface", str(args.interface)
    if args.port:
        return "port", str(args.port)
    configured = settings().interface
    if configured:
        return ("port" if Target(configured).is_serial else "interface"), configured
    return "port", EMULATOR_PORT


def esp_port(args: argparse.Namespace) -> str:
    """The serial port the ESP module is on: ``--port``, else the configured interface, else the emulator."""
    kind, where = _where(args)
    return where if kind == "port" else EMULATOR_PORT


def emulated(args: argparse.Namespace) -> bool:
    """True when the examples run on the built-in emulated ESP module."""
    kind, where = _where(args)
    return kind == "port" and where.startswith("espemu:")


def describe(args: argparse.Namespace) -> str:
    """Where the examples' traffic goes, in words: ``ESP8266 on espemu://`` or ``interface host://``."""
    kind, where = _where(args)
    if kind == "interface":
        return f"interface {redact(where)}"
    return f"ESP8266 on {redact(where)}" + (" (the built-in emulator)" if emulated(args) else "")


def open_network(args: argparse.Namespace) -> NetworkInterface:
    """Build the interface the options choose, without connecting it."""
    kind, where = _where(args)
    if kind == "interface":
        try:
            return open_interface(where)
        except (ValueError, OSError) as exc:
            raise NetworkError(f"cannot open interface {redact(where)!r}: {exc}") from exc
    try:
        check_port(where)
    except UserError as exc:
        raise NetworkError(str(exc)) from exc
    from netsocket.drivers.esp_at import ESP8266Interface

    try:
        return ESP8266Interface(where, args.baudrate)
    except (ValueError, OSError) as exc:
        raise NetworkError(f"cannot open {where!r}: {exc}") from exc


def release(net: NetworkInterface) -> None:
    """Stop a driver's threads and close its port, for the drivers that hold any."""
    close = getattr(net, "close", None)
    if callable(close):
        close()


def credentials(args: argparse.Namespace) -> tuple[str, str, NsapiSecurity]:
    """SSID, passphrase and security to join: the options, else the configuration, else the emulator's
    ``netsocket-wpa2``."""
    config = settings()
    ssid = args.ssid or config.wifi_ssid or DEFAULT_SSID
    if args.password is not None:
        password = args.password
    elif config.wifi_password is not None and config.wifi_ssid in (None, ssid):
        password = config.wifi_password
    else:
        password = DEFAULT_PASSWORD if ssid == DEFAULT_SSID else ""
    name = args.security or config.wifi_security or (DEFAULT_SECURITY if password else "NONE")
    security = NsapiSecurity.__members__.get(name.upper())
    if security is None:
        raise NetworkError(
            f"the Wi-Fi security {name!r} is not one netsocket knows; use one of {', '.join(NsapiSecurity.__members__)}"
        )
    return ssid, password if security != NsapiSecurity.NONE else "", security


def connect(net: NetworkInterface, args: argparse.Namespace) -> str:
    """Bring ``net`` up: a Wi-Fi interface joins the network of ``credentials`` (an ``--interface`` URL's own
    credentials count unless ``--ssid`` is given), others just ``connect()``. Returns what was joined, in words."""
    kind, where = _where(args)
    if isinstance(net, WiFiInterface) and (args.ssid or kind == "port"):
        ssid, password, security = credentials(args)
        err = net.connect(ssid, password, security)
        what = f"cannot join Wi-Fi network {ssid!r} ({security.name}) via {describe(args)}"
        joined = f", joined {ssid!r}"
    else:
        err = net.connect()
        what = f"cannot connect {describe(args)}"
        joined = ", joined Wi-Fi" if isinstance(net, WiFiInterface) else ""
    if err not in (NsapiError.OK, NsapiError.IS_CONNECTED):
        code = NsapiError(err)
        hint = hint_for(code, where)
        raise NetworkError(f"{what}: {code}" + (f"\nhint: {hint}" if hint else ""))
    return joined


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
        code = NsapiError(err)
        hint = hint_for(code, emulated_hosts=emulated_hosts() if code == NsapiError.DNS_FAILURE else None)
        raise NetworkError(f"cannot resolve {host!r}: {code}" + (f"\nhint: {hint}" if hint else ""))
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


def interruptible(main: Callable[[Sequence[str] | None], int]) -> Callable[[Sequence[str] | None], int]:
    """Wrap an example's ``main`` so that Ctrl-C prints ``Interrupted.`` and returns 130, with no traceback."""

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            return EXIT_INTERRUPTED

    return wrapper
