"""Placeholder: netsocket's resolver (Mbed's nsapi_dns) is being written; see issue 2."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from netsocket.address import SocketAddress
from netsocket.errors import NsapiError
from netsocket.types import NsapiVersion

if TYPE_CHECKING:
    from netsocket.stack import NetworkStack


class DnsResolver:
    """Resolves names over a stack's own UDP sockets."""

    def __init__(self, stack: NetworkStack) -> None:
        self._stack = stack

    @property
    def has_servers(self) -> bool:
        return False

    def gethostbyname(self, host: str, address: SocketAddress, version: NsapiVersion) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def gethostbyname_async(
        self, host: str, callback: Callable[[int, SocketAddress | None], None], version: NsapiVersion
    ) -> int:
        return NsapiError.UNSUPPORTED

    def gethostbyname_async_cancel(self, query_id: int) -> NsapiError:
        return NsapiError.PARAMETER

    def add_server(self, address: SocketAddress) -> NsapiError:
        return NsapiError.UNSUPPORTED

    def get_server(self, index: int, address: SocketAddress) -> NsapiError:
        return NsapiError.NO_ADDRESS
