"""Mbed's ``nsapi_types.h`` enums other than the error codes, with Mbed's member names and values."""

from __future__ import annotations

from enum import IntEnum

from netsocket.errors import NsapiError


class NsapiSecurity(IntEnum):
    """Wi-Fi security (``nsapi_security_t``)."""

    NONE = 0x0
    WEP = 0x1
    WPA = 0x2
    WPA2 = 0x3
    WPA_WPA2 = 0x4
    PAP = 0x5
    CHAP = 0x6
    EAP_TLS = 0x7
    PEAP = 0x8
    WPA2_ENT = 0x9
    WPA3 = 0xA
    WPA3_WPA2 = 0xB
    UNKNOWN = 0xFF


class NsapiVersion(IntEnum):
    """IP version (``nsapi_version_t``)."""

    UNSPEC = 0
    IPv4 = 1
    IPv6 = 2


class NsapiProtocol(IntEnum):
    """Socket protocol (``nsapi_protocol_t``)."""

    TCP = 0
    UDP = 1
    ICMP = 2


class NsapiConnectionStatus(IntEnum):
    """Interface status (``nsapi_connection_status_t``)."""

    LOCAL_UP = 0
    GLOBAL_UP = 1
    DISCONNECTED = 2
    CONNECTING = 3
    ERROR_UNSUPPORTED = int(NsapiError.UNSUPPORTED)


class NsapiEvent(IntEnum):
    """Interface event (``nsapi_event_t``); the argument of ``CONNECTION_STATUS_CHANGE`` is the new status."""

    CONNECTION_STATUS_CHANGE = 0
    CELLULAR_STATUS_BASE = 0x1000
    CELLULAR_STATUS_END = 0x1FFF


class NsapiSocketLevel(IntEnum):
    """Option levels (``nsapi_socket_level_t`` and ``NSAPI_STACK``)."""

    STACK = 5000
    SOCKET = 7000
    TLSSOCKET_LEVEL = 7099


class NsapiSocketOption(IntEnum):
    """Socket options at level ``NsapiSocketLevel.SOCKET`` (``nsapi_socket_option_t``)."""

    REUSEADDR = 0
    KEEPALIVE = 1
    KEEPIDLE = 2
    KEEPINTVL = 3
    LINGER = 4
    SNDBUF = 5
    RCVBUF = 6
    ADD_MEMBERSHIP = 7
    DROP_MEMBERSHIP = 8
    BIND_TO_DEVICE = 9
    LATENCY = 10
    STAGGER = 11
    IPTOS = 12
    BROADCAST = 13
    PKTINFO = 14
