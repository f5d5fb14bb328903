"""The host reference stack: netsocket over the operating system's own sockets."""

from drivers.host.interface import HostInterface
from drivers.host.stack import HostStack

__all__ = ["HostInterface", "HostStack"]
