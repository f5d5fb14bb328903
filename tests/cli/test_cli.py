"""The ``netsocket`` command end to end, against the emulators served as a user serves them (an ESP module on a
pty, a W5500 through ``netsocket emulate w5500``) and the in-process ``espemu://``/``w5500emu://`` URLs.

What this machine cannot produce (USB bridges in ``list_ports``, a port this user may not open) comes from
pytest-mock. Every failure must be a sentence with the NSAPI name and a hint, never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import serial
import trustme
from pytest_mock import MockerFixture

from netsocket.cli import main
from tests.cli.conftest import BINARY, BINARY_SIZE, FAST_ESP, ROOT, TEXT_PAGE, Served, clean_env
from tests.servers import HttpResponse, HttpServer, TcpServer


def netsocket(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m netsocket ARGS`` in a fresh interpreter, as a user runs it (output piped)."""
    return subprocess.run(
        [sys.executable, "-m", "netsocket", *args],
        cwd=ROOT,
        env=env or clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_actionable(err: str, nsapi: str) -> None:
    assert "Traceback" not in err
    assert err.startswith("error: ") or "\nerror: " in err, err
    assert nsapi in err, err
    assert "\nhint: " in err, err


class FakePort:
    def __init__(self, device: str, description: str, vid: int | None = None, pid: int | None = None) -> None:
        self.device, self.description, self.vid, self.pid = device, description, vid, pid


BRIDGED = [
    FakePort("/dev/ttyUSB0", "CP2102 USB to UART Bridge Controller", 0x10C4, 0xEA60),
    FakePort("/dev/ttyUSB1", "USB2.0-Serial", 0x1A86, 0x7523),
    FakePort("/dev/ttyUSB2", "FT232R USB UART", 0x0403, 0x6001),
    FakePort("/dev/ttyAMA0", "ttyAMA0"),
]


# --------------------------------------------------------------------------------------------------------- ports
def test_ports_names_the_usb_bridge_chips_and_spi_devices(
    mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    mocker.patch("serial.tools.list_ports.comports", return_value=BRIDGED)
    mocker.patch("netsocket.cli.commands.spi_devices", return_value=["/dev/spidev0.0"])
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"/dev/ttyUSB0 .*10c4:ea60 .*Silicon Labs CP210x", out)
    assert re.search(r"/dev/ttyUSB1 .*1a86:7523 .*WCH CH340", out)
    assert re.search(r"/dev/ttyUSB2 .*0403:6001 .*FTDI FT232R", out)
    assert "/dev/ttyAMA0" in out and "/dev/spidev0.0" in out


# --------------------------------------------------------------------------------------------------------- probe
def test_probe_finds_a_pty_emulator_at_9600_baud_and_says_so(esp_pty_9600: tuple[str, Served]) -> None:
    path, _ = esp_pty_9600
    done = netsocket("probe", "--device", path)
    assert done.returncode == 0, done.stderr
    assert "answers at 9600 baud, not 115200" in " ".join(done.stdout.split())
    assert "2.2.0.0" in done.stdout and "at2_esp8266" in done.stdout
    assert "5c:cf:7f:01:02:03" in done.stdout


def test_probe_at_the_right_rate(esp_pty: str) -> None:
    done = netsocket("probe", "--device", esp_pty)
    assert done.returncode == 0, done.stderr
    assert "The module answers at 115200 baud." in done.stdout


def test_the_driver_at_the_wrong_baud_rate_reports_silence_with_a_hint(esp_pty_9600: tuple[str, Served]) -> None:
    path, _ = esp_pty_9600
    env = clean_env(NETSOCKET_WIFI_SSID="netsocket-wpa2", NETSOCKET_WIFI_PASSWORD="netsocket123")
    done = netsocket("join", "--device", path, env=env)
    assert done.returncode == 1
    assert_actionable(done.stderr, "NSAPI_ERROR_DEVICE_ERROR")
    hint = " ".join(done.stderr.split())
    assert f"netsocket probe --device {path}" in hint
    assert "TX" in hint and "power" in hint and "boot mode" in hint
    # At the rate probe found, the same command works.
    ok = netsocket("join", "--device", path, "--baudrate", "9600", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "joined 'netsocket-wpa2'" in ok.stdout


# ------------------------------------------------------------------------------------- info, scan, join, ping
def test_info_on_the_pty_emulator_with_credentials_from_the_environment(esp_pty: str) -> None:
    env = clean_env(NETSOCKET_WIFI_SSID="netsocket-wpa2", NETSOCKET_WIFI_PASSWORD="netsocket123")
    done = netsocket("info", "--device", esp_pty, env=env)
    assert done.returncode == 0, done.stderr
    assert "ESP8266Interface" in done.stdout and "GLOBAL_UP" in done.stdout
    assert "AT version:2.2.0.0" in done.stdout and "-58 dBm" in done.stdout


def test_info_join_and_ping_on_the_w5500_emulator(w5500_server: tuple[str, Served]) -> None:
    url, served = w5500_server
    info = netsocket("info", "--device", url)
    assert info.returncode == 0, info.stderr
    assert "W5500Interface" in info.stdout and "192.168.77." in info.stdout
    with TcpServer("closer", lambda conn: conn.close()) as server:
        ping = netsocket("ping", "127.0.0.1", "--tcp-port", str(server.port), "-c", "2", "--device", url)
    assert ping.returncode == 0, ping.stderr
    assert "2 of 2 connected" in ping.stdout
    status, err = served.stop()
    assert (status, err) == (130, "Interrupted.\n")


@pytest.mark.parametrize("profile", ["nonos17", "at22_8266", "at3_esp32"])
def test_ping_on_an_esp_module_is_its_icmp_echo(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    device = f"{FAST_ESP}&profile={profile}"
    assert main(["ping", "localhost", "-c", "2", "--device", device]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 answered" in out and "ICMP echo to localhost:" in out and "TCP connect" not in out
    assert main(["ping", "192.0.2.1", "-c", "1", "--device", device]) == 1
    assert_actionable(capsys.readouterr().err, "NSAPI_ERROR_TIMEOUT")


def test_scan_lists_the_emulated_networks_strongest_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--device", FAST_ESP]) == 0
    out = capsys.readouterr().out
    assert out.index("netsocket-open") < out.index("netsocket-wpa2") < out.index("neighbour")
    assert "-42" in out and "WPA_WPA2" in out


def test_scan_on_ethernet_is_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--device", "w5500emu://"]) == 1
    assert "NSAPI_ERROR_UNSUPPORTED" in capsys.readouterr().err


def test_join_the_in_process_w5500_and_ping_a_closed_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["join", "--device", "w5500emu://"]) == 0
    assert "w5500emu://: connected, IP address 192.168.77." in " ".join(capsys.readouterr().out.split())
    with TcpServer("closer", lambda conn: conn.close()) as server:
        port = server.port
    assert main(["ping", "127.0.0.1", "--tcp-port", str(port), "-c", "1", "--device", "w5500emu://"]) == 1
    err = capsys.readouterr().err
    assert "no TCP connection to 127.0.0.1" in err and "NSAPI_ERROR_NO_CONNECTION" in err and "hint:" in err


@pytest.fixture(params=["esp-pty", "w5500-served"])
def served_device(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """Each emulator as a user serves it: an ESP module on a pty (real line speed), a W5500 over loopback."""
    served = Served("esp") if request.param == "esp-pty" else Served("w5500")
    try:
        if request.param == "esp-pty":
            env = clean_env(NETSOCKET_WIFI_SSID="netsocket-wpa2", NETSOCKET_WIFI_PASSWORD="netsocket123")
            yield served.lines[0].rsplit(" on ", 1)[1], env
        else:
            yield served.lines[0].split(" at ", 1)[1].split(" ", 1)[0], clean_env()
    finally:
        served.kill()


def test_ping_get_and_bench_on_each_served_emulator(
    served_device: tuple[str, dict[str, str]], http_server: HttpServer
) -> None:
    device, env = served_device
    ping = netsocket("ping", "127.0.0.1", "--tcp-port", str(http_server.port), "-c", "2", "-d", device, env=env)
    assert ping.returncode == 0, ping.stderr
    assert "2 of 2 connected" in ping.stdout
    get = netsocket("get", f"{http_server.url}/page.html", "-d", device, env=env)
    assert get.returncode == 0, get.stderr
    assert get.stdout.encode() == TEXT_PAGE
    bench = netsocket("bench", "--size", "4096", "-d", device, env=env)
    assert bench.returncode == 0, bench.stderr
    assert "4096 bytes each way" in bench.stdout and "download" in bench.stdout


def test_scan_and_probe_name_the_device_kind_they_need(w5500_server: tuple[str, Served], esp_pty: str) -> None:
    url, _ = w5500_server
    probe = netsocket("probe", "-d", url)
    assert probe.returncode == 1
    assert_actionable(probe.stderr, "NSAPI_ERROR_PARAMETER")
    assert "not one" in probe.stderr
    scan = netsocket("scan", "-d", esp_pty)
    assert scan.returncode == 0, scan.stderr
    assert "netsocket-wpa2" in scan.stdout


# ----------------------------------------------------------------------------------------------------------- get
def test_get_piped_writes_the_body_and_plain_progress_lines(http_server: HttpServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netsocket", "get", f"{http_server.url}/blob.bin", "--device", FAST_ESP],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        timeout=120,
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert done.stdout == BINARY  # a pipe gets the raw bytes
    assert "HTTP 200 OK" in err
    assert f"received {BINARY_SIZE} of {BINARY_SIZE} bytes (100%)" in err
    # Progress before the end, rising (a line per tenth crossed; the figure is the bytes in hand, which a big read
    # may carry past a round ten)
    percents = [int(p) for p in re.findall(rf"received \d+ of {BINARY_SIZE} bytes \((\d+)%\)", err)]
    assert len(percents) >= 2 and percents[0] < 100 and percents == sorted(percents), err
    assert "\x1b[" not in err  # no terminal escapes when not on a terminal


def test_get_on_a_terminal_shows_a_progress_bar_and_saves_binary_to_a_file(
    http_server: HttpServer, tmp_path: Path
) -> None:
    """In a real pseudo-terminal, at the emulator's real line speed (115200 baud: about 11 KiB/s)."""
    out = tmp_path / "blob.bin"
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "netsocket",
            "get",
            f"{http_server.url}/blob.bin",
            "-o",
            str(out),
            "--device",
            "espemu://?timescale=0.05",
        ],
        cwd=str(ROOT),
        env=clean_env(),
        dimensions=(24, 120),
        timeout=90,
    )
    child.expect("HTTP 200 OK")
    child.expect(r"\d+\.\d+/\d+\.\d+ kB")  # the bar's done/total
    child.expect(r"kB/s")  # its rate
    child.expect(r"\d:\d\d:\d\d")  # its ETA
    child.expect(rf"{BINARY_SIZE} bytes to {re.escape(str(out))}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(BINARY).digest()


def test_get_never_writes_a_binary_body_to_a_terminal(http_server: HttpServer) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "netsocket", "get", f"{http_server.url}/blob.bin", "--device", FAST_ESP],
        cwd=str(ROOT),
        env=clean_env(),
        dimensions=(24, 120),
        timeout=60,
    )
    child.expect("the body is binary")
    child.expect("-o FILE")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert b"\x00\x01\x02\x03" not in (child.before or b"")


def test_get_prints_a_text_page_to_a_terminal(http_server: HttpServer) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "netsocket", "get", f"{http_server.url}/page.html", "--device", FAST_ESP],
        cwd=str(ROOT),
        env=clean_env(),
        dimensions=(24, 120),
        timeout=60,
    )
    child.expect("hello from the CLI test")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_get_of_a_name_the_emulated_world_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "http://example.com/", "--device", FAST_ESP]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_DNS_FAILURE")
    assert "the emulated world resolves only its own table (localhost)" in err


# ------------------------------------------------------------------------------------------------------ at, trace
def test_at_terminal_masks_the_passphrase(esp_pty: str) -> None:
    env = clean_env(NETSOCKET_WIFI_PASSWORD="netsocket123")
    script = 'AT\nAT+GMR\nAT+CWJAP="netsocket-wpa2","$PASSWORD"\nAT+CIFSR\n'
    done = netsocket("at", "--device", esp_pty, env=env, stdin=script)
    assert done.returncode == 0, done.stderr
    assert "AT version:2.2.0.0" in done.stdout
    assert "WIFI GOT IP" in done.stdout and "+CIFSR:STAIP" in done.stdout
    assert 'AT+CWJAP="netsocket-wpa2","********"' in done.stdout
    assert "netsocket123" not in done.stdout + done.stderr


def test_at_terminal_interactive_in_a_real_terminal(esp_pty: str) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "netsocket", "at", "--device", esp_pty],
        cwd=str(ROOT),
        env=clean_env(NETSOCKET_WIFI_PASSWORD="netsocket123"),
        dimensions=(24, 120),
        timeout=30,
    )
    child.logfile_read = io.BytesIO()
    child.expect("AT terminal on")
    child.expect("AT> ")
    for _ in range(5):  # the module may still be booting: AT until it answers, as a user would
        child.sendline("AT")
        if child.expect([r"\r\nOK\r\n", "no result code|no answer"]) == 0:
            break
    child.expect("AT> ")
    child.sendline("AT+GMR")
    child.expect("Bin version:2.2.0")
    child.expect("AT> ")
    child.sendline('AT+CWJAP="netsocket-wpa2","$PASSWORD"')
    child.expect("WIFI GOT IP")
    child.expect("AT> ")
    child.sendline("")  # an empty line quits
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    transcript = child.logfile_read.getvalue().decode(errors="replace")
    assert 'AT+CWJAP="netsocket-wpa2","********"' in transcript  # the module's echo, masked
    assert "netsocket123" not in transcript


def test_at_terminal_at_the_wrong_rate_says_to_probe(esp_pty_9600: tuple[str, Served]) -> None:
    path, _ = esp_pty_9600
    done = netsocket("at", "--device", path, stdin="AT\n")
    assert done.returncode == 1
    assert_actionable(done.stderr, "NSAPI_ERROR_DEVICE_ERROR")
    assert "netsocket probe" in done.stderr


def test_trace_shows_the_at_traffic_with_the_passphrase_masked() -> None:
    env = clean_env(NETSOCKET_WIFI_SSID="netsocket-wpa2", NETSOCKET_WIFI_PASSWORD="netsocket123")
    done = netsocket("trace", "--", "join", "--device", FAST_ESP, env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"-> AT\+GMR", done.stderr)
    assert re.search(r"<- .*AT version:2\.2\.0\.0", done.stderr)
    assert re.search(r'-> AT\+CWJAP(_CUR)?="netsocket-wpa2","\*+"', done.stderr)
    assert "netsocket123" not in done.stderr + done.stdout
    assert "joined 'netsocket-wpa2'" in done.stdout


def test_trace_decodes_the_w5500_spi_frames() -> None:
    done = netsocket("trace", "--", "info", "--device", "w5500emu://")
    assert done.returncode == 0, done.stderr
    assert "SPI read  common 0x0039 -> 04" in done.stderr  # VERSIONR: a W5500 answers 0x04
    assert re.search(r"SPI write socket \d 0x0001 <- ", done.stderr)  # Sn_CR: a socket command
    assert "W5500Interface" in done.stdout


# ---------------------------------------------------------------------------------------------- emulate, bench
def test_emulate_esp_says_how_to_reach_it_and_stops_on_ctrl_c() -> None:
    served = Served("esp")
    try:
        path = served.lines[0].rsplit(" on ", 1)[1]
        assert os.path.exists(path)
        assert served.process.stdout is not None
        assert f"netsocket info --device {path}" in served.process.stdout.readline()
        status, err = served.stop()
    finally:
        served.kill()
    assert (status, err) == (130, "Interrupted.\n")


def test_emulate_esp_as_a_socket_server() -> None:
    served = Served("esp", "--listen", "127.0.0.1:0", "--no-pace")
    try:
        url = re.search(r"socket://127\.0\.0\.1:\d+", served.lines[0])
        assert url is not None
        scan = netsocket("scan", "--device", url.group(0))
        assert scan.returncode == 0, scan.stderr
        assert "netsocket-open" in scan.stdout
    finally:
        served.kill()


def test_bench_reports_rates_through_the_emulated_esp(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--size", "8192", "--device", FAST_ESP]) == 0
    out = capsys.readouterr().out
    assert "8192 bytes each way" in out and "download" in out and "upload" in out and "%" in out


# ------------------------------------------------------------------------------------ errors a user can act on
def test_a_missing_port_lists_the_ports_that_exist(mocker: MockerFixture, capsys: pytest.CaptureFixture[str]) -> None:
    mocker.patch("serial.tools.list_ports.comports", return_value=BRIDGED)
    assert main(["info", "--device", "/dev/ttyUSB9"]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_DEVICE_ERROR")
    assert "there is no serial port /dev/ttyUSB9" in err
    assert "/dev/ttyUSB0 (Silicon Labs CP210x), /dev/ttyUSB1 (WCH CH340)" in err
    assert "Wi-Fi" not in err


def test_permission_denied_names_the_dialout_group(
    mocker: MockerFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    device = tmp_path / "ttyUSB0"
    device.touch()
    mocker.patch("netsocket.cli.diagnose.os.access", return_value=False)
    mocker.patch("netsocket.cli.diagnose.dialout_group", return_value="dialout")
    assert main(["probe", "--device", str(device)]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_DEVICE_ERROR")
    assert f"permission denied opening {device}" in err
    assert "sudo usermod -aG dialout $USER" in err


def test_permission_denied_while_opening(mocker: MockerFixture, capsys: pytest.CaptureFixture[str]) -> None:
    """The port exists and looks accessible, but opening it fails with EACCES (as with a udev rule)."""
    mocker.patch("netsocket.cli.diagnose.os.path.exists", return_value=True)
    mocker.patch("netsocket.cli.diagnose.os.access", return_value=True)
    mocker.patch("serial.serial_for_url", side_effect=PermissionError(13, "Permission denied"))
    assert main(["probe", "--device", "/dev/ttyUSB0"]) == 1
    err = capsys.readouterr().err
    assert "permission denied opening /dev/ttyUSB0" in err and "usermod -aG" in err


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("esp://?port=espemu://&security=wpa9", ["security='wpa9'", "WPA2", "WPA_WPA2"]),
        ("esp://?baudrate=fast", ["baudrate='fast'", "whole number"]),
        ("espemu://?baud=fast", ["baud='fast'", "whole number"]),
        ("w5500:///dev/spidev0.0?speed_hz=fast", ["speed_hz='fast'", "number"]),
        ("nosuch://", ["no netsocket driver named 'nosuch'"]),
    ],
)
def test_malformed_urls_name_the_parameter_and_allowed_values(
    device: str, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--device", device]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "KeyError" not in err and "invalid literal" not in err
    for word in words:
        assert word in err


def test_every_subcommand_turns_ctrl_c_into_interrupted(
    mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    mocker.patch("netsocket.cli.commands.serial_ports", side_effect=KeyboardInterrupt)
    assert main(["ports"]) == 130
    assert capsys.readouterr().err == "Interrupted.\n"


def test_python_dash_m_netsocket_and_the_console_script_agree() -> None:
    done = netsocket("--help")
    assert done.returncode == 0
    for command in ("ports", "probe", "info", "scan", "join", "ping", "get", "at", "trace", "emulate", "bench"):
        assert command in done.stdout
    script = Path(sys.executable).with_name("netsocket")
    assert script.exists(), "the netsocket console script is not installed"
    assert subprocess.run([str(script), "--version"], capture_output=True, text=True).stdout.startswith("netsocket ")


def test_text_page_fixture_is_what_get_prints(
    http_server: HttpServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["get", f"{http_server.url}/page.html", "--device", FAST_ESP]) == 0
    assert capsysbinary.readouterr().out == TEXT_PAGE


def test_a_password_in_a_device_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    url = "esp://?port=espemu://%3Ftimescale%3D0.05%26pace%3D0&ssid=netsocket-wpa2&password=wrong-pass-1"
    assert main(["join", "--device", url]) == 1
    err = capsys.readouterr().err
    assert_actionable(err, "NSAPI_ERROR_AUTH_FAILURE")
    assert "password=********" in err and "wrong-pass-1" not in err


def test_get_of_a_missing_page_says_what_the_server_answered(
    http_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", f"{http_server.url}/missing", "--device", FAST_ESP]) == 1
    err = capsys.readouterr().err
    assert f"error: {http_server.url}/missing answered HTTP 404" in err and "hint: " in err


def test_an_unforeseen_os_error_is_still_a_sentence(mocker: MockerFixture, capsys: pytest.CaptureFixture[str]) -> None:
    mocker.patch("netsocket.cli.commands.serial_ports", side_effect=OSError(5, "Input/output error"))
    assert main(["ports"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: [Errno 5] Input/output error\nhint: `netsocket trace -- ports`")


def test_get_over_https_verifies_the_server(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with HttpServer({"/page.html": HttpResponse(TEXT_PAGE, "text/html")}, tls=context) as server:
        url = f"https://localhost:{server.port}/page.html"
        assert main(["get", url, "--ca-file", str(ca_file), "--device", FAST_ESP]) == 0
        assert capsysbinary.readouterr().out == TEXT_PAGE
        assert main(["get", url, "--device", FAST_ESP]) == 1  # the system's CAs do not know this one
        err = capsysbinary.readouterr().err.decode()
        assert "TLS handshake" in err and "NSAPI_ERROR_AUTH_FAILURE" in err and "--ca-file" in err


# ------------------------------------------------------------------------------------ record and replay
def _exchange(path: str, line: bytes, answer_end: bytes) -> bytes:
    """Send one command line to the module on ``path`` and read until ``answer_end``."""
    with serial.Serial(path, 115200, timeout=0.2) as port:
        port.write(line)
        got = b""
        for _ in range(50):
            got += port.read(256)
            if got.endswith(answer_end):
                break
        return got


def test_emulate_esp_replays_a_transcript_and_names_a_divergence() -> None:
    transcript = ROOT / "tests" / "data" / "transcripts" / "download-at22_8266.jsonl"
    served = Served("esp", "--replay", str(transcript))
    try:
        assert served.lines[0].startswith(f"Emulated ESP module (replay of {transcript}) on ")
        path = served.lines[0].rsplit(" on ", 1)[1]
        assert _exchange(path, b"AT\r\n", b"OK\r\n") == b"AT\r\n\r\nOK\r\n"  # the recorded answer
        with contextlib.suppress(serial.SerialException):  # the replay closes the port when it diverges
            _exchange(path, b"AT+RST\r\n", b"\n")  # the recording says ATE0 comes next
        status, err = served.stop()
    finally:
        served.kill()
    assert "replay diverged" in err and "expected 'ATE0\\r\\n', received 'AT+RST\\r\\n'" in err
    assert status == 130


def test_emulate_refuses_lenient_without_a_replay() -> None:
    assert main(["emulate", "esp", "--lenient"]) == 1


def test_record_writes_a_transcript_of_what_a_program_says_to_the_module(tmp_path: Path) -> None:
    out = tmp_path / "session.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "netsocket", "record", "--port", "espemu://?pace=0&boot=0", "--out", str(out)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Recording espemu://?pace=0&boot=0 to "), (
            process.stderr.read() if process.stderr else ""
        )
        path = first.rsplit(" through ", 1)[1].strip()
        assert _exchange(path, b"AT+GMR\r\n", b"OK\r\n").startswith(b"AT+GMR\r\nAT version:")
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)
    assert process.returncode == 0 and f"Transcript written to {out}" in stdout
    from netsocket.transcript import read_transcript

    transcript = read_transcript(out)
    assert transcript.header.firmware and transcript.header.firmware[0].startswith("AT version:")
    assert b"AT+GMR\r\n" in transcript.data("host")
