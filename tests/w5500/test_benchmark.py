"""The W5500 SPI-efficiency benchmark still runs and its figures are sane (tiny sizes; real figures come from
full runs)."""

from __future__ import annotations

import pytest

from benchmarks import w5500_spi_efficiency


def test_spi_efficiency_is_near_the_floor() -> None:
    for direction in ("send", "receive"):
        result = w5500_spi_efficiency.measure(direction, 0.25, buffer_kb=2)
        assert result.floor < result.bytes_per_payload_byte < result.floor * 1.10
        assert result.transactions_per_kb < 12


def test_benchmark_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert w5500_spi_efficiency.main(["--megabytes", "0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "floor" in lines[0] and len(lines) == 5
