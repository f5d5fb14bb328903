"""DHCP on the emulated W5500 (issue 12): the offered address is probed with the chip's own ARP before it is used; a
taken one is declined and the next lease is used; connecting again reboots into the address held (INIT-REBOOT)."""

from __future__ import annotations

from netsocket.mocks.w5500 import LanConfig

from netsocket import NsapiConnectionStatus, NsapiError, SocketAddress
from tests.w5500.conftest import MakeInterface, StatusLog


def _ip(interface: object) -> str | None:
    address = SocketAddress()
    interface.get_ip_address(address)  # type: ignore[attr-defined]
    return address.get_ip_address()


def test_an_address_another_host_answers_for_is_declined(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False, connect=False, lan=LanConfig(occupied={"192.168.77.100"}))
    assert interface.connect() == NsapiError.OK  # after the RFC's ten-second wait
    assert _ip(interface) == "192.168.77.101"
    assert bytes((192, 168, 77, 100)) in fake.emulator.dhcp.declined
    assert ("DECLINE", "0.0.0.0") in fake.emulator.dhcp.log


def test_a_free_address_is_probed_and_kept(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False, connect=False)
    assert interface.connect() == NsapiError.OK
    assert _ip(interface) == "192.168.77.100"
    assert not fake.emulator.dhcp.declined
    assert interface.get_stack().open_sockets == 0  # the probe's socket is closed too


def test_the_link_coming_back_reboots_into_the_address_held(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False, connect=False)
    log = StatusLog()
    interface.attach(log)
    assert interface.connect() == NsapiError.OK
    held = _ip(interface)
    fake.emulator.dhcp.log.clear()
    fake.set_link(False)
    assert log.wait_for(NsapiConnectionStatus.DISCONNECTED)
    fake.set_link(True)
    assert log.wait_for(NsapiConnectionStatus.GLOBAL_UP, count=2)
    assert _ip(interface) == held
    assert [name for name, _ in fake.emulator.dhcp.log] == ["REQUEST", "ACK"], "INIT-REBOOT: one REQUEST, no DISCOVER"


def test_connect_after_disconnect_starts_from_discover(make_interface: MakeInterface) -> None:
    interface, fake = make_interface(static=False, connect=False)
    assert interface.connect() == NsapiError.OK
    assert interface.disconnect() == NsapiError.OK  # gives the lease back (DHCPRELEASE)
    fake.emulator.dhcp.log.clear()
    assert interface.connect() == NsapiError.OK
    assert [name for name, _ in fake.emulator.dhcp.log][:1] == ["DISCOVER"]
