"""Module-side TLS: AT+CIPSSLCCONF decides what the emulated module verifies and presents, AT+CIPSSLCSNI what name
it sends; the emulator does the TLS on the host with ssl against a loopback TLS server."""

from __future__ import annotations

import pytest
import trustme

from tests.servers.tls_upper import upper_tls_server

from .helpers import AtPort, pty_emulator

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def _start(at: AtPort, host: bytes, port: int) -> bytes:
    return b'AT+CIPSTART=0,"SSL","%s",%d' % (host, port)


def _round_trip(at: AtPort) -> None:
    at.cmd(b"AT+CIPSEND=0,5", OK + (b"> " if at.nonos else b"\r\n>"))
    at.send(b"hello")
    at.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n")
    at.expect(b"\r\n+IPD,0,5:HELLO0,CLOSED\r\n")


def _failed_start(at: AtPort, line: bytes) -> None:
    at.cmd(line, ERROR + b"0,CLOSED\r\n", timeout=5)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def test_esp_at_verifies_only_when_told_and_against_its_own_ca(ca: trustme.CA) -> None:
    with pty_emulator("at22_8266") as at, upper_tls_server(ca, "localhost") as (port, names):
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPSSLCCONF?", b"".join(b"+CIPSSLCCONF:%d,0,0,0\r\n" % i for i in range(5)) + OK)
        # Mode 0 (the default) verifies nothing: any certificate, any name.
        at.cmd(_start(at, b"127.0.0.1", port), b"0,CONNECT\r\n" + OK)
        _round_trip(at)
        at.cmd(b"AT+CIPSSLCCONF=0,2,0,0", OK)
        at.cmd(
            b"AT+CIPSSLCCONF?",
            b"+CIPSSLCCONF:0,2,0,0\r\n" + b"".join(b"+CIPSSLCCONF:%d,0,0,0\r\n" % i for i in range(1, 5)) + OK,
        )
        _failed_start(at, _start(at, b"localhost", port))  # no CA in the module's PKI partition
        at.emulator.set_pki(ca_pem=trustme.CA().cert_pem.bytes().decode())
        _failed_start(at, _start(at, b"localhost", port))  # a CA that did not sign the server
        at.emulator.set_pki(ca_pem=ca.cert_pem.bytes().decode())
        at.cmd(_start(at, b"localhost", port), b"0,CONNECT\r\n" + OK)
        _round_trip(at)
        _failed_start(at, _start(at, b"127.0.0.1", port))  # the certificate names localhost, not the IP
        at.cmd(b'AT+CIPSSLCSNI=0,"localhost"', OK)
        at.cmd(b"AT+CIPSSLCSNI?", b'+CIPSSLCSNI:0,"localhost"\r\n' + OK)
        at.cmd(_start(at, b"127.0.0.1", port), b"0,CONNECT\r\n" + OK)
        _round_trip(at)
        assert names[-1] == "localhost"  # the SNI went out
        at.cmd(b"AT+CIPSSLCCONF=0,4,0,0", ERROR)
        at.cmd(b"AT+CIPSSLCCONF=7,0", ERROR)  # no link 7
        at.cmd(b'AT+CIPSSLCSNI=0,"' + b"a" * 65 + b'"', ERROR)


def test_client_certificate_from_the_pki_partition(ca: trustme.CA) -> None:
    with pty_emulator("at3_esp32") as at, upper_tls_server(ca, "localhost", client_ca=ca) as (port, _):
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPSSLCCONF=0,3", OK)
        client = ca.issue_cert("esp-module")
        at.emulator.set_pki(ca_pem=ca.cert_pem.bytes().decode())
        _failed_start(at, _start(at, b"localhost", port))  # no client certificate flashed
        at.emulator.set_pki(
            ca_pem=ca.cert_pem.bytes().decode(),
            client_cert_pem=client.cert_chain_pems[0].bytes().decode(),
            client_key_pem=client.private_key_pem.bytes().decode(),
        )
        at.cmd(_start(at, b"localhost", port), b"0,CONNECT\r\n" + OK)
        _round_trip(at)


def test_nonos_has_one_global_mode_and_no_sni(ca: trustme.CA) -> None:
    with pty_emulator("nonos17") as at, upper_tls_server(ca, "localhost") as (port, _):
        at.boot()
        at.join()
        at.cmd(b"AT+CIPMUX=1", OK)
        at.cmd(b"AT+CIPSSLCCONF?", ERROR)
        at.cmd(b'AT+CIPSSLCSNI=0,"localhost"', ERROR)
        at.cmd(b"AT+CIPSSLCCONF=0,2", ERROR)  # ESP-AT's per-link form
        at.cmd(b"AT+CIPSSLCCONF=2", OK)
        _failed_start(at, _start(at, b"localhost", port))
        at.emulator.set_pki(ca_pem=ca.cert_pem.bytes().decode())
        at.cmd(_start(at, b"localhost", port), b"0,CONNECT\r\n" + OK)
        _round_trip(at)
