"""Which device a command talks to, and bringing its network up: ``--device``, else the configuration.

Layer: application glue. ``--device`` takes what the examples take: a serial path (an ESP module), a pyserial URL
(``espemu://``, ``socket://host:port``), or a netsocket interface URL (``esp://...``, ``w5500:///dev/spidev0.0``,
``w5500emu://``, ``host://``). With no ``--device`` the configuration's ``interface`` is used
(``NETSOCKET_INTERFACE`` or ``netsocket.ini``), else the built-in emulated ESP8266 (``espemu://``).
Drivers are found by URL through the ``netsocket.drivers`` entry points, only when a command needs one.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import quote

from netsocket.config import Settings
from netsocket.errors import NsapiError
from netsocket.interface import NetworkInterface
from netsocket.registry import open_interface
from netsocket.types import NsapiSecurity

from .diagnose import UserError, check_port, emulated_hosts, hint_for, is_device_path, open_error, redact

EMULATOR = "espemu://"
#: The emulated world's protected network (DESIGN.md §5); used only when the device is an emulator.
EMULATED_SSID = "netsocket-wpa2"
EMULATED_PASSWORD = "netsocket123"
#: pyserial URL schemes: a serial port, so an ESP module on it.
SERIAL_SCHEMES = ("espemu", "socket", "rfc2217", "loop", "spy", "alt", "hwgrep")


@dataclass(frozen=True)
class Target:
    """The device a command runs on, in the user's words (``name``), and at which UART speed."""

    name: str
    baudrate: int = 115200

    @property
    def is_serial(self) -> bool:
        """An ESP module on a serial port or pyserial URL (as opposed to a netsocket interface URL)."""
        return is_device_path(self.name) or self.name.split("://", 1)[0] in SERIAL_SCHEMES

    @property
    def shown(self) -> str:
        """``name`` as it may be printed: a ``password=`` in a URL is masked."""
        return redact(self.name)

    @property
    def emulated(self) -> bool:
        return self.name.startswith(("espemu:", "w5500emu:")) or "port=espemu" in self.name


def choose_target(device: str | None, baudrate: int | None, settings: Settings) -> Target:
    name = device or settings.interface or EMULATOR
    return Target(name, baudrate or 115200)


def open_target(target: Target) -> NetworkInterface:
    """Build the interface (not connected); ``UserError`` with a hint when the device cannot be used."""
    try:
        if target.is_serial:
            check_port(target.name)
            if not is_device_path(target.name):
                _try_url(target)
            return open_interface(f"esp://?port={quote(target.name, safe='')}&baudrate={target.baudrate}")
        return open_interface(target.name)
    except UserError:
        raise
    except ValueError as exc:
        raise UserError(f"cannot use {target.shown!r}: {exc}", NsapiError.PARAMETER, _url_hint(target.name)) from exc
    except OSError as exc:
        raise open_error(target.shown, exc) from exc


def open_serial(device: str, baudrate: int, timeout: float = 0.05) -> Any:
    """A pyserial port on ``device`` (a path or URL); the URL schemes netsocket ships (``espemu://``) are found
    through the ``netsocket.serial_url_handlers`` entry points, as the ESP driver finds them."""
    import serial

    for ep in entry_points(group="netsocket.serial_url_handlers"):
        if ep.value not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append(ep.value)
    return serial.serial_for_url(device, baudrate=baudrate, timeout=timeout)


def _try_url(target: Target) -> None:
    """Open a serial URL once, so that a bad one is reported now, in words, and not as a silent module later.
    (Only URLs: opening a real port toggles DTR/RTS, which resets many boards.)"""
    import serial

    try:
        open_serial(target.name, target.baudrate).close()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise UserError(
            f"cannot open {target.shown}: {exc}", NsapiError.DEVICE_ERROR, "check the URL's parameters"
        ) from exc


def _url_hint(name: str) -> str:
    return (
        "a device is a serial path (/dev/ttyUSB0), a pyserial URL (espemu://, socket://HOST:PORT) or an interface "
        "URL (esp://, w5500:///dev/spidev0.0, w5500emu://, host://)"
    )


def release(net: NetworkInterface) -> None:
    """Stop a driver's threads and close its port, for the drivers that hold any."""
    close = getattr(net, "close", None)
    if callable(close):
        close()


@dataclass(frozen=True)
class Credentials:
    ssid: str
    password: str
    security: NsapiSecurity

    def __repr__(self) -> str:
        return f"Credentials(ssid={self.ssid!r}, security={self.security.name})"


def parse_security(name: str) -> NsapiSecurity:
    try:
        return NsapiSecurity[name.strip().upper()]
    except KeyError:
        allowed = ", ".join(m.name for m in NsapiSecurity if m.name not in ("UNKNOWN",))
        raise UserError(
            f"the Wi-Fi security {name!r} is not one netsocket knows", NsapiError.PARAMETER, f"use one of {allowed}"
        ) from None


def credentials(
    target: Target, ssid: str | None, settings: Settings, *, security: str | None = None, prompt: bool = True
) -> Credentials:
    """The network to join: ``--ssid``, else the configuration's, else (on an emulator) ``netsocket-wpa2``.

    The passphrase never comes from the command line: it is the configuration's (``NETSOCKET_WIFI_PASSWORD``),
    the emulated world's for its own network, or asked for on the terminal. The security is ``security``
    (``--security``), else the configuration's, else WPA2 with a passphrase and NONE without."""
    chosen = ssid or settings.wifi_ssid
    if chosen is None:
        if not target.emulated:
            raise UserError(
                f"no Wi-Fi network to join for {target.shown}",
                None,
                "give --ssid, or set NETSOCKET_WIFI_SSID (and NETSOCKET_WIFI_PASSWORD) or wifi_ssid in netsocket.ini",
            )
        chosen = EMULATED_SSID
    password = settings.wifi_password if settings.wifi_ssid in (None, chosen) else None
    if password is None and target.emulated and chosen == EMULATED_SSID:
        password = EMULATED_PASSWORD
    if password is None and prompt and sys.stdin.isatty():
        password = getpass.getpass(f"Wi-Fi passphrase for {chosen!r} (empty for an open network): ")
    password = password or ""
    name = security or settings.wifi_security
    chosen_security = parse_security(name) if name else (NsapiSecurity.WPA2 if password else NsapiSecurity.NONE)
    return Credentials(chosen, password, chosen_security)


def fail(what: str, err: int, target: Target) -> UserError:
    """A ``UserError`` for a call that returned ``err``, with the hint for that code."""
    code = NsapiError(err)
    hosts = emulated_hosts() if code == NsapiError.DNS_FAILURE else None
    return UserError(what, code, hint_for(code, target.shown, emulated_hosts=hosts))
