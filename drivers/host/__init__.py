"""The host reference stack: netsocket over the operating system's own sockets."""

from .interface import HostInterface
from .stack import HostStack

__all__ = ["HostInterface", "HostStack"]
