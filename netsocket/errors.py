"""Mbed's ``nsapi_error_t`` codes as an ``IntEnum``, plus the ``NSAPI_ERROR_*`` aliases for ported code.

Every netsocket call that can fail for a network reason returns one of these (or a non-negative size); it never
raises for a network outcome. The values are exactly those of Mbed OS's ``nsapi_types.h``.
"""

from __future__ import annotations

from enum import IntEnum


class NsapiError(IntEnum):
    """Mbed OS ``nsapi_error``: ``0`` is success, negative values are errors."""

    OK = 0
    WOULD_BLOCK = -3001
    UNSUPPORTED = -3002
    PARAMETER = -3003
    NO_CONNECTION = -3004
    NO_SOCKET = -3005
    NO_ADDRESS = -3006
    NO_MEMORY = -3007
    NO_SSID = -3008
    DNS_FAILURE = -3009
    DHCP_FAILURE = -3010
    AUTH_FAILURE = -3011
    DEVICE_ERROR = -3012
    IN_PROGRESS = -3013
    ALREADY = -3014
    IS_CONNECTED = -3015
    CONNECTION_LOST = -3016
    CONNECTION_TIMEOUT = -3017
    ADDRESS_IN_USE = -3018
    TIMEOUT = -3019
    BUSY = -3020

    def __str__(self) -> str:
        return f"NSAPI_ERROR_{self.name} ({int(self)})"


NSAPI_ERROR_OK = NsapiError.OK
NSAPI_ERROR_WOULD_BLOCK = NsapiError.WOULD_BLOCK
NSAPI_ERROR_UNSUPPORTED = NsapiError.UNSUPPORTED
NSAPI_ERROR_PARAMETER = NsapiError.PARAMETER
NSAPI_ERROR_NO_CONNECTION = NsapiError.NO_CONNECTION
NSAPI_ERROR_NO_SOCKET = NsapiError.NO_SOCKET
NSAPI_ERROR_NO_ADDRESS = NsapiError.NO_ADDRESS
NSAPI_ERROR_NO_MEMORY = NsapiError.NO_MEMORY
NSAPI_ERROR_NO_SSID = NsapiError.NO_SSID
NSAPI_ERROR_DNS_FAILURE = NsapiError.DNS_FAILURE
NSAPI_ERROR_DHCP_FAILURE = NsapiError.DHCP_FAILURE
NSAPI_ERROR_AUTH_FAILURE = NsapiError.AUTH_FAILURE
NSAPI_ERROR_DEVICE_ERROR = NsapiError.DEVICE_ERROR
NSAPI_ERROR_IN_PROGRESS = NsapiError.IN_PROGRESS
NSAPI_ERROR_ALREADY = NsapiError.ALREADY
NSAPI_ERROR_IS_CONNECTED = NsapiError.IS_CONNECTED
NSAPI_ERROR_CONNECTION_LOST = NsapiError.CONNECTION_LOST
NSAPI_ERROR_CONNECTION_TIMEOUT = NsapiError.CONNECTION_TIMEOUT
NSAPI_ERROR_ADDRESS_IN_USE = NsapiError.ADDRESS_IN_USE
NSAPI_ERROR_TIMEOUT = NsapiError.TIMEOUT
NSAPI_ERROR_BUSY = NsapiError.BUSY


def size_or_error(value: int) -> int:
    """Return ``value`` as is when non-negative, else as the matching ``NsapiError`` member.

    Raises ``ValueError`` for a negative number that is not an nsapi code (a driver bug, not a network outcome).
    """
    if value >= 0:
        return value
    return NsapiError(value)
