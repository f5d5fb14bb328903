"""SocketAddress: parsing, formatting and Mbed's value semantics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsocket import NsapiVersion, SocketAddress


def test_ipv4_round_trip() -> None:
    addr = SocketAddress("192.168.1.20", 8080)
    assert addr.get_ip_address() == "192.168.1.20"
    assert addr.get_ip_version() == NsapiVersion.IPv4
    assert addr.get_ip_bytes() == bytes([192, 168, 1, 20])
    assert addr.get_port() == 8080
    assert str(addr) == "192.168.1.20:8080"


def test_ipv6_is_formatted_in_brackets() -> None:
    addr = SocketAddress("::1", 80)
    assert addr.get_ip_version() == NsapiVersion.IPv6
    assert str(addr) == "[::1]:80"
    assert SocketAddress("[2001:db8::1]").get_ip_address() == "2001:db8::1"


@pytest.mark.parametrize("text", ["", "1.2.3", "256.1.1.1", "example.com", "1.2.3.4:80", "::g", "fe80::1%eth0"])
def test_invalid_text_gives_an_empty_address(text: str) -> None:
    addr = SocketAddress("10.0.0.1", 5)
    assert addr.set_ip_address(text) is False
    assert addr.get_ip_address() is None
    assert addr.get_ip_version() == NsapiVersion.UNSPEC
    assert not addr


def test_zero_addresses_are_false_and_equal() -> None:
    assert not SocketAddress("0.0.0.0", 1)
    assert not SocketAddress("::")
    assert SocketAddress() == SocketAddress("0.0.0.0", 99)


def test_equality_needs_version_bytes_and_port() -> None:
    assert SocketAddress("1.2.3.4", 5) == SocketAddress("1.2.3.4", 5)
    assert SocketAddress("1.2.3.4", 5) != SocketAddress("1.2.3.4", 6)
    assert SocketAddress("::ffff:1.2.3.4", 5) != SocketAddress("1.2.3.4", 5)


def test_bytes_constructor_and_setter() -> None:
    addr = SocketAddress(b"\x7f\x00\x00\x01", 7)
    assert str(addr) == "127.0.0.1:7"
    addr.set_ip_bytes(bytes(15) + b"\x01", NsapiVersion.IPv6)
    assert addr.get_ip_address() == "::1"
    with pytest.raises(ValueError):
        addr.set_ip_bytes(b"\x01\x02", NsapiVersion.IPv4)


@pytest.mark.parametrize("port", [-1, 65536])
def test_port_out_of_range_is_a_programming_error(port: int) -> None:
    with pytest.raises(ValueError):
        SocketAddress("1.2.3.4", port)


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        SocketAddress(1234)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SocketAddress("1.2.3.4").set_port("80")  # type: ignore[arg-type]


@given(st.ip_addresses(), st.integers(0, 65535))
def test_any_address_round_trips_through_text(ip: object, port: int) -> None:
    addr = SocketAddress(str(ip), port)
    again = SocketAddress(addr.get_ip_address(), addr.get_port())
    assert again == addr
    assert SocketAddress(addr.get_ip_bytes(), port) == addr


@given(st.text(max_size=50))
def test_arbitrary_text_never_raises(text: str) -> None:
    addr = SocketAddress()
    ok = addr.set_ip_address(text)
    assert ok == (addr.get_ip_version() != NsapiVersion.UNSPEC)
