"""Opening the module's serial port from a device path, a pyserial URL or an open serial-like object.

URL schemes that netsocket packages ship (the emulator's ``espemu://``) are registered under the entry-point group
``netsocket.serial_url_handlers`` as ``scheme = "package"``, where the package holds pyserial's
``protocol_<scheme>`` module. They are put on ``serial.protocol_handler_packages`` before a URL is opened, so
pyserial finds them the way it finds its own handlers and the driver never imports the emulator.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

import serial

URL_HANDLER_GROUP = "netsocket.serial_url_handlers"


def register_url_handlers(scheme: str | None = None) -> None:
    """Add the packages registered for ``scheme`` (every scheme if None) to pyserial's handler packages."""
    for ep in entry_points(group=URL_HANDLER_GROUP):
        if (scheme is None or ep.name == scheme) and ep.value not in serial.protocol_handler_packages:
            serial.protocol_handler_packages.append(ep.value)


def open_port(port: Any, baudrate: int, rtscts: bool) -> tuple[Any, bool]:
    """A pyserial port from a path, a URL or an open serial-like object; the flag says whether we own it."""
    if not isinstance(port, str):
        return port, False
    if "://" in port:
        register_url_handlers(urlsplit(port).scheme)
    return serial.serial_for_url(port, baudrate=baudrate, rtscts=rtscts, timeout=0.05), True
