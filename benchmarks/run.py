"""`make bench`: every figure of the ESP and W5500 drivers side by side with the peers and the wire, in one run.

    python -m benchmarks.run            # the full run (under 10 minutes on 2 cores): make bench
    python -m benchmarks.run --quick    # a smaller run (what `netsocket bench` calls)

Writes ``benchmarks/results/latest.json``, ``latest.md`` (the table) and ``latest.png``; the full run also puts
the table into ``docs/benchmarks.md``. `run(quick=True)` is the entry point for other programs.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import ceiling, esp, peers, profile, report, w5500
from .common import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
TABLE_START, TABLE_END = "<!-- bench:table -->", "<!-- /bench:table -->"


@dataclass(frozen=True)
class Scale:
    """How much of each measurement a run does."""

    name: str
    #: Seconds of line rate per ESP transfer, and runs per figure.
    seconds: float
    runs: int
    bauds: tuple[int, ...] = (115200, 921600, 3_000_000)
    #: Round trips (s) measured at the bauds after the first (the first baud: 0 only, to keep the run short).
    rtts: tuple[float, ...] = (0.0, 0.005, 0.020)
    profiles: tuple[str, ...] = esp.PROFILES
    receives: tuple[str, ...] = ("passive", "active")
    peer_sizes: tuple[int, ...] = (20_000, 100_000, 1_000_000)
    #: Runs per peer figure at sizes above 200 KB (the Adafruit ESP driver takes over a minute per MB).
    peer_runs_large: int = 1
    w5500_megabytes: float = 1.0
    ceiling_bytes: int = 2_000_000
    latency_samples: int = 300
    modules: int = 8
    module_bytes: int = 100_000
    memory_bytes: int = 200_000
    idle_seconds: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)


#: Under 10 minutes on 2 shared cores: the Adafruit ESP driver alone takes over a minute per MB each way at
#: 921600 baud, so the peers' largest transfer is 500 KB.
FULL = Scale("full", seconds=0.3, runs=3, peer_sizes=(20_000, 100_000, 500_000))
QUICK = Scale(
    "quick",
    seconds=0.5,
    runs=3,
    bauds=(921600, 3_000_000),
    rtts=(0.0, 0.005),
    profiles=("at22_8266",),
    peer_sizes=(20_000, 100_000),
    w5500_megabytes=0.5,
    ceiling_bytes=1_000_000,
    latency_samples=100,
    modules=4,
    module_bytes=50_000,
    memory_bytes=100_000,
    idle_seconds=1.0,
)
#: Every code path on tiny sizes (the test suite's run; its figures mean nothing).
TINY = Scale(
    "tiny",
    seconds=0.03,
    runs=1,
    bauds=(921600, 3_000_000),
    rtts=(0.0, 0.005),
    profiles=("at22_8266",),
    peer_sizes=(4_000,),
    peer_runs_large=1,
    w5500_megabytes=0.02,
    ceiling_bytes=20_000,
    latency_samples=5,
    modules=2,
    module_bytes=20_000,  # a rate needs more than one read per module
    memory_bytes=5_000,
    idle_seconds=0.1,
)


def _esp_throughput(scale: Scale) -> list[dict[str, Any]]:
    rows = []
    for runner in esp.RUNNERS:
        for index, baud in enumerate(scale.bauds):
            for rtt in scale.rtts if index > 0 or len(scale.bauds) == 1 else (0.0,):
                for profile_name in scale.profiles:
                    # Active receive: the far end refuses passive mode (see benchmarks.esp).
                    for receive in scale.receives:
                        rows += esp.throughput_rows(
                            runner,
                            profile_name,
                            baud,
                            rtt,
                            receive,
                            scale.seconds,
                            scale.runs,
                            upload_too=receive == "passive",
                        )
    return [asdict(row) for row in rows]


def _peers(scale: Scale) -> list[dict[str, Any]]:
    rows = []
    for size in scale.peer_sizes:
        runs = scale.runs if size <= 200_000 else scale.peer_runs_large
        rows += peers.esp_comparison(921600, [size], runs)
        rows += peers.w5500_comparison(20e6, [size], runs)
    return rows


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    def esp_fraction(baud: int, rtt_ms: float, direction: str) -> float | None:
        for r in results["esp_throughput"]:
            if (r["runner"], r["profile"], r["baud"], r["rtt_ms"], r["direction"]) == (
                "threaded",
                "at22_8266",
                baud,
                rtt_ms,
                direction,
            ) and r["receive"] in ("passive", "-"):
                return float(r["fraction"])
        return None

    goals = []
    for baud, rtt, direction, target in (
        (921600, 0, "download", 0.97),
        (921600, 0, "upload", 0.99),
        (921600, 5, "download", 0.90),
        (921600, 5, "upload", 0.90),
        (3_000_000, 0, "download", 0.90),
        (3_000_000, 0, "upload", 0.90),
    ):
        value = esp_fraction(baud, rtt, direction)
        if value is not None:
            goals.append(
                {
                    "goal": f"ESP {direction} >= {target} of baud/10 at {baud}, {rtt} ms",
                    "measured": f"{value:.4f}",
                    "met": value >= target,
                }
            )
    for row in results["ceiling"]:
        goals.append(
            {
                "goal": f"ESP driver CPU <= 0.1 s/MB ({row['direction']}, unthrottled, {row['runner']})",
                "measured": f"{row['cpu_s_per_mb']:.3f}",
                "met": row["cpu_s_per_mb"] <= 0.1,
            }
        )
    throttled = [
        r
        for r in results["esp_throughput"]
        if r["runner"] == "threaded"
        and r["baud"] == 921600
        and r["rtt_ms"] == 0
        and r["profile"] == "at22_8266"
        and r["cpu_s_per_mb"] is not None
        and r["receive"] in ("passive", "-")
    ]
    for row in throttled:
        goals.append(
            {
                "goal": f"ESP driver CPU <= 0.1 s/MB ({row['direction']} at 921600)",
                "measured": f"{row['cpu_s_per_mb']:.3f}",
                "met": row["cpu_s_per_mb"] <= 0.1,
            }
        )
    for row in results["w5500_spi"]:
        if row["buffer_kb"] == 2:
            value = row["bus_bytes_per_payload_byte"]
            goals.append(
                {
                    "goal": f"W5500 {row['direction']} <= 1.005 bus bytes per payload byte (2 KB)",
                    "measured": f"{value:.4f}",
                    "met": value <= 1.005,
                }
            )
    for row in results["w5500_cpu"]:
        idle = row["idle_core_fraction"]
        wiring = "INTn wired" if row["intn"] else "polling, no INTn"
        goals.append(
            {
                "goal": f"W5500 idle CPU < 1 % of one core ({wiring})",
                "measured": f"{idle * 100:.2f} %",
                "met": idle < 0.01,
            }
        )
    for row in results["latency"]:
        if "sigio_median_ms" in row:
            goals.append(
                {
                    "goal": f"sigio latency median < 0.2 ms of driver time ({row['runner']})",
                    "measured": f"{row['sigio_driver_median_ms']:.3f} ms (all: {row['sigio_median_ms']:.3f} ms)",
                    "met": row["sigio_driver_median_ms"] < 0.2,
                }
            )
    return goals


def _profile(scale: Scale) -> list[dict[str, Any]]:
    """Where the driver's CPU goes, for the goal of 0.1 s/MB: one download and one upload per runner, unthrottled
    (as the ceiling is measured), each profiled on its own."""
    size = max(20_000, scale.ceiling_bytes // 4)
    # Imported before profiling: a first import's compile and exec are not the driver's running cost.
    import netsocket.drivers.esp_at.aio_interface  # noqa: F401

    out = []
    for runner in esp.RUNNERS:
        for direction, transfer in (("download", esp.download), ("upload", esp.upload)):
            with (  # the profile starts before the driver's threads do (the join is in it: a few dozen commands)
                esp.far_end("at22_8266", 0) as path,
                profile.driver_threads_profiled() as result,
                esp.esp_interface(path, 921600, runner) as iface,
            ):
                done = transfer(iface, size)
            result.update(
                runner=runner,
                direction=direction,
                size=size,
                what=f"a {size // 1000} KB {direction}, unthrottled, passive mode, {runner} runner",
                cpu_s_per_mb=done.cpu_per_mb,
            )
            out.append(result)
    return out


def run(
    quick: bool = False,
    *,
    scale: Scale | None = None,
    out_dir: Path | None = None,
    update_docs: bool | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Measure everything at `scale` (FULL, or QUICK with `quick`), write the JSON, Markdown and PNG to `out_dir`
    (default ``benchmarks/results``) and return the results. The full run also updates ``docs/benchmarks.md``."""
    scale = scale or (QUICK if quick else FULL)
    out_dir = out_dir or RESULTS
    update_docs = (scale is FULL) if update_docs is None else update_docs
    logging.getLogger("netsocket").setLevel(logging.ERROR)  # the forced active mode logs a warning per interface
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "scale": scale.name,
        "machine": machine(),
    }
    steps = (
        ("esp_throughput", lambda: _esp_throughput(scale)),
        ("esp_wire", lambda: [esp.wire_accounting(baud, scale.seconds * 2, scale.runs) for baud in scale.bauds[-2:]]),
        ("peers", lambda: _peers(scale)),
        (
            "ceiling",
            lambda: [r for n in esp.RUNNERS for r in ceiling.ceiling(n, scale.ceiling_bytes, scale.runs)],
        ),
        ("latency", lambda: [esp.latency(n, scale.latency_samples) for n in esp.RUNNERS]),
        ("w5500_spi", lambda: w5500.spi_efficiency(scale.w5500_megabytes, scale.runs)),
        ("w5500_clock", lambda: w5500.clock_throughput(scale.w5500_megabytes / 2, scale.runs)),
        (
            "w5500_bus",
            lambda: [
                w5500.bus_accounting(d, scale.w5500_megabytes, 2, intn)
                for d in ("send", "receive")
                for intn in (False, True)
            ],
        ),
        ("w5500_cpu", lambda: [w5500.cpu(scale.idle_seconds, scale.w5500_megabytes, intn) for intn in (False, True)]),
        ("memory", lambda: {**esp.memory(scale.memory_bytes), **w5500.memory(scale.memory_bytes)}),
        ("many_modules", lambda: [esp.many_modules(n, scale.modules, scale.module_bytes) for n in esp.RUNNERS]),
        ("profile", lambda: _profile(scale)),
    )
    for name, step in steps:
        t0 = time.perf_counter()
        results[name] = step()
        log(f"{name}: {time.perf_counter() - t0:.0f} s")
    results["goals"] = _goals(results)
    results["seconds"] = time.perf_counter() - started
    paths = report.write(results, out_dir)
    if update_docs and DOCS_PAGE.exists():
        page = DOCS_PAGE.read_text()
        table = report.markdown(results)
        page = re.sub(
            re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END),
            lambda _: f"{TABLE_START}\n{table}\n{TABLE_END}",
            page,
            flags=re.S,
        )
        DOCS_PAGE.write_text(page)
    log(f"wrote {', '.join(str(p) for p in paths.values())} in {results['seconds']:.0f} s")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run (about two minutes)")
    parser.add_argument("--tiny", action="store_true", help="every code path on tiny sizes (figures meaningless)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the results (default benchmarks/results)")
    args = parser.parse_args(argv)
    results = run(args.quick, scale=TINY if args.tiny else None, out_dir=args.out)
    print(report.markdown(results))
    # Active receive may lose data by design when the application falls behind (a bounded buffer, the loss
    # counted and logged): its rows say so in the table; anything else not intact is a failure.
    intact = all(
        r["intact"]
        for key in ("esp_throughput", "peers", "ceiling")
        for r in results[key]
        if r.get("receive") != "active"
    )
    return 0 if intact else 1


if __name__ == "__main__":
    raise SystemExit(main())
