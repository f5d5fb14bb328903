"""Finding drivers by name: the ``netsocket.drivers`` entry-point group (python-can's ``interface=`` pattern).

A driver registers ``name = "package.module:Class"``; ``Class.from_url(url)`` builds an interface from a URL whose
scheme is the name (``host://``, ``esp:///dev/ttyUSB0?baudrate=921600``, ``w5500:///dev/spidev0.0``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from netsocket.interface import NetworkInterface

ENTRY_POINT_GROUP = "netsocket.drivers"
ENV_DEFAULT = "NETSOCKET_INTERFACE"


class InterfaceFactory(Protocol):
    def from_url(self, url: str) -> NetworkInterface: ...


def available_drivers() -> list[str]:
    """The names of the installed drivers."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def open_interface(url: str) -> NetworkInterface:
    """Build an interface from a URL whose scheme names an installed driver (``ValueError`` if none does)."""
    scheme = urlsplit(url).scheme or url
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == scheme:
            factory: InterfaceFactory = ep.load()
            return factory.from_url(url)
    raise ValueError(f"no netsocket driver named {scheme!r}; installed: {', '.join(available_drivers()) or 'none'}")


def default_interface() -> NetworkInterface:
    """The configured interface (``$NETSOCKET_INTERFACE``, or ``interface`` in ``netsocket.ini``: see
    ``netsocket.config``) as a URL, else the host's own stack."""
    from netsocket.config import load_settings

    return open_interface(load_settings().interface or "host://")
