"""The join options of ``netsocket join``/``info``/``ping``/``get``/``bench`` on the emulated ESP module's
``features`` world (docs/esp_emulator.md): WPA3 and WPA2/WPA3, joining one of two same-named networks by BSSID,
and WPA2-Enterprise (PEAP, TTLS, TLS). Where the firmware or interface lacks one, the failure is a sentence with
the NSAPI name and a hint, never a traceback; the password only ever comes from ``NETSOCKET_WIFI_PASSWORD``."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from netsocket.cli import main
from tests.cli.conftest import FAST_ESP
from tests.cli.test_cli import assert_actionable

FEATURES = f"{FAST_ESP}&world=features"
EAP = ["--ssid", "netsocket-eap", "--identity", "anonymous@netsocket"]
PEAP = [*EAP, "--eap", "peap", "--username", "user"]


def device(profile: str) -> list[str]:
    return ["-d", f"{FEATURES}&profile={profile}"]


def flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------------------- WPA3
def test_a_wpa3_join_on_esp_at_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    assert main(["info", "--ssid", "netsocket-wpa3", "--security", "WPA3", *device("at3_esp32")]) == 0
    out = flat(capsys.readouterr().out)
    assert "status │ GLOBAL_UP" in out and "RSSI │ -50 dBm" in out  # netsocket-wpa3's signal


def test_the_security_default_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    monkeypatch.setenv("NETSOCKET_WIFI_SECURITY", "WPA3")
    assert main(["join", "--ssid", "netsocket-wpa3", *device("at3_esp32")]) == 0
    assert "joined 'netsocket-wpa3' (WPA3)" in flat(capsys.readouterr().out)


def test_ping_joins_with_the_same_options(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    argv = ["ping", "127.0.0.1", "-c", "1", "--ssid", "netsocket-wpa3", "--security", "WPA3", *device("at3_esp32")]
    assert main(argv) == 0
    assert "1 of 1 answered" in capsys.readouterr().out


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266"])
def test_wpa3_on_esp8266_firmware_is_unsupported_with_a_way_out(
    profile: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    assert main(["join", "--ssid", "netsocket-wpa3", "--security", "WPA3", *device(profile)]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_UNSUPPORTED")
    assert "WPA3 needs ESP-AT 3.x" in flat(err) and "WPA3_WPA2" in err


def test_the_hinted_way_out_joins_a_wpa2_wpa3_network_on_nonos(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    assert main(["join", "--ssid", "netsocket-mixed", "--security", "WPA3_WPA2", *device("nonos17")]) == 0
    assert "joined 'netsocket-mixed' (WPA3_WPA2)" in flat(capsys.readouterr().out)


def test_an_unknown_security_name_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--security", "WPA4", *device("at3_esp32")]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_PARAMETER")
    assert "WPA3_WPA2" in err


def test_enterprise_security_without_eap_says_to_use_eap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--ssid", "netsocket-eap", "--security", "WPA2_ENT", *device("at3_esp32")]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_PARAMETER")
    assert "--eap" in err


# ---------------------------------------------------------------------------------------------------------- BSSID
@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_bssid_picks_the_second_of_two_networks_with_one_name(
    profile: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "othernet123")  # the second netsocket-wpa2's passphrase
    argv = ["info", "--ssid", "netsocket-wpa2", "--bssid", "02:00:00:00:02:06", *device(profile)]
    assert main(argv) == 0
    out = flat(capsys.readouterr().out)
    assert (
        "status │ GLOBAL_UP" in out and "RSSI │ -70 dBm" in out
    )  # the second access point's signal, not the first's -58
    # Without the BSSID the module joins the first netsocket-wpa2, whose passphrase this is not.
    assert main(["join", "--ssid", "netsocket-wpa2", *device(profile)]) == 1
    assert_actionable(capsys.readouterr().err, "NSAPI_ERROR_AUTH_FAILURE")


def test_join_names_the_bssid_it_joined(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "othernet123")
    assert main(["join", "--ssid", "netsocket-wpa2", "--bssid", "02:00:00:00:02:06", *device("at3_esp32")]) == 0
    assert "joined 'netsocket-wpa2' (WPA2, BSSID 02:00:00:00:02:06)" in flat(capsys.readouterr().out)


def test_a_malformed_bssid_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--bssid", "02:00:00:00:02", *device("at22_8266")]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_PARAMETER")
    assert "aa:bb:cc:dd:ee:ff" in err


@pytest.mark.parametrize("option", [["--bssid", "02:00:00:00:02:06"], ["--security", "WPA2"], PEAP])
def test_wifi_options_on_a_wired_interface_are_explained(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "-d", "w5500emu://", *option]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_UNSUPPORTED")
    assert "is not a Wi-Fi interface" in err


# ----------------------------------------------------------------------------------------------------- Enterprise
@pytest.mark.parametrize("method", ["peap", "ttls"])
def test_an_enterprise_join_on_esp32_keeps_the_password_out_of_the_output(
    method: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    argv = ["info", *EAP, "--eap", method, "--username", "user", *device("at3_esp32")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = flat(captured.out)
    assert "status │ GLOBAL_UP" in out and "RSSI │ -61 dBm" in out
    assert "netsocket123" not in captured.out + captured.err


def test_an_eap_tls_join_with_certificate_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("device@netsocket")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    argv = ["join", *EAP, "--eap", "tls", *device("at3_esp32")]
    argv += ["--eap-ca-file", str(files["ca"]), "--eap-cert-file", str(files["cert"])]
    argv += ["--eap-key-file", str(files["key"])]
    assert main(argv) == 0
    assert "joined 'netsocket-eap' (WPA2_ENT, TLS)" in flat(capsys.readouterr().out)


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266"])
def test_enterprise_on_esp8266_firmware_is_unsupported(
    profile: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "netsocket123")
    assert main(["join", *PEAP, *device(profile)]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_UNSUPPORTED")
    assert "needs ESP-AT on an ESP32" in flat(err)


def test_a_refused_enterprise_join_names_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETSOCKET_WIFI_PASSWORD", "not-the-password")
    assert main(["join", *PEAP, *device("at3_esp32")]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_CONNECTION_TIMEOUT")
    assert "+CWJEAP:Timeout" in err and "NETSOCKET_WIFI_PASSWORD" in err


@pytest.mark.parametrize(
    ("argv", "nsapi", "words"),
    [
        (PEAP, "NSAPI_ERROR_PARAMETER", "no password"),  # NETSOCKET_WIFI_PASSWORD unset, no terminal to ask on
        ([*EAP, "--eap", "tls"], "NSAPI_ERROR_PARAMETER", "--eap-cert-file"),  # TLS without a certificate
        ([*PEAP, "--bssid", "02:00:00:00:02:06"], "NSAPI_ERROR_UNSUPPORTED", "SSID only"),
        ([*PEAP, "--security", "WPA2"], "NSAPI_ERROR_PARAMETER", "leave out --security"),
        (["--eap", "peap", "--username", "user"], "NSAPI_ERROR_PARAMETER", "--ssid"),
    ],
)
def test_incomplete_enterprise_options_are_explained(
    argv: list[str], nsapi: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["join", *argv, *device("at3_esp32")]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, nsapi)
    assert words in flat(err)
