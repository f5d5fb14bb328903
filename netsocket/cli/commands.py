"""The subcommands' options, and the short ones: ``ports``, ``info``, ``scan``, ``join``, ``ping``.

Layer: application. Longer subcommands have their own modules (``probe``, ``http_get``, ``terminal``, ``trace``,
``emulate``, ``bench``); each handler takes the parsed arguments and returns an exit status, raising ``UserError``
for anything the user can fix.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

from netsocket.address import SocketAddress
from netsocket.config import load_settings
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface, WiFiAccessPoint, WiFiInterface
from netsocket.socket import TCPSocket

from .device import Target, choose_target, fail, open_target, release
from .diagnose import UserError, serial_ports, spi_devices
from .join import JoinOptions, add_join_options, bring_up

SubParsers = Any  # argparse's _SubParsersAction is private


def add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-d",
        "--device",
        "--port",
        dest="device",
        metavar="DEVICE",
        help="serial path, pyserial URL (espemu://) or interface URL (esp://, w5500://, w5500emu://, host://)",
    )
    parser.add_argument("-b", "--baudrate", type=int, default=None, help="the ESP module's UART speed (115200)")


def register(sub: SubParsers) -> None:
    from . import bench, emulate, http_get, probe, record, softap, terminal, trace

    p = sub.add_parser("ports", help="list serial ports (with the USB bridge chip) and SPI devices")
    p.set_defaults(handler=cmd_ports)

    p = sub.add_parser("probe", help="find the baud rate a module answers at; print its firmware and MAC")
    add_device_options(p)
    p.set_defaults(handler=probe.cmd_probe)

    p = sub.add_parser("info", help="bring the interface up and show its addresses, MAC and firmware")
    add_device_options(p)
    add_join_options(p)
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser("scan", help="list the Wi-Fi networks in range, strongest first")
    add_device_options(p)
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser("join", help="join the Wi-Fi network (or bring an Ethernet link up) and print the address")
    add_device_options(p)
    add_join_options(p)
    p.set_defaults(handler=cmd_join)

    p = sub.add_parser(
        "ping",
        help="ICMP echo to HOST from the module where it offers one (ESP AT+PING), else time TCP connections",
    )
    p.add_argument("host")
    p.add_argument(
        "-p",
        "--tcp-port",
        type=int,
        default=None,
        help="time TCP connections to this port instead (default 80 where the interface has no ICMP echo)",
    )
    p.add_argument("-c", "--count", type=int, default=4, help="how many connections (default 4)")
    add_device_options(p)
    add_join_options(p)
    p.set_defaults(handler=cmd_ping)

    http_get.register(sub, add_device_options, add_join_options)
    terminal.register(sub, add_device_options)
    trace.register(sub)
    emulate.register(sub)
    record.register(sub)
    bench.register(sub, add_device_options, add_join_options)
    softap.register(sub, add_device_options)


# ---------------------------------------------------------------------------------------------------------- helpers
def target_of(args: argparse.Namespace) -> Target:
    return choose_target(args.device, args.baudrate, load_settings())


@contextlib.contextmanager
def opened(args: argparse.Namespace) -> Iterator[tuple[NetworkInterface, Target]]:
    """The chosen interface, not connected, released afterwards."""
    target = target_of(args)
    net = open_target(target)
    try:
        yield net, target
    finally:
        release(net)


@contextlib.contextmanager
def connected(args: argparse.Namespace, console: Console | None = None) -> Iterator[tuple[NetworkInterface, Target]]:
    """The chosen interface, brought up for the length of the block."""
    with opened(args) as (net, target):
        joined = bring_up(net, target, JoinOptions.from_args(args), load_settings())
        if console is not None:
            console.print(f"{target.shown}: {joined}, IP address {address_of(net.get_ip_address)}")
        try:
            yield net, target
        finally:
            net.disconnect()


def address_of(getter: Any) -> str:
    address = SocketAddress()
    err = getter(address)
    return (address.get_ip_address() or "-") if err == NsapiError.OK else "-"


# --------------------------------------------------------------------------------------------------------- commands
def cmd_ports(args: argparse.Namespace) -> int:
    console = Console()
    ports = serial_ports()
    table = Table(title="Serial ports")
    for column in ("port", "USB id", "bridge chip", "description"):
        table.add_column(column)
    for port in ports:
        table.add_row(port.device, port.usb_id or "-", port.bridge or "-", port.description)
    if ports:
        console.print(table)
    else:
        console.print("No serial ports found (plug the adapter in; `dmesg` shows it arrive).")
    spi = spi_devices()
    if spi:
        console.print("SPI devices (a W5500 as w5500://DEVICE): " + ", ".join(spi))
    else:
        console.print("No SPI devices (on a Raspberry Pi: dtparam=spi=on in config.txt).")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    console = Console()
    with connected(args) as (net, target):
        table = Table(show_header=False)
        table.add_row("device", target.shown)
        table.add_row("driver", type(net).__name__)
        firmware = getattr(net, "firmware_version", None)
        if callable(firmware):
            table.add_row("firmware", str(firmware() or "-"))
        table.add_row("MAC address", net.get_mac_address() or "-")
        table.add_row("IP address", address_of(net.get_ip_address))
        table.add_row("netmask", address_of(net.get_netmask))
        table.add_row("gateway", address_of(net.get_gateway))
        table.add_row("status", net.get_connection_status().name)
        if isinstance(net, WiFiInterface):
            rssi = net.get_rssi()
            table.add_row("RSSI", f"{rssi} dBm" if rssi else "-")
        console.print(table)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    console = Console()
    with opened(args) as (net, target):
        if not isinstance(net, WiFiInterface):
            raise UserError(f"{target.shown} is not a Wi-Fi interface, so it cannot scan", NsapiError.UNSUPPORTED)
        found: list[WiFiAccessPoint] = []
        count = net.scan(found, 64)
        if count < 0:
            raise fail(f"the Wi-Fi scan on {target.shown} failed", count, target)
    table = Table(title=f"{len(found)} Wi-Fi networks")
    for column in ("SSID", "BSSID", "security", "RSSI", "channel"):
        table.add_column(column, justify="right" if column in ("RSSI", "channel") else "left")
    for ap in sorted(found, key=lambda ap: ap.get_rssi(), reverse=True):
        bssid = ":".join(f"{b:02x}" for b in ap.get_bssid())
        table.add_row(ap.get_ssid(), bssid, ap.get_security().name, str(ap.get_rssi()), str(ap.get_channel()))
    console.print(table)
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    with connected(args, Console()):
        pass
    return 0


def cmd_ping(args: argparse.Namespace) -> int:
    if (args.tcp_port is not None and not 0 < args.tcp_port <= 0xFFFF) or args.count < 1:
        raise UserError("--tcp-port must be 1..65535 and --count at least 1", NsapiError.PARAMETER)
    with connected(args) as (net, target):
        echo = getattr(net, "ping", None)
        if args.tcp_port is None and callable(echo):
            return _icmp_ping(args, echo, target)
        return _tcp_ping(args, net, target, args.tcp_port or 80)


def _icmp_ping(args: argparse.Namespace, echo: Callable[[str, int], int], target: Target) -> int:
    """ICMP echo run by the interface itself (``interface.ping``: the ESP module's AT+PING)."""
    console = Console()
    times: list[int] = []
    last = NsapiError.OK
    for _ in range(args.count):
        result = echo(args.host, 5000)
        if isinstance(result, NsapiError):
            last = result
            console.print(f"ICMP echo to {args.host}: {result}")
        else:
            times.append(result)
            console.print(f"ICMP echo to {args.host}: {result} ms")
    console.print(f"{len(times)} of {args.count} answered" + (f", best {min(times)} ms" if times else ""))
    if not times:
        raise fail(f"no ICMP echo from {args.host} was answered", last, target)
    return 0


def _tcp_ping(args: argparse.Namespace, net: NetworkInterface, target: Target, port: int) -> int:
    """Times TCP connects to ``port``: for interfaces with no ICMP echo, or when the user asks for a port."""
    console = Console()
    address = SocketAddress()
    err = net.gethostbyname(args.host, address)
    if err != NsapiError.OK:
        raise fail(f"cannot resolve {args.host!r}", err, target)
    address.set_port(port)
    times: list[float] = []
    last = NsapiError.OK
    for _ in range(args.count):
        with TCPSocket() as sock:
            sock.open(net)
            sock.set_timeout(5000)
            started = time.monotonic()
            result = sock.connect(address)
            elapsed = (time.monotonic() - started) * 1000
        if result == NsapiError.OK:
            times.append(elapsed)
            console.print(f"TCP connect to {address}: {elapsed:.1f} ms")
        else:
            last = NsapiError(result)
            console.print(f"TCP connect to {address}: {last}")
    console.print(f"{len(times)} of {args.count} connected" + (f", best {min(times):.1f} ms" if times else ""))
    if not times:
        raise fail(f"no TCP connection to {address} succeeded", last, target)
    return 0
