"""The hardware acceptance suite (``hw_tests/``) runs on the emulators, so it never rots.

Each device runs in its own pytest process, exactly as a user runs it on a real device, and must pass with no
test skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
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


@pytest.mark.parametrize("device", ["w5500"])
def test_hw_suite_passes_on_the_emulator(device: str) -> None:
    out = run_hw_suite("--w5500-spi=emulator", "-m", device)
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 6, summary
    assert "skipped" not in summary and "failed" not in summary, summary
