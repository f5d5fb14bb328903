"""The benchmarks still run (tiny sizes here; the figures come from full runs, not from tests)."""

from __future__ import annotations

import pytest

from benchmarks import host_overhead


def test_host_overhead_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert host_overhead.main(["--megabytes", "1", "--round-trips", "20"]) == 0
    out = capsys.readouterr().out
    assert "bulk send 1 MiB" in out and "ratio" in out


def test_many_modules_benchmark_runs_both_runners(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import many_modules

    assert many_modules.main(["--modules", "2", "--size", "20000"]) == 0
    out = capsys.readouterr().out
    assert "threaded" in out and "asyncio" in out
    asyncio_row = next(line for line in out.splitlines() if line.startswith("asyncio"))
    assert asyncio_row.split()[-2:] == ["1", "True"]  # one thread for every module, and the data intact
