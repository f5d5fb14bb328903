"""Realistic defaults: the emulated UART runs at its baud rate unless a test opts out, a host port at another rate
sees garbage (as on a real wire), and no log of the emulator ever holds a Wi-Fi passphrase."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from netsocket.mocks.esp_at import EmulatorOptions, find_emulator
from netsocket.mocks.esp_at.emulator import mask_secrets
from netsocket.mocks.esp_at.pacer import garble

from .helpers import AtPort

OK = b"\r\nOK\r\n"


@contextlib.contextmanager
def port_at(url: str, **kwargs: object) -> Iterator[AtPort]:
    with serial.serial_for_url(url, timeout=0.05, **kwargs) as port:
        at = AtPort(port, find_emulator(port), "at22_8266")
        yield at


def test_the_default_emulator_runs_at_115200_baud() -> None:
    options = EmulatorOptions.from_url("espemu://")
    assert (options.baud, options.pace) == (115200, True)
    with port_at("espemu://?timescale=0.01") as at:
        at.boot()
        start = time.monotonic()
        at.send(b"AT" + b"+" * 5750 + b"\r\n")  # 5754 bytes: half a second at 11 520 bytes/s
        at.read_until(b"\r\nERROR\r\n", timeout=10)
        assert time.monotonic() - start >= 0.45


def test_fast_tests_opt_out_of_pacing_explicitly() -> None:
    assert EmulatorOptions.from_url("espemu://?pace=0").pace is False
    with pytest.raises(ValueError, match="not a boolean"):
        EmulatorOptions.from_url("espemu://?pace=sometimes")


def test_a_host_port_at_another_baud_rate_sees_garbage_and_is_not_understood() -> None:
    with port_at("espemu://?baud=9600&timescale=0.01&pace=0", baudrate=115200) as at:
        time.sleep(0)  # the module boots while the host talks at the wrong rate
        at.send(b"AT\r\n")
        at.send(b"AT\r\n")
        noise = at.read_exact(64, timeout=1.0)
        assert noise, "a module at the wrong rate still sends bytes"
        assert b"OK" not in noise and all(byte >= 0x80 for byte in noise)
        at.port.baudrate = 9600  # the user fixes the host's rate
        at.port.reset_input_buffer()
        for _ in range(3):  # the first AT may meet garbage left in the module's line buffer
            at.send(b"\r\nAT\r\n")
            if OK in at.read_exact(64, timeout=0.5):
                break
        else:
            pytest.fail("no OK at the module's own rate")


def test_a_port_opened_without_a_rate_follows_the_module() -> None:
    """pyserial's default is 9600; a URL port opened without a rate is taken to be at the module's (documented)."""
    with port_at("espemu://?baud=921600&timescale=0.01&pace=0") as at:
        at.boot()
        at.cmd(b"AT", OK)


def test_garble_keeps_rates_within_tolerance_and_scales_the_byte_count() -> None:
    rng = random.Random(1)
    assert garble(b"OK\r\n", 115273, 115200, rng) == b"OK\r\n"  # an ESP8266's divider error is within tolerance
    slow = garble(b"x" * 120, 115200, 9600, rng)
    fast = garble(b"x" * 10, 9600, 115200, rng)
    assert len(slow) == 10 and len(fast) == 80
    assert all(byte >= 0x80 for byte in slow + fast)


def test_no_emulator_log_holds_the_passphrase(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_file = tmp_path / "wire.log"
    caplog.set_level(logging.DEBUG, logger="netsocket.mocks.esp_at.wire")
    with port_at(f"espemu://?timescale=0.01&pace=0&log_file={log_file}") as at:
        at.boot()
        at.cmd(b"ATE1", OK)  # the module echoes the command back, passphrase and all
        at.send(b'AT+CWJAP="netsocket-wpa2","netsock')  # split across two reads, mid-passphrase
        time.sleep(0.05)
        at.send(b'et123"\r\n')
        at.read_until(b"WIFI GOT IP\r\n\r\nOK\r\n", timeout=5)
    text = log_file.read_text() + caplog.text
    assert "CWJAP" in text and "********" in text
    assert "netsocket123" not in text, [line for line in text.splitlines() if "netsocket123" in line]


def test_soft_ap_passphrases_are_masked_too() -> None:
    assert mask_secrets(b'AT+CWSAP_CUR="mine","hunter2-secret",5,3\r\n') == b'AT+CWSAP_CUR="mine","********",5,3\r\n'
    assert mask_secrets(b'+CWSAP:"ap","p\\"w",1,3\r\n') == b'+CWSAP:"ap","********",1,3\r\n'
