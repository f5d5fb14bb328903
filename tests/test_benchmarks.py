"""The benchmarks still run (tiny sizes here; the figures come from full runs, not from tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import host_overhead, run


def test_host_overhead_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert host_overhead.main(["--megabytes", "1", "--round-trips", "20"]) == 0
    out = capsys.readouterr().out
    assert "bulk send 1 MiB" in out and "ratio" in out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_benchmark_path_runs_on_tiny_sizes(tmp_path: Path) -> None:
    # `make bench`'s own command, in a fresh interpreter, as a user runs it.
    docs_before = run.DOCS_PAGE.read_text()
    command = [sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=run.ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "latest.json").read_text())
    assert results["scale"] == "tiny" and results["machine"]["cores"]
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")
    table = (tmp_path / "latest.md").read_text()
    for heading in (
        "ESP throughput",
        "Where the ESP line's time goes",
        "Peers",
        "Driver ceiling",
        "Latency",
        "W5500 SPI",
        "W5500 bus accounting",
        "W5500 driver CPU",
        "Memory",
        "Many modules",
    ):
        assert heading in table
    assert run.DOCS_PAGE.read_text() == docs_before  # only the full run rewrites the docs page

    # Every transfer arrived intact, through our drivers and the peers, and each section has its rows.
    assert all(0 < row["payload_share_of_line_bytes"] < 1 for row in results["esp_wire"])
    for key in ("esp_throughput", "peers", "ceiling"):
        assert results[key] and all(row["intact"] for row in results[key]), key
    by_runner = {
        runner: [r for r in results["esp_throughput"] if r["runner"] == runner] for runner in ("threaded", "asyncio")
    }
    for runner, rows in by_runner.items():
        assert {(r["receive"], r["direction"]) for r in rows} == {
            ("passive", "download"),
            ("-", "upload"),
            ("active", "download"),
        }, runner
        assert {r["rtt_ms"] for r in rows} == {0.0, 5.0}, runner
        assert {r["baud"] for r in rows} == set(run.TINY.bauds), runner
        assert all(r["fraction"] > 0 for r in rows), runner
        # The physical invariant, not a timing goal: every payload byte crossed the emulated UART (and a NonOS
        # send waited its round trip), so no transfer beats its bound; 1 % covers the clocks' reading.
        over = [r for r in rows if r["fraction"] > (r["bound"] if r["bound"] is not None else 1.0) + 0.01]
        assert not over, over
    assert [(r["runner"], r["direction"]) for r in results["ceiling"]] == [
        ("threaded", "download"),
        ("threaded", "upload"),
        ("asyncio", "download"),
        ("asyncio", "upload"),
    ]
    assert {(r["device"], r["driver"]) for r in results["peers"]} == {
        ("esp", "netsocket"),
        ("esp", "adafruit"),
        ("w5500", "netsocket"),
        ("w5500", "adafruit"),
    }
    assert "not available" not in table
    for key in ("latency", "many_modules"):  # both runners measured, none left out
        assert [row["runner"] for row in results[key]] == ["threaded", "asyncio"], key
    for row in results["latency"]:
        assert row["echo_samples"] == run.TINY.latency_samples and row["sigio_samples"] > 0, row
    for row in results["many_modules"]:
        assert row["modules"] == run.TINY.modules and row["intact"] and row["fraction_each"] > 0, row
    assert next(r for r in results["many_modules"] if r["runner"] == "asyncio")["threads"] == 1
    assert {g["goal"] for g in results["goals"]} >= {
        "sigio latency median < 0.2 ms of driver time (threaded)",
        "sigio latency median < 0.2 ms of driver time (asyncio)",
    }
    assert results["memory"]["esp_intact"] and results["memory"]["w5500_intact"]
    assert [row["intn"] for row in results["w5500_cpu"]] == [False, True]
    for row in results["w5500_bus"]:  # the accounting adds up: payload once, plus what the rest costs
        assert row["intact"] and row["by_kind"]["TX data" if row["direction"] == "send" else "RX data"] == 1.0
        assert abs(sum(row["by_kind"].values()) - row["bus_bytes_per_payload_byte"]) < 1e-9
    assert {g["goal"] for g in results["goals"]} >= {"W5500 idle CPU < 1 % of one core (INTn wired)"}
    # The profile behind the CPU goal: each runner and direction, in the driver's own code.
    assert [(p["runner"], p["direction"]) for p in results["profile"]] == [
        ("threaded", "download"),
        ("threaded", "upload"),
        ("asyncio", "download"),
        ("asyncio", "upload"),
    ]
    for p in results["profile"]:
        assert p["self"] and p["busy_seconds"] > 0, p
        assert not any("hashlib" in label or "common.py" in label for label, _, _ in p["self"]), p["self"]


def test_many_modules_benchmark_runs_both_runners() -> None:
    """As a user runs it (a fresh interpreter): the thread count is then the benchmark's own."""
    command = [sys.executable, "-m", "benchmarks.many_modules", "--modules", "2", "--size", "20000"]
    done = subprocess.run(command, cwd=run.ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "threaded" in out and "asyncio" in out
    asyncio_row = next(line for line in out.splitlines() if line.startswith("asyncio"))
    assert asyncio_row.split()[-2:] == ["1", "True"]  # one thread for every module, and the data intact
