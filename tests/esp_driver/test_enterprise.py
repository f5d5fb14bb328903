"""WPA2-Enterprise joins (``set_enterprise_credentials`` + ``connect``, AT+CWJEAP) end to end on every firmware
profile in the emulator's ``world=features`` (its ``netsocket-eap`` network), with the exact bytes on the wire."""

from __future__ import annotations

import ast
import itertools
import logging
from pathlib import Path

import pytest
import trustme
from netsocket.drivers.esp_at import EapMethod, ESP8266Interface

from netsocket import NsapiConnectionStatus, NsapiError, NsapiSecurity, SocketAddress

pytestmark = pytest.mark.esp

PROFILES = ("nonos17", "at22_8266", "at3_esp32")
IDENTITY = "anonymous@netsocket"
_names = itertools.count(1)


def module(profile: str) -> ESP8266Interface:
    return ESP8266Interface(f"espemu://?profile={profile}&world=features&timescale=0.01&seed=4&name=eap-{next(_names)}")


def joins(caplog: pytest.LogCaptureFixture) -> list[bytes]:
    """The join commands the driver wrote (AT+CWJEAP / AT+CWJAP set forms), as logged (secrets masked)."""
    found = []
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("-> "):
            line = ast.literal_eval(message[3:]).rstrip(b"\r\n")
            if line.startswith((b"AT+CWJEAP=", b"AT+CWJAP=", b"AT+CWJAP_CUR=")):
                found.append(line)
    return found


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """PEM files as a user keeps them: the RADIUS server's CA, the module's client certificate and key."""
    ca = trustme.CA()
    client = ca.issue_cert("esp-module@netsocket")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.crt", "key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    other = trustme.CA().issue_cert("someone-else")
    files["other_key"] = tmp_path / "other.key"
    other.private_key_pem.write_to_path(str(files["other_key"]))
    files["not_pem"] = tmp_path / "not.pem"
    files["not_pem"].write_bytes(b"\x30\x82\x01\x0a binary DER is not what the module's flash tools take here")
    return files


@pytest.mark.parametrize("profile", PROFILES)
def test_peap_joins_on_esp32_and_is_unsupported_on_esp8266(profile: str, caplog: pytest.LogCaptureFixture) -> None:
    iface = module(profile)
    try:
        assert (
            iface.set_enterprise_credentials("netsocket-eap", EapMethod.PEAP, IDENTITY, "user", "netsocket123")
            == NsapiError.OK
        )
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            result = iface.connect()
        if profile != "at3_esp32":
            assert result == NsapiError.UNSUPPORTED
            assert joins(caplog) == []  # refused before anything goes to the module
            assert iface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
            return
        assert result == NsapiError.OK
        assert joins(caplog) == [b'AT+CWJEAP="netsocket-eap",1,"anonymous@netsocket","user","********",0,20']
        assert iface.get_connection_status() == NsapiConnectionStatus.GLOBAL_UP
        address = SocketAddress()
        assert iface.get_ip_address(address) == NsapiError.OK and address.get_ip_address()
        assert iface.get_rssi() == -61
    finally:
        iface.close()


def test_failed_enterprise_joins_time_out(caplog: pytest.LogCaptureFixture) -> None:
    """+CWJEAP:Timeout, the firmware's one failure answer, whatever went wrong: CONNECTION_TIMEOUT."""
    iface = module("at3_esp32")
    try:
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.set_enterprise_credentials("netsocket-eap", EapMethod.TTLS, IDENTITY, "user", "wrong") == 0
            assert iface.connect() == NsapiError.CONNECTION_TIMEOUT
            assert iface.get_connection_status() == NsapiConnectionStatus.DISCONNECTED
            assert iface.set_enterprise_credentials("nowhere", EapMethod.PEAP, IDENTITY, "user", "netsocket123") == 0
            assert iface.connect() == NsapiError.CONNECTION_TIMEOUT
        assert joins(caplog) == [
            b'AT+CWJEAP="netsocket-eap",2,"anonymous@netsocket","user","********",0,20',
            b'AT+CWJEAP="nowhere",1,"anonymous@netsocket","user","********",0,20',
        ]
    finally:
        iface.close()


def test_eap_tls_uses_the_certificates_flashed_in_the_module(
    pki: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    iface = module("at3_esp32")
    try:
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert (
                iface.set_enterprise_credentials(
                    "netsocket-eap", EapMethod.TLS, IDENTITY, cert_file=pki["cert"], key_file=pki["key"]
                )
                == NsapiError.OK
            )
            assert iface.connect() == NsapiError.OK
            assert iface.disconnect() == NsapiError.OK
            assert (
                iface.set_enterprise_credentials(
                    "netsocket-eap",
                    EapMethod.TLS,
                    IDENTITY,
                    ca_file=str(pki["ca"]),
                    cert_file=str(pki["cert"]),
                    key_file=str(pki["key"]),
                )
                == NsapiError.OK
            )
            assert iface.connect() == NsapiError.OK
        # <security> bit 0: the flashed client certificate; bit 1: check the server against the flashed CA
        assert joins(caplog) == [
            b'AT+CWJEAP="netsocket-eap",0,"anonymous@netsocket",,,1,20',
            b'AT+CWJEAP="netsocket-eap",0,"anonymous@netsocket",,,3,20',
        ]
    finally:
        iface.close()


def test_psk_credentials_replace_enterprise_ones(caplog: pytest.LogCaptureFixture) -> None:
    iface = module("at3_esp32")
    try:
        assert iface.set_enterprise_credentials("netsocket-eap", EapMethod.PEAP, IDENTITY, "user", "netsocket123") == 0
        with caplog.at_level(logging.DEBUG, logger="netsocket.drivers.esp_at"):
            assert iface.connect("netsocket-wpa2", "netsocket123", NsapiSecurity.WPA2) == NsapiError.OK
        assert joins(caplog) == [b'AT+CWJAP="netsocket-wpa2","********"']
        assert iface.disconnect() == NsapiError.OK
        assert iface.set_enterprise_credentials("netsocket-eap", EapMethod.PEAP, IDENTITY, "user", "netsocket123") == 0
        assert iface.set_bssid("02:00:00:00:03:09") == NsapiError.OK
        assert iface.connect() == NsapiError.UNSUPPORTED  # AT+CWJEAP cannot pick an access point
    finally:
        iface.close()


def test_credentials_the_firmware_would_refuse_are_refused_at_once(pki: dict[str, Path]) -> None:
    iface = module("at3_esp32")  # never started: all of this is checked on the host
    try:

        def attempt(method: int, identity: str = IDENTITY, username: str = "", password: str = "", **files: object):
            return iface.set_enterprise_credentials("netsocket-eap", method, identity, username, password, **files)  # type: ignore[arg-type]

        cert, key = pki["cert"], pki["key"]
        assert attempt(EapMethod.PEAP, username="user") == NsapiError.PARAMETER  # no password
        assert attempt(EapMethod.TTLS, password="pw") == NsapiError.PARAMETER  # no username
        assert attempt(EapMethod.PEAP, "", "user", "pw") == NsapiError.PARAMETER  # no identity
        assert attempt(EapMethod.PEAP, "i" * 33, "user", "pw") == NsapiError.PARAMETER  # over 32 bytes
        assert attempt(EapMethod.PEAP, IDENTITY, "user", "p" * 33) == NsapiError.PARAMETER
        assert attempt(EapMethod.PEAP, IDENTITY, "user", "pw\r\nAT+RST") == NsapiError.PARAMETER
        assert attempt(3, IDENTITY, "user", "pw") == NsapiError.PARAMETER  # no such method
        assert attempt(EapMethod.TLS) == NsapiError.PARAMETER  # EAP-TLS needs a client certificate
        assert attempt(EapMethod.TLS, cert_file=cert) == NsapiError.PARAMETER  # ... and its key
        assert attempt(EapMethod.TLS, "i", "user", "pw", cert_file=cert, key_file=key) == NsapiError.PARAMETER
        assert attempt(EapMethod.TLS, cert_file=cert, key_file=pki["other_key"]) == NsapiError.PARAMETER
        assert attempt(EapMethod.TLS, cert_file=key, key_file=key) == NsapiError.PARAMETER  # a key is no certificate
        assert attempt(EapMethod.TLS, cert_file=cert, key_file=cert) == NsapiError.PARAMETER
        assert attempt(EapMethod.TLS, cert_file=cert, key_file=key, ca_file=pki["not_pem"]) == NsapiError.PARAMETER
        missing = pki["ca"].with_name("missing.pem")
        assert attempt(EapMethod.PEAP, IDENTITY, "user", "pw", ca_file=missing) == NsapiError.PARAMETER
        assert iface.set_enterprise_credentials("s" * 33, EapMethod.PEAP, IDENTITY, "u", "p") == NsapiError.PARAMETER
        assert attempt(EapMethod.TLS, cert_file=cert, key_file=key, ca_file=pki["ca"]) == NsapiError.OK
        assert attempt(EapMethod.PEAP, IDENTITY, "user", "pw", ca_file=pki["ca"]) == NsapiError.OK
    finally:
        iface.close()
