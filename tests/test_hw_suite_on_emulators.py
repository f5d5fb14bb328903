"""The hardware acceptance suite (``hw_tests/``) runs on the emulators, so it never rots.

Each device runs in its own pytest process, exactly as a user runs it on a real device, and must pass with no
test skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_hw_suite(*options: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "hw_tests", "-q", "-p", "no:cacheprovider", "-rs", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def esp_pty() -> Iterator[str]:
    """An emulated ESP8266 served on a pseudo-terminal by its own process, as a user would start it."""
    server = subprocess.Popen(
        # --no-pace: a fast run (the suite moves 256 KB each way, minutes at a real 115200 baud line).
        [
            sys.executable,
            "-m",
            "netsocket.mocks.esp_at",
            "--pty",
            "--profile",
            "at22_8266",
            "--timescale",
            "0.1",
            "--no-pace",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        path = server.stdout.readline().strip()
        assert path.startswith("/dev/"), f"the emulator printed {path!r} instead of a device path"
        yield path
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def check_summary(out: str) -> None:
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 6, summary
    assert "skipped" not in summary and "failed" not in summary, summary


def test_hw_suite_passes_on_the_w5500_emulator() -> None:
    check_summary(run_hw_suite("--w5500-spi=emulator", "-m", "w5500"))


def test_hw_suite_passes_on_an_esp_emulator_behind_a_pty(esp_pty: str) -> None:
    check_summary(run_hw_suite(f"--esp-port={esp_pty}", "-m", "esp"))
