"""Fixtures of the conformance suite: the loopback servers (once per session), the stack under test (``network``,
one param per entry of ``stacks.STACKS``), Wi-Fi stacks (``wifi_network``), and per-case socket bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netsocket import NsapiError
from tests.conformance.harness import Network, Sockets
from tests.conformance.stacks import STACKS, WIFI_STACKS, StackEntry
from tests.servers import LoopbackServers


@pytest.fixture(scope="session")
def loopback_servers() -> Iterator[LoopbackServers]:
    with LoopbackServers() as servers:
        yield servers


@pytest.fixture(scope="session", params=STACKS, ids=[entry.name for entry in STACKS])
def network(request: pytest.FixtureRequest, loopback_servers: LoopbackServers) -> Iterator[Network]:
    """The stack under test, connected once per session (as Mbed's suites do in setup)."""
    entry: StackEntry = request.param
    interface = entry.make_interface(loopback_servers)
    try:
        result = entry.connect(interface)
        assert result == NsapiError.OK, f"{entry.name}: connect gave {result}"
        yield Network(entry, interface, loopback_servers)
    finally:
        entry.release(interface)


@pytest.fixture(scope="session", params=WIFI_STACKS, ids=[entry.name for entry in WIFI_STACKS])
def wifi_network(request: pytest.FixtureRequest, loopback_servers: LoopbackServers) -> StackEntry:
    """A Wi-Fi stack's entry (its ``wifi`` world is set); cases build fresh interfaces from it."""
    entry: StackEntry = request.param
    return entry


@pytest.fixture
def sockets(network: Network) -> Iterator[Sockets]:
    """Opens sockets for a case; closes them afterwards and checks the stack holds no more sockets than before
    (Mbed: every case starts and ends with all sockets closed)."""
    before = network.open_sockets()
    factory = Sockets(network)
    try:
        yield factory
    finally:
        factory.close_all()
    after = network.open_sockets()
    assert after == before, f"{network.name}: {before} sockets open before the case, {after} after"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With no Wi-Fi stack registered, the Wi-Fi cases have nothing to run on: deselect them (reported as
    deselected, never as passed or skipped)."""
    if WIFI_STACKS:
        return
    wifi = [item for item in items if "wifi_network" in getattr(item, "fixturenames", ())]
    if wifi:
        config.hook.pytest_deselected(items=wifi)
        items[:] = [item for item in items if item not in wifi]
