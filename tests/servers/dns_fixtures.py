"""pytest fixtures for loopback DNS servers. Import them into a conftest.py:

    from tests.servers.dns_fixtures import dns_server, dnsmasq_dns  # noqa: F401

- ``dns_server``: a fresh ``LoopbackDnsServer`` (dnspython, fault knobs) serving ``DNS_HOSTS``; one per test.
- ``dnsmasq_dns``: a real dnsmasq serving ``DNS_HOSTS``, shared by the session; when dnsmasq is not installed the
  test is skipped with the install command on a developer's machine and fails in CI (``.ci/run`` installs
  ``dnsmasq-base``), see ``tests.servers.system``.

Both bind 127.0.0.1 only. Give a stack the server with
``stack.add_dns_server(SocketAddress(*server.address))``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.dns_server import LoopbackDnsServer
from tests.servers.dnsmasq import DnsmasqServer, dnsmasq_path
from tests.servers.system import system_server_missing

# Mbed's DNS test host lists (mbed_netsocket.md 3.6), pointed at loopback addresses, plus a few of our own.
DNS_HOSTS: dict[str, list[str]] = {
    "google.com": ["127.0.0.11", "::1"],
    "youtube.com": ["127.0.0.12", "::1"],
    "facebook.com": ["127.0.0.13", "::1"],
    "wikipedia.org": ["127.0.0.14", "::1"],
    "yahoo.com": ["127.0.0.15", "::1"],
    "instagram.com": ["127.0.0.16", "::1"],
    "ipv6ready.org": ["127.0.0.21", "::1"],
    "wireshark.org": ["127.0.0.22", "::1"],
    "bbc.co.uk": ["127.0.0.23", "::1"],
    "cnn.com": ["127.0.0.24", "::1"],
    "www.flickr.com": ["127.0.0.25", "::1"],
    "www.mozilla.org": ["127.0.0.26", "::1"],
    "echo.netsocket.test": ["127.0.0.1"],
    "v6only.netsocket.test": ["::1"],
}
"""Every name resolves to a loopback address; anything else (``google.com_invalid``...) is NXDOMAIN."""


@pytest.fixture
def dns_server() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer(DNS_HOSTS) as server:
        yield server


@pytest.fixture(scope="session")
def dnsmasq_dns() -> Iterator[DnsmasqServer]:
    if dnsmasq_path() is None:
        system_server_missing("dnsmasq is not installed (apt-get install dnsmasq-base)")
    with DnsmasqServer(DNS_HOSTS) as server:
        yield server
