"""Module-side TLS (``ModuleTLSSocket``) end to end on every firmware profile, against a loopback TLS server: the
exact AT commands it sends, what each ``verify`` choice accepts and refuses, and the firmware's SSL-link limits."""

from __future__ import annotations

import ast
import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator

import pytest
import trustme
from netsocket.drivers.esp_at import ESP8266Interface, ModuleTLSSocket, ModuleTLSVerify
from netsocket.drivers.host import HostInterface
from netsocket.mocks.esp_at import Emulator, find_emulator

from netsocket import NsapiError, NsapiSecurity, SocketAddress, TCPSocket, TLSSocket
from tests.servers import tls_upper
from tests.servers.tls_upper import upper_tls_server

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
_names = itertools.count(1)


@contextlib.contextmanager
def joined(profile: str) -> Iterator[tuple[ESP8266Interface, Emulator]]:
    iface = ESP8266Interface(f"espemu://?profile={profile}&timescale=0.01&pace=0&seed=5&name=mtls-{next(_names)}")
    try:
        assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        yield iface, find_emulator(iface.stack.runner.port)
    finally:
        iface.close()


def sent(caplog: pytest.LogCaptureFixture) -> list[bytes]:
    """The command lines the driver wrote, in order."""
    lines: list[bytes] = []
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("-> "):
            lines.extend(line for line in ast.literal_eval(message[3:]).split(b"\r\n") if line.startswith(b"AT"))
    return lines


def ssl_lines(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith((b"AT+CIPSSL", b"AT+CIPSTART"))]


def round_trip(sock: ModuleTLSSocket) -> None:
    """Plaintext in and out: the server upper-cases it, then closes in order."""
    assert sock.send(b"hello") == 5
    buffer = bytearray(16)
    received = bytearray()
    while (count := sock.recv(buffer)) > 0:
        received += buffer[:count]
    assert count == 0, NsapiError(count)
    assert received == b"HELLO"


def pem(ca: trustme.CA) -> str:
    return ca.cert_pem.bytes().decode()


@pytest.mark.parametrize("profile", PROFILES)
def test_verify_none_accepts_a_certificate_nobody_vouches_for(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    """The danger of NONE, shown: a server whose CA the module has never seen is accepted without a word."""
    with joined(profile) as (iface, _emu), upper_tls_server(trustme.CA(), "impostor.example") as (port, _):
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert sock.open(iface) == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert sock.connect(SocketAddress("127.0.0.1", port)) == NsapiError.OK
        round_trip(sock)
        assert sock.close() == NsapiError.OK
        start = b'AT+CIPSTART=0,"SSL","127.0.0.1",%d' % port
        expected = {
            "nonos17": [b"AT+CIPSSLSIZE=4096", b"AT+CIPSSLCCONF=0", start],
            "at22_8266": [b"AT+CIPSSLCCONF=0,0", b'AT+CIPSSLCSNI=0,"127.0.0.1"', start],
            "at3_esp32": [b"AT+CIPSSLCCONF=0,0", b'AT+CIPSSLCSNI=0,"127.0.0.1"', start],
        }[profile]
        lines = sent(caplog)
        assert [line for line in lines if line.startswith((b"AT+CIPSSL", b"AT+CIPSTART"))] == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_server_mode_refuses_the_wrong_ca_and_accepts_the_flashed_one(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    ca = trustme.CA()
    with joined(profile) as (iface, emu), upper_tls_server(ca, "localhost", "127.0.0.1") as (port, _):
        address = SocketAddress("127.0.0.1", port)
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.SERVER)
        assert sock.open(iface) == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert sock.connect(address) == NsapiError.NO_CONNECTION  # no CA flashed at all
            emu.set_pki(ca_pem=pem(trustme.CA()))
            assert sock.connect(address) == NsapiError.NO_CONNECTION  # a CA that did not sign the server
            emu.set_pki(ca_pem=pem(ca))
            assert sock.connect(address) == NsapiError.OK
        round_trip(sock)
        sock.close()
        expected = []
        for link in range(3):  # the driver takes link ids in turn
            if profile == "nonos17":
                expected += [b"AT+CIPSSLSIZE=4096", b"AT+CIPSSLCCONF=2"]
            else:
                expected += [b"AT+CIPSSLCCONF=%d,2" % link, b'AT+CIPSSLCSNI=%d,"127.0.0.1"' % link]
            expected.append(b'AT+CIPSTART=%d,"SSL","127.0.0.1",%d' % (link, port))
        assert ssl_lines(sent(caplog)) == expected


@pytest.mark.parametrize("profile", ["at22_8266", "at3_esp32"])
def test_server_mode_checks_the_name_given_with_set_hostname(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    ca = trustme.CA()
    with joined(profile) as (iface, emu), upper_tls_server(ca, "localhost") as (port, names):
        emu.set_pki(ca_pem=pem(ca))
        address = SocketAddress("127.0.0.1", port)
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.SERVER)
        assert sock.open(iface) == NsapiError.OK
        # without a name the certificate is checked against the address, which it does not name
        assert sock.connect(address) == NsapiError.NO_CONNECTION
        assert sock.set_hostname("localhost") == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert sock.connect(address) == NsapiError.OK
        round_trip(sock)
        sock.close()
        assert names[-1] == "localhost"  # the SNI reached the server
        assert ssl_lines(sent(caplog)) == [
            b"AT+CIPSSLCCONF=1,2",
            b'AT+CIPSSLCSNI=1,"localhost"',
            b'AT+CIPSTART=1,"SSL","127.0.0.1",%d' % port,
        ]
        caplog.clear()
        # a name left on link 1 by that socket is not used by the next socket to get link 1 (ids go in turn)
        other = ModuleTLSSocket(verify=ModuleTLSVerify.SERVER)
        assert other.open(iface) == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            for _ in range(5):
                assert other.connect(address) == NsapiError.NO_CONNECTION
        other.close()
        assert ssl_lines(sent(caplog))[-3:] == [
            b"AT+CIPSSLCCONF=1,2",
            b'AT+CIPSSLCSNI=1,"127.0.0.1"',
            b'AT+CIPSTART=1,"SSL","127.0.0.1",%d' % port,
        ]


def test_nonos_sends_no_server_name() -> None:
    with joined("nonos17") as (iface, _emu):
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.SERVER)
        assert sock.open(iface) == NsapiError.OK
        assert sock.set_hostname("localhost") == NsapiError.UNSUPPORTED
        sock.close()
        # set before the firmware was known: connect says so
        early = ESP8266Interface(f"espemu://?profile=nonos17&timescale=0.01&pace=0&name=mtls-{next(_names)}")
        try:
            sock = ModuleTLSSocket(verify=ModuleTLSVerify.SERVER)
            assert sock.set_hostname("localhost") == NsapiError.OK
            assert sock.open(early) == NsapiError.OK
            assert early.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
            assert sock.connect(SocketAddress("127.0.0.1", 443)) == NsapiError.UNSUPPORTED
            sock.close()
        finally:
            early.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_mutual_presents_the_client_certificate_flashed_in_the_module(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("esp-module")
    with joined(profile) as (iface, emu), upper_tls_server(ca, "localhost", "127.0.0.1", client_ca=ca) as (port, _):
        address = SocketAddress("127.0.0.1", port)
        emu.set_pki(ca_pem=pem(ca))
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.MUTUAL)
        assert sock.open(iface) == NsapiError.OK
        assert sock.connect(address) == NsapiError.NO_CONNECTION  # no client certificate flashed
        emu.set_pki(
            ca_pem=pem(ca),
            client_cert_pem=client.cert_chain_pems[0].bytes().decode(),
            client_key_pem=client.private_key_pem.bytes().decode(),
        )
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert sock.connect(address) == NsapiError.OK
        round_trip(sock)
        sock.close()
        start = b'AT+CIPSTART=1,"SSL","127.0.0.1",%d' % port  # the second link id
        expected = {
            "nonos17": [b"AT+CIPSSLSIZE=4096", b"AT+CIPSSLCCONF=3", start],
            "at22_8266": [b"AT+CIPSSLCCONF=1,3", b'AT+CIPSSLCSNI=1,"127.0.0.1"', start],
            "at3_esp32": [b"AT+CIPSSLCCONF=1,3", b'AT+CIPSSLCSNI=1,"127.0.0.1"', start],
        }[profile]
        assert ssl_lines(sent(caplog)) == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_ssl_links_are_limited_as_the_firmware_limits_them(profile: str) -> None:
    limit = 5 if profile == "at3_esp32" else 1
    with joined(profile) as (iface, _emu), upper_tls_server(trustme.CA(), "localhost") as (port, _):
        address = SocketAddress("127.0.0.1", port)
        socks = [ModuleTLSSocket(verify=ModuleTLSVerify.NONE) for _ in range(limit)]
        for sock in socks:
            assert sock.open(iface) == NsapiError.OK
        extra = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert extra.open(iface) == NsapiError.NO_SOCKET
        if limit == 1:
            plain = TCPSocket()
            assert plain.open(iface) == NsapiError.OK  # the limit is the SSL links', not the module's five links
            plain.close()
        for sock in socks[:2]:  # open at the same time, each with its own handshake
            assert sock.connect(address) == NsapiError.OK
        for sock in socks[:2]:
            round_trip(sock)
        assert socks[0].close() == NsapiError.OK
        assert extra.open(iface) == NsapiError.OK  # a closed SSL socket gives its link back
        assert extra.connect(address) == NsapiError.OK
        round_trip(extra)
        for sock in [*socks, extra]:
            sock.close()


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266"])
def test_a_closed_ssl_socket_still_sending_does_not_cost_the_next_one_its_link(profile: str) -> None:
    """One SSL link on an ESP8266: a socket closed with bytes still queued keeps it until they are out; the next
    SSL socket's connect waits for it rather than failing."""
    payload = b"sink" + bytes(range(256)) * 40
    with joined(profile) as (iface, _emu), upper_tls_server(trustme.CA(), "localhost") as (port, _):
        address = SocketAddress("127.0.0.1", port)
        first = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert first.open(iface) == NsapiError.OK
        assert first.connect(address) == NsapiError.OK
        assert first.send(payload) == len(payload)  # queued: the module takes it in 2048-byte sends
        assert first.close() == NsapiError.OK
        second = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert second.open(iface) == NsapiError.OK
        assert second.connect(address) == NsapiError.OK
        round_trip(second)
        second.close()
    assert tls_upper.sunk == [payload]  # every byte of the closed socket arrived


def test_a_non_blocking_connect_reports_progress() -> None:
    with joined("at3_esp32") as (iface, _emu), upper_tls_server(trustme.CA(), "localhost") as (port, _):
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert sock.open(iface) == NsapiError.OK
        sock.set_blocking(False)
        address = SocketAddress("127.0.0.1", port)
        assert sock.connect(address) == NsapiError.IN_PROGRESS
        woken = threading.Event()
        sock.sigio(woken.set)
        results = {sock.connect(address)}
        while NsapiError.IS_CONNECTED not in results:
            assert woken.wait(10)
            woken.clear()
            results.add(sock.connect(address))
        assert results <= {NsapiError.ALREADY, NsapiError.IS_CONNECTED}
        sock.set_blocking(True)
        round_trip(sock)
        sock.close()


def test_the_api_says_what_it_is() -> None:
    with pytest.raises(TypeError):
        ModuleTLSSocket()  # type: ignore[call-arg]  # no default: NONE must be asked for by name
    with pytest.raises(TypeError):
        ModuleTLSSocket(verify=True)  # type: ignore[arg-type]
    sock = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
    assert not isinstance(sock, TLSSocket)  # never taken for host-side TLS
    assert sock.open(HostInterface()) == NsapiError.UNSUPPORTED  # the module's TLS needs a module
    assert sock.set_hostname("") == NsapiError.PARAMETER
    assert sock.set_hostname("a" * 61 + ".com") == NsapiError.PARAMETER  # 65 bytes: over AT+CIPSSLCSNI's limit
    assert sock.set_hostname("bad\nname") == NsapiError.PARAMETER
    assert sock.set_hostname("bad name") == NsapiError.PARAMETER
    assert sock.set_hostname(".example.com") == NsapiError.PARAMETER
    assert sock.set_hostname("a" * 60 + ".com") == NsapiError.OK  # 64 bytes
    with joined("at22_8266") as (iface, _emu):
        assert sock.open(iface) == NsapiError.OK
        assert sock.open(iface) == NsapiError.PARAMETER
        assert sock.bind(443) == NsapiError.UNSUPPORTED
        assert sock.listen() == NsapiError.UNSUPPORTED
        assert sock.accept() == (None, NsapiError.UNSUPPORTED)
        assert sock.send(b"x") == NsapiError.NO_CONNECTION
        assert sock.close() == NsapiError.OK


@pytest.mark.parametrize("profile", PROFILES)
def test_an_ipv6_server_over_an_sslv6_link(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    """ESP-AT 3.x (IPv6 on) opens an ``SSLv6`` link to an IPv6 literal; IPv4-only firmware answers UNSUPPORTED and
    sends nothing."""
    with joined(profile) as (iface, _emu), upper_tls_server(trustme.CA(), "::1", host="::1") as (port, _):
        sock = ModuleTLSSocket(verify=ModuleTLSVerify.NONE)
        assert sock.open(iface) == NsapiError.OK
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            result = sock.connect(SocketAddress("::1", port))
            if profile == "at3_esp32":
                assert result == NsapiError.OK
                round_trip(sock)
        sock.close()
        starts = [line for line in sent(caplog) if line.startswith(b"AT+CIPSTART")]
        if profile == "at3_esp32":
            assert starts == [b'AT+CIPSTART=0,"SSLv6","::1",%d' % port]
        else:
            assert result == NsapiError.UNSUPPORTED
            assert starts == []
