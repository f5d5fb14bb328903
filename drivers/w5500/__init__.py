"""netsocket.drivers.w5500: a WIZnet W5500 on SPI behind netsocket's API.

Layers, bottom up: ``registers`` and ``frame`` (sans-IO register map and SPI frame codec), ``spi`` (the ``SpiBus``
protocol and spidev/pyftdi backends), ``chip`` (register access, one SPI transaction each), ``stack``
(``W5500Stack``: the eight hardware sockets as netsocket primitives, with a service thread for callbacks) and
``interface`` (``W5500Interface``: reset, link, DHCP or static address).
"""

from __future__ import annotations

from .chip import ChipError, ChipGarbage, ChipTimeout, NetworkConfig, W5500Chip
from .interface import W5500Interface
from .spi import FtdiBus, SpiBus, SpidevBus
from .stack import W5500Stack

__all__ = [
    "ChipError",
    "ChipGarbage",
    "ChipTimeout",
    "FtdiBus",
    "NetworkConfig",
    "SpiBus",
    "SpidevBus",
    "W5500Chip",
    "W5500Interface",
    "W5500Stack",
]
