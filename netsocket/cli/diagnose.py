"""Errors a user can act on: a sentence, the NSAPI name, and a hint saying what to try next.

Layer: application support, shared by the ``netsocket`` command and the examples. It imports no driver and no
rich: it looks at a device name and at the error a driver returned, and says what is probably wrong.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from netsocket.errors import NsapiError

#: USB-serial bridge chips by USB vendor:product (the ones ESP dongles and boards use).
BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x10C4, 0xEA70): "Silicon Labs CP2105",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x5523): "WCH CH341",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT-X",
    (0x067B, 0x2303): "Prolific PL2303",
    (0x303A, 0x1001): "Espressif USB-Serial/JTAG",
}

#: What to look at when a module does not answer at all.
SILENCE_HINT = (
    "run `netsocket probe --device {device}` to find the baud rate it answers at; check the wiring (the "
    "module's TX goes to the adapter's RX and RX to TX, grounds joined), the power (3.3 V able to give 500 mA: "
    "a weak supply browns out and reboots on Wi-Fi), and the boot mode (GPIO0 high, so it boots the AT firmware)"
)


def redact(url: str) -> str:
    """``url`` with the value of any ``password=`` parameter replaced by ``********`` (for messages and logs)."""
    url = _PASSWORD_PARAMETER.sub(r"\1********", url)
    return _QUOTED_PASSWORD_PARAMETER.sub(r"\1********", url)


#: ``password=...`` up to the next ``&``; and the same quoted inside another URL (``%26password%3D...``).
_PASSWORD_PARAMETER = re.compile(r"((?:^|[?&])password=)[^&#]*", re.IGNORECASE)
_QUOTED_PASSWORD_PARAMETER = re.compile(r"((?:%26|%3F)password%3D)(?:(?!%26)[^&#])*", re.IGNORECASE)


class UserError(Exception):
    """Something a user can fix: ``sentence`` says what went wrong, ``nsapi`` names the code, ``hint`` what to try.

    ``str()`` is the whole message, on two lines when there is a hint.
    """

    def __init__(self, sentence: str, nsapi: NsapiError | int | None = None, hint: str | None = None) -> None:
        self.sentence = sentence
        self.nsapi = NsapiError(nsapi) if nsapi is not None else None
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        text = self.sentence
        if self.nsapi is not None:
            text += f": {self.nsapi}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


@dataclass(frozen=True)
class PortInfo:
    """One serial port found on this machine."""

    device: str
    description: str
    vid: int | None = None
    pid: int | None = None

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else ""

    @property
    def bridge(self) -> str:
        """The bridge chip its USB id suggests ('' when unknown or not USB)."""
        if self.vid is None or self.pid is None:
            return ""
        return BRIDGES.get((self.vid, self.pid), "")


def serial_ports() -> list[PortInfo]:
    """The serial ports pyserial finds, sorted by name."""
    from serial.tools import list_ports

    found = [PortInfo(p.device, p.description or "", p.vid, p.pid) for p in list_ports.comports()]
    return sorted(found, key=lambda p: p.device)


def spi_devices(root: str = "/dev") -> list[str]:
    """The ``spidevB.D`` nodes (a W5500 on a Raspberry Pi's SPI bus shows up as one)."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(os.path.join(root, n) for n in names if n.startswith("spidev"))


def is_device_path(device: str) -> bool:
    """True for a path (``/dev/ttyUSB0``, ``COM3``) rather than a URL such as ``espemu://`` or ``socket://``."""
    return "://" not in device


def _ports_sentence() -> str:
    ports = serial_ports()
    if not ports:
        return "no serial port exists on this machine (is the adapter plugged in? `dmesg` shows it arrive)"
    listed = ", ".join(p.device + (f" ({p.bridge})" if p.bridge else "") for p in ports)
    return f"the serial ports here are: {listed}"


def dialout_group(path: str) -> str:
    """The group that owns a device node (``dialout`` on Debian/Ubuntu/Raspberry Pi OS, ``uucp`` on Arch)."""
    try:
        import grp  # POSIX only

        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (ImportError, OSError, KeyError):
        return "dialout"


def check_port(device: str) -> None:
    """Before a driver opens ``device``: ``UserError`` if the path is missing or not permitted (URLs pass)."""
    if not is_device_path(device):
        return
    if not os.path.exists(device):
        raise UserError(f"there is no serial port {device}", NsapiError.DEVICE_ERROR, _ports_sentence())
    if not os.access(device, os.R_OK | os.W_OK):
        raise permission_error(device)


def permission_error(device: str) -> UserError:
    group = dialout_group(device)
    return UserError(
        f"permission denied opening {device}",
        NsapiError.DEVICE_ERROR,
        f"your user is not in the {group!r} group that owns it: run `sudo usermod -aG {group} $USER`, then log "
        "out and back in (or `newgrp " + group + "` in this shell)",
    )


def open_error(device: str, exc: BaseException) -> UserError:
    """A ``UserError`` for an ``OSError``/``SerialException`` raised while opening ``device``."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return UserError(f"there is no serial port {device}", NsapiError.DEVICE_ERROR, _ports_sentence())
    if code in (errno.EACCES, errno.EPERM):
        return permission_error(device)
    if code == errno.EBUSY:
        return UserError(
            f"{device} is busy", NsapiError.DEVICE_ERROR, "another program has it open (a serial monitor, ModemManager)"
        )
    return UserError(f"cannot open {device}: {exc}", NsapiError.DEVICE_ERROR, "check the device name or URL")


def hint_for(err: NsapiError, device: str = "DEVICE", *, emulated_hosts: list[str] | None = None) -> str | None:
    """What to try after a driver returned ``err``; ``emulated_hosts``: the names the emulated world resolves."""
    if err == NsapiError.DEVICE_ERROR:
        return SILENCE_HINT.format(device=device)
    if err == NsapiError.AUTH_FAILURE:
        return "the Wi-Fi passphrase is wrong: set NETSOCKET_WIFI_PASSWORD (or wifi_password in netsocket.ini)"
    if err == NsapiError.NO_SSID:
        return "no network of that name is in range: `netsocket scan` lists the ones that are"
    if err == NsapiError.DNS_FAILURE:
        if emulated_hosts is not None:
            return (
                "the emulated world resolves only its own table ("
                + ", ".join(sorted(emulated_hosts))
                + ") and IPv4 literals; use one of those or 127.0.0.1"
            )
        return "check the name, and that the network gives a DNS server (`netsocket info` shows the interface)"
    if err in (NsapiError.CONNECTION_TIMEOUT, NsapiError.TIMEOUT):
        return "nothing answered in time: is the server up and reachable from the module's network?"
    if err == NsapiError.NO_CONNECTION:
        return "the connection was refused or dropped: is a server listening on that port?"
    if err == NsapiError.PARAMETER:
        return "a WPA passphrase has 8 to 63 characters and an SSID at most 32"
    if err == NsapiError.UNSUPPORTED:
        return "this driver or firmware does not offer that"
    return None


def emulated_hosts() -> list[str] | None:
    """The names the running emulated ESP modules resolve, or None when no emulator runs in this process."""
    try:
        emulators: list[Any] = import_module("netsocket.mocks.esp_at").running_emulators()
    except ImportError:
        return None
    if not emulators:
        return None
    names: set[str] = set()
    for emulator in emulators:
        names.update(emulator.device.world.hosts)
    return sorted(names)
