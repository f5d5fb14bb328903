"""Name look-ups on the module (``AT+CIPDOMAIN``), used when netsocket's own resolver has no DNS server: one
query at a time on the module, the asynchronous ones as jobs on the worker thread (not a thread per query).
AAAA look-ups (``version=IPv6``) go to the module where IPv6 is on (``AT+CIPDOMAIN="<name>",3``, ESP-AT 3.x).
"""

from __future__ import annotations

import ipaddress
import itertools
from typing import TYPE_CHECKING

from netsocket.address import SocketAddress
from netsocket.callback_context import run_callback
from netsocket.errors import NsapiError
from netsocket.stack import HostbynameCallback
from netsocket.types import NsapiVersion

from . import commands as cmd
from .commands import ParameterError

if TYPE_CHECKING:
    from .stack import ESPATStack


def literal(host: str, address: SocketAddress, version: NsapiVersion) -> NsapiError | None:
    """An IP literal needs no look-up: OK (``address`` filled) or DNS_FAILURE for the wrong version; None for a
    name."""
    try:
        value = ipaddress.ip_address(host)
    except ValueError:
        return None
    if (version == NsapiVersion.IPv4 and value.version != 4) or (version == NsapiVersion.IPv6 and value.version != 6):
        return NsapiError.DNS_FAILURE
    address.set_ip_address(str(value))
    return NsapiError.OK


class ModuleDns:
    def __init__(self, stack: ESPATStack) -> None:
        self._stack = stack
        self._ids = itertools.count(1)
        self._cancelled: set[int] = set()

    def resolve(self, host: str, address: SocketAddress, version: NsapiVersion) -> NsapiError:
        stack = self._stack
        if version == NsapiVersion.IPv6 and not stack.core.ipv6:
            return NsapiError.UNSUPPORTED  # IPv4-only firmware (or IPv6 not on yet): no AAAA look-up
        if not stack.runner.alive:
            return NsapiError.DEVICE_ERROR
        try:
            command = cmd.resolve(host, dict(stack.dialect.resolve_network).get(NsapiVersion(version)))
        except ParameterError:
            return NsapiError.PARAMETER
        if not stack.core.wifi_up:
            return NsapiError.NO_CONNECTION
        reply = stack.run(command)
        if reply.device_error:
            return NsapiError.DEVICE_ERROR
        if reply.outcome == "TIMEOUT":
            return NsapiError.TIMEOUT
        ip = cmd.resolved_address(reply.lines) if reply.ok else None
        found = SocketAddress()
        if ip is None or not found.set_ip_address(ip) or version not in (NsapiVersion.UNSPEC, found.get_ip_version()):
            return NsapiError.DNS_FAILURE
        address.set_ip_address(ip)
        return NsapiError.OK

    def resolve_async(self, host: str, callback: HostbynameCallback, version: NsapiVersion) -> int:
        stack = self._stack
        if not stack.worker.running or not stack.runner.alive:
            # nothing to run the query on: said now, as Mbed does for a call that cannot start
            return NsapiError.DEVICE_ERROR if stack.runner.port is not None else NsapiError.NO_CONNECTION
        query_id = next(self._ids)

        def answer(result: NsapiError, address: SocketAddress | None) -> None:
            if query_id in self._cancelled:
                self._cancelled.discard(query_id)
                return
            run_callback(callback, 1 if result == NsapiError.OK else int(result), address if result == 0 else None)

        def resolve() -> None:
            address = SocketAddress()
            answer(stack.gethostbyname(host, address, version), address)

        stack.submit_job(resolve, lambda: answer(NsapiError.DEVICE_ERROR, None))
        return query_id

    def cancel(self, query_id: int) -> NsapiError:
        self._cancelled.add(query_id)
        return NsapiError.OK
