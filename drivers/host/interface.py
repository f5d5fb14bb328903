"""``HostInterface``: an ``EthernetInterface`` whose stack is the operating system's own.

The link is the OS's and always there, so ``connect`` only walks the status through CONNECTING to GLOBAL_UP and
``disconnect`` back to DISCONNECTED (closing the sockets opened on it). It is the reference every other stack is
compared with in the conformance suite, and lets application code run unchanged on a PC's own network.
"""

from __future__ import annotations

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.interface import EthernetInterface
from netsocket.types import NsapiConnectionStatus

from .stack import HostStack


class HostInterface(EthernetInterface):
    """The host's network, behind netsocket's interface API."""

    def __init__(self) -> None:
        super().__init__()
        self._stack = HostStack()

    @classmethod
    def from_url(cls, url: str) -> HostInterface:
        """``host://`` (no options)."""
        return cls()

    def get_stack(self) -> HostStack:
        return self._stack

    def set_blocking(self, blocking: bool) -> NsapiError:
        """Supported; the host's link is up at once, so a non-blocking connect has finished when it returns."""
        self._blocking = bool(blocking)
        return NsapiError.OK

    def connect(self) -> NsapiError:
        if self.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP:
            return NsapiError.IS_CONNECTED
        self._set_status(NsapiConnectionStatus.CONNECTING)
        self._set_status(NsapiConnectionStatus.GLOBAL_UP)
        return NsapiError.OK

    def disconnect(self) -> NsapiError:
        if self.get_connection_status() == NsapiConnectionStatus.DISCONNECTED:
            return NsapiError.NO_CONNECTION
        self._stack.close()
        self._set_status(NsapiConnectionStatus.DISCONNECTED)
        return NsapiError.OK

    def get_ip_address(self, address: SocketAddress) -> NsapiError:
        return self._stack.get_ip_address(address)
