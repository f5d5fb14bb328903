"""The nsapi codes and enums carry Mbed's exact values."""

from __future__ import annotations

import pytest

import netsocket
from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity, NsapiSocketOption
from netsocket.errors import size_or_error

MBED_VALUES = {
    "OK": 0, "WOULD_BLOCK": -3001, "UNSUPPORTED": -3002, "PARAMETER": -3003, "NO_CONNECTION": -3004,
    "NO_SOCKET": -3005, "NO_ADDRESS": -3006, "NO_MEMORY": -3007, "NO_SSID": -3008, "DNS_FAILURE": -3009,
    "DHCP_FAILURE": -3010, "AUTH_FAILURE": -3011, "DEVICE_ERROR": -3012, "IN_PROGRESS": -3013, "ALREADY": -3014,
    "IS_CONNECTED": -3015, "CONNECTION_LOST": -3016, "CONNECTION_TIMEOUT": -3017, "ADDRESS_IN_USE": -3018,
    "TIMEOUT": -3019, "BUSY": -3020,
}  # fmt: skip


@pytest.mark.parametrize(("name", "value"), MBED_VALUES.items())
def test_error_values_and_aliases(name: str, value: int) -> None:
    assert NsapiError[name] == value
    assert getattr(netsocket, f"NSAPI_ERROR_{name}") is NsapiError[name]


def test_errors_print_by_name() -> None:
    assert str(NsapiError.WOULD_BLOCK) == "NSAPI_ERROR_WOULD_BLOCK (-3001)"


def test_size_or_error() -> None:
    assert size_or_error(12) == 12
    assert size_or_error(-3005) is NsapiError.NO_SOCKET
    with pytest.raises(ValueError):
        size_or_error(-1)


def test_other_enums() -> None:
    assert NsapiSecurity.WPA2 == 3 and NsapiSecurity.UNKNOWN == 0xFF
    assert NsapiConnectionStatus.CONNECTING == 3
    assert NsapiSocketOption.KEEPALIVE == 1 and NsapiSocketOption.PKTINFO == 14
