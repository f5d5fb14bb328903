"""The benchmarks still run (tiny sizes here; the figures come from full runs, not from tests)."""

from __future__ import annotations

import pytest

from benchmarks import host_overhead


def test_host_overhead_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert host_overhead.main(["--megabytes", "1", "--round-trips", "20"]) == 0
    out = capsys.readouterr().out
    assert "bulk send 1 MiB" in out and "ratio" in out
