"""WiFiInterface argument checks: the Mbed Wi-Fi test plan's WIFI_SET_CREDENTIAL table and WIFI_SET_CHANNEL."""

from __future__ import annotations

import pytest

from netsocket import NsapiError, NsapiSecurity, WiFiAccessPoint, WiFiInterface
from netsocket.stack import NetworkStack

S = NsapiSecurity


class _Radio(WiFiInterface):
    joined: list[tuple[str | None, str, NsapiSecurity, int]]

    def __init__(self) -> None:
        super().__init__()
        self.joined = []

    def get_stack(self) -> NetworkStack:
        raise NotImplementedError

    def disconnect(self) -> NsapiError:
        return NsapiError.OK

    def _connect_wifi(self) -> NsapiError:
        self.joined.append((self._ssid, self._pass_phrase, self._security, self._channel))
        return NsapiError.OK

    def get_rssi(self) -> int:
        return 0

    def scan(self, res: list[WiFiAccessPoint] | None, count: int) -> int:
        return 0


@pytest.mark.parametrize(
    ("ssid", "password", "security", "expected"),
    [
        (None, None, S.NONE, NsapiError.PARAMETER),
        ("", None, S.NONE, NsapiError.PARAMETER),
        ("net", None, S.WPA_WPA2, NsapiError.PARAMETER),
        ("net", None, S.WPA3_WPA2, NsapiError.PARAMETER),
        ("net", None, S.WEP, NsapiError.PARAMETER),
        ("net", None, S.NONE, NsapiError.OK),
        ("net", "", S.NONE, NsapiError.OK),
        ("net", "x" * 64, S.WPA2, NsapiError.PARAMETER),
        ("net", "x" * 63, S.WPA2, NsapiError.OK),
        ("net", "", S.WPA_WPA2, NsapiError.PARAMETER),
        ("net", "", S.WPA3_WPA2, NsapiError.PARAMETER),
        ("net", "12345678", S.WPA_WPA2, NsapiError.OK),
        ("net", "12345678", S.WPA3_WPA2, NsapiError.OK),
        ("net", "12345678", S.WPA2, NsapiError.OK),
        ("net", "12345678", S.WPA3, NsapiError.OK),
        ("net", "12345678", S.WPA, NsapiError.OK),
        ("x" * 33, "12345678", S.WPA2, NsapiError.PARAMETER),
        ("x" * 32, "12345678", S.WPA2, NsapiError.OK),
        ("bad\r\nAT+RST", "12345678", S.WPA2, NsapiError.PARAMETER),
        ("net", "12345678\r\nAT+RST", S.WPA2, NsapiError.PARAMETER),
    ],
)
def test_set_credentials_table(
    ssid: str | None, password: str | None, security: NsapiSecurity, expected: NsapiError
) -> None:
    assert _Radio().set_credentials(ssid, password, security) == expected


def test_connect_without_credentials_is_no_ssid() -> None:
    radio = _Radio()
    assert radio.connect() == NsapiError.NO_SSID
    assert radio.joined == []


def test_connect_with_arguments_stores_copies() -> None:
    radio = _Radio()
    assert radio.connect("net", "12345678", S.WPA2, 6) == NsapiError.OK
    assert radio.joined == [("net", "12345678", S.WPA2, 6)]
    assert radio.connect("", "") == NsapiError.PARAMETER


@pytest.mark.parametrize(("channel", "expected"), [(0, 0), (1, 0), (13, 0), (14, -3003), (15, -3003), (-1, -3003)])
def test_set_channel(channel: int, expected: int) -> None:
    assert _Radio().set_channel(channel) == expected
