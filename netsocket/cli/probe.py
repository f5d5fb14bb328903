"""``netsocket probe``: find the baud rate an ESP-AT module answers at, then read its firmware, MAC and UART setup.

Layer: application, on pyserial directly (like a serial terminal, not through the driver: the driver assumes it
knows the rate). At a wrong rate a UART delivers garbage or nothing, so each common rate is tried with ``AT`` until
one answers ``OK``. The firmware dialect is named by the ESP driver's own ``AT+GMR`` table.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass, field
from importlib import import_module

from rich.console import Console
from rich.table import Table

from netsocket.config import load_settings
from netsocket.errors import NsapiError

from .device import choose_target, open_serial
from .diagnose import SILENCE_HINT, UserError, check_port, open_error

#: The rates ESP-AT modules ship at or are commonly set to, the usual ones first.
COMMON_RATES = (115200, 9600, 57600, 74880, 230400, 460800, 921600, 38400, 19200, 1000000, 2000000)
FLOW_CONTROL = {0: "none", 1: "RTS", 2: "CTS", 3: "RTS/CTS"}
ANSWER_TIMEOUT_S = 0.6
BOOT_TRIES = 5


@dataclass
class ProbeResult:
    baudrate: int
    gmr: list[str] = field(default_factory=list)
    firmware: str = ""
    dialect: str = ""
    mac: str = ""
    uart: str = ""
    flow_control: str = ""


def _exchange(port: object, line: bytes, timeout: float = ANSWER_TIMEOUT_S) -> bytes:
    """Send one command line and collect the reply until OK/ERROR or the timeout."""
    port.reset_input_buffer()  # type: ignore[attr-defined]
    port.write(line + b"\r\n")  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    reply = bytearray()
    while time.monotonic() < deadline:
        chunk = port.read(256)  # type: ignore[attr-defined]
        reply += chunk
        if re.search(rb"\r\n(OK|ERROR)\r\n", reply):
            break
    return bytes(reply)


def answers_at(device: str, rate: int, tries: int = 2) -> bool:
    """True if the module says ``OK`` to ``AT`` at ``rate`` (at least two tries: the first may meet garbage in its
    buffer)."""
    with open_serial(device, rate) as port:
        for _ in range(tries):
            if b"\r\nOK\r\n" in _exchange(port, b"AT"):
                return True
    return False


def find_rate(device: str, first: int) -> int | None:
    # The expected rate gets a few seconds: opening a port resets many boards (DTR), and a module that is still
    # booting answers nothing for a moment.
    if answers_at(device, first, tries=BOOT_TRIES):
        return first
    for rate in COMMON_RATES:
        if rate != first and answers_at(device, rate):
            return rate
    return None


def describe(device: str, rate: int) -> ProbeResult:
    result = ProbeResult(rate)
    with open_serial(device, rate) as port:
        gmr = _exchange(port, b"AT+GMR", 2.0)
        lines = [ln.strip() for ln in gmr.decode("ascii", "replace").splitlines()]
        result.gmr = [ln for ln in lines if ln and ln not in ("AT+GMR", "OK")]
        # The driver's own AT+GMR table names the dialect (found by module name: the CLI links to no driver).
        info = import_module("netsocket.drivers.esp_at.dialects").detect_dialect([ln.encode() for ln in result.gmr])
        if info is not None:
            result.firmware = ".".join(str(n) for n in info.version)
            result.dialect = info.dialect.name
        mac = re.search(rb'\+CIPSTAMAC(?:_CUR)?:"([0-9a-fA-F:]{17})"', _exchange(port, b"AT+CIPSTAMAC?"))
        if mac is None:
            mac = re.search(rb'\+CIPSTAMAC(?:_CUR)?:"([0-9a-fA-F:]{17})"', _exchange(port, b"AT+CIPSTAMAC_CUR?"))
        result.mac = mac.group(1).decode() if mac else ""
        uart = re.search(rb"\+UART_CUR:(\d+),(\d),(\d),(\d),(\d)", _exchange(port, b"AT+UART_CUR?"))
        if uart is not None:
            result.uart = f"{int(uart.group(1))} baud as the module reports it, {uart.group(2).decode()} data bits"
            result.flow_control = FLOW_CONTROL.get(int(uart.group(5)), uart.group(5).decode())
    return result


def cmd_probe(args: argparse.Namespace) -> int:
    console = Console()
    target = choose_target(args.device, args.baudrate, load_settings())
    if not target.is_serial:
        raise UserError(
            f"probe talks to an ESP module on a serial port, and {target.shown} is not one",
            NsapiError.PARAMETER,
            "give --device /dev/ttyUSB0 (or a pty of `netsocket emulate esp`)",
        )
    check_port(target.name)
    try:
        rate = find_rate(target.name, target.baudrate)
    except OSError as exc:
        raise open_error(target.shown, exc) from exc
    if rate is None:
        tried = ", ".join(str(r) for r in COMMON_RATES)
        raise UserError(
            f"no answer from {target.shown} at any common baud rate ({tried})",
            NsapiError.DEVICE_ERROR,
            SILENCE_HINT.format(device=target.name).split("; ", 1)[1],
        )
    if rate != target.baudrate:
        console.print(
            f"The module answers at {rate} baud, not {target.baudrate}: use --baudrate {rate} "
            f"(or switch the module with AT+UART_DEF={target.baudrate},8,1,0,0, sent at {rate})."
        )
    else:
        console.print(f"The module answers at {rate} baud.")
    result = describe(target.name, rate)
    table = Table(show_header=False)
    table.add_row("port", target.shown)
    table.add_row("baud rate", str(rate))
    table.add_row("firmware", result.firmware or "unknown")
    table.add_row("dialect", result.dialect or "unknown")
    table.add_row("MAC address", result.mac or "-")
    table.add_row("UART", result.uart or "-")
    table.add_row("flow control", result.flow_control or "-")
    for line in result.gmr:
        table.add_row("AT+GMR", line)
    console.print(table)
    return 0
