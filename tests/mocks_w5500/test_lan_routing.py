"""The LAN's routing rules as pure decisions (no packet is sent): who answers ARP, where packets go."""

from __future__ import annotations

import ipaddress

from netsocket.mocks.w5500.lan import HOST_MAC, ROUTER_MAC, Lan, LanConfig, RouteKind


def _ip(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def test_default_lan_reaches_only_loopback_and_its_own_services() -> None:
    lan = Lan(LanConfig())
    router = _ip("192.168.77.1")
    assert lan.arp(router, _ip("127.0.0.1")) == ROUTER_MAC
    assert lan.arp(router, _ip("127.45.6.7")) == ROUTER_MAC
    assert lan.arp(router, _ip("10.1.2.3")) is None
    assert lan.arp(router, _ip("8.8.8.8")) is None
    assert lan.arp(_ip("192.168.77.2"), _ip("192.168.77.2")) == HOST_MAC
    assert lan.arp(_ip("192.168.77.150"), _ip("192.168.77.150")) is None
    assert lan.route(_ip("192.168.77.1"), 67, udp=True).kind is RouteKind.DHCP
    assert lan.route(_ip("255.255.255.255"), 67, udp=True).kind is RouteKind.DHCP
    assert lan.route(_ip("192.168.77.1"), 53, udp=True).kind is RouteKind.DNS
    assert lan.route(_ip("192.168.77.1"), 80, udp=False).kind is RouteKind.REFUSE
    route = lan.route(_ip("192.168.77.2"), 8080, udp=False)
    assert (route.kind, route.host, route.port) == (RouteKind.HOST, "127.0.0.1", 8080)
    assert lan.route(_ip("10.1.2.3"), 80, udp=False).kind is RouteKind.BLACKHOLE


def test_allow_any_is_an_explicit_opt_in() -> None:
    lan = Lan(LanConfig(allow_any=True))
    assert lan.arp(_ip("192.168.77.1"), _ip("10.1.2.3")) == ROUTER_MAC
    route = lan.route(_ip("10.1.2.3"), 80, udp=False)
    assert (route.kind, route.host) == (RouteKind.HOST, "10.1.2.3")
    assert lan.arp(_ip("192.168.77.1"), _ip("192.168.77.150")) is None  # absent LAN hosts stay absent


def test_blackholes_and_listen_port_map() -> None:
    lan = Lan(LanConfig(blackholes={("127.0.0.1", 9)}, listen_port_map={80: 8080}))
    assert lan.route(_ip("127.0.0.1"), 9, udp=False).kind is RouteKind.BLACKHOLE
    assert lan.host_listen_port(80) == 8080
    assert lan.host_listen_port(81) == 81
