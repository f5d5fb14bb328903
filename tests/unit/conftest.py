"""Fixtures shared by the unit tests."""

from tests.servers.dns_fixtures import dns_server, dnsmasq_dns

__all__ = ["dns_server", "dnsmasq_dns"]
