"""The results of one run as JSON, a Markdown table and a matplotlib PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

GOALS_NOTE = "goal"


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(cell) if not isinstance(cell, str) else cell for cell in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"Measured {results['started']} in {results['seconds']:.0f} s ({results['scale']} run) on {m['cpu']}, "
        f"{m['cores']} cores, {m['implementation']} {m['python']}, {m['system']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}.",
        "",
        "**ESP throughput** (fraction of baud/10, median of runs; SHA-256 checked; the emulated module in its own "
        "process; `bound`: downloads, one 5,760-byte passive window per network round trip; uploads, each AT+CIPSEND's "
        "payload over its payload and AT framing on the line, plus NonOS's wait for the ACK)",
        "",
    ]
    rows = []
    for r in results["esp_throughput"]:
        value = _f(r["fraction"])
        rows.append(
            [
                r["runner"],
                r["profile"],
                str(r["baud"]),
                _f(r["rtt_ms"], 0),
                r["receive"],
                r["direction"],
                value,
                _f(r["bound"]),
                _f(r["cpu_s_per_mb"], 2),
                str(r["runs"]),
                "yes" if r["intact"] else "**NO**",
            ]
        )
    out += _table(
        [
            "runner",
            "profile",
            "baud",
            "rtt ms",
            "receive",
            "direction",
            "fraction",
            "bound",
            "CPU s/MB",
            "runs",
            "intact",
        ],
        rows,
    )
    out += [
        "**Where the ESP line's time goes** (at22_8266, passive download, 0 ms: fraction = payload share of the "
        "bytes on the line x share of time the line is busy)",
        "",
    ]
    out += _table(
        ["baud", "fraction", "payload share of line bytes", "line busy share", "request bytes / KB", "runs"],
        [
            [
                str(r["baud"]),
                r["fraction"],
                r["payload_share_of_line_bytes"],
                r["line_busy_share"],
                _f(r["request_bytes_per_kb"], 1),
                str(r["runs"]),
            ]
            for r in results["esp_wire"]
        ],
    )
    out += [
        "**Peers on the same emulators and transfers** (ESP at 921600 baud: fraction of baud/10; W5500 at an "
        "emulated 20 MHz: fraction of the bus's byte rate; CPU s/MB of the driver side)",
        "",
    ]
    peers = results["peers"]
    rows = []
    for r in peers:
        if r["driver"] != "netsocket":
            continue
        theirs = next(
            p
            for p in peers
            if p["driver"] != "netsocket" and all(p[k] == r[k] for k in ("device", "direction", "size"))
        )
        rows.append(
            [
                r["device"],
                r["direction"],
                str(r["size"]),
                _f(r["fraction"]),
                _f(theirs["fraction"]),
                _f(r["fraction"] / theirs["fraction"] if theirs["fraction"] else None, 1),
                _f(r["cpu_s_per_mb"], 2),
                _f(theirs["cpu_s_per_mb"], 2),
                _f(theirs["cpu_s_per_mb"] / r["cpu_s_per_mb"] if r["cpu_s_per_mb"] else None, 1),
                str(min(r["runs"], theirs["runs"])),
            ]
        )
    out += _table(
        [
            "device",
            "direction",
            "bytes",
            "ours",
            "Adafruit",
            "x faster",
            "our CPU s/MB",
            "Adafruit CPU s/MB",
            "x less CPU",
            "runs",
        ],
        rows,
    )
    scaling = []
    for key in sorted({(p["device"], p["driver"], p["direction"]) for p in peers}):
        points = sorted(
            (p["size"], p["cpu_s_per_mb"]) for p in peers if (p["device"], p["driver"], p["direction"]) == key
        )
        if len(points) > 1 and points[0][1]:
            scaling.append(
                [*key, f"{points[0][0] // 1000} KB -> {points[-1][0] // 1000} KB", _f(points[-1][1] / points[0][1], 2)]
            )
    if scaling:
        out += [
            "**CPU per MB as the transfer grows** (largest size over smallest; above 1 means a cost per byte "
            "that grows with the transfer)",
            "",
        ]
        out += _table(["device", "driver", "direction", "sizes", "CPU s/MB ratio"], scaling)
    out += [
        "**Driver ceiling** (throttling off, the module in another process; a raw host TCP socket on loopback "
        "doing the same transfer)",
        "",
    ]
    out += _table(
        [
            "runner",
            "direction",
            "MB/s",
            "raw socket MB/s",
            "fraction of raw",
            "driver CPU s/MB",
            "raw CPU s/MB",
            "as baud",
        ],
        [
            [
                r["runner"],
                r["direction"],
                r["mb_per_s"],
                r["raw_socket_mb_per_s"],
                r["fraction_of_raw_socket"],
                r["cpu_s_per_mb"],
                r["raw_socket_cpu_s_per_mb"],
                f"{r['equivalent_baud']:,.0f}",
            ]
            for r in results["ceiling"]
        ],
    )
    out += [
        "**Latency** (ms; sigio: `+IPD` written to the port by the far end -> our callback; pty hop: the same write "
        "waking a bare thread blocked in select(), which the driver time excludes)",
        "",
    ]
    out += _table(
        [
            "runner",
            "sigio median",
            "pty hop median",
            "driver time",
            "sigio p99",
            "64-byte echo median",
            "echo p99",
            "samples",
        ],
        [
            [
                r["runner"],
                r.get("sigio_median_ms"),
                r.get("pty_hop_median_ms"),
                r.get("sigio_driver_median_ms"),
                r.get("sigio_p99_ms"),
                r.get("echo_median_ms"),
                r.get("echo_p99_ms"),
                str(r.get("echo_samples", r.get("note", "-"))),
            ]
            for r in results["latency"]
        ],
    )
    out += ["**W5500 SPI efficiency** (bus bytes per payload byte; floor = 1 + 3 / largest frame)", ""]
    out += _table(
        ["direction", "buffers KB", "bus B / payload B", "floor", "SPI transactions / KB", "runs"],
        [
            [
                r["direction"],
                str(r["buffer_kb"]),
                _f(r["bus_bytes_per_payload_byte"], 4),
                _f(r["floor"], 4),
                _f(r["transactions_per_kb"], 2),
                str(r["runs"]),
            ]
            for r in results["w5500_spi"]
        ],
    )
    out += ["**W5500 at an emulated SPI clock** (2 KB buffers)", ""]
    out += _table(
        ["SPI MHz", "direction", "MB/s", "fraction of bus byte rate", "runs"],
        [
            [_f(r["spi_mhz"], 0), r["direction"], r["mb_per_s"], r["fraction_of_bus"], str(r["runs"])]
            for r in results["w5500_clock"]
        ],
    )
    out += [
        "**W5500 bus accounting** (2 KB buffers; bus bytes per payload byte by what they carry, one transfer "
        "including its connect and close)",
        "",
    ]
    kinds = sorted(
        {k for r in results["w5500_bus"] for k in r["by_kind"]},
        key=lambda k: -max(r["by_kind"].get(k, 0) for r in results["w5500_bus"]),
    )
    out += _table(
        ["direction", "INTn", "total", "transactions / KB", *kinds],
        [
            [
                r["direction"],
                "wired" if r["intn"] else "polled",
                _f(r["bus_bytes_per_payload_byte"], 4),
                _f(r["transactions_per_kb"], 2),
                *[_f(r["by_kind"].get(k), 4) for k in kinds],
            ]
            for r in results["w5500_bus"]
        ],
    )
    out += ["**W5500 driver CPU** (emulated chip included)", ""]
    out += _table(
        ["INTn", "idle: % of one core", "idle: SPI transactions/s", "sending CPU s/MB", "sending: % of one core"],
        [
            [
                "wired" if c["intn"] else "polled",
                _f(c["idle_core_fraction"] * 100, 2),
                _f(c["idle_spi_transactions_per_s"], 0),
                _f(c["sending_cpu_s_per_mb"], 2),
                _f(c["sending_core_fraction"] * 100, 0),
            ]
            for c in results["w5500_cpu"]
        ],
    )
    mem = results["memory"]
    out += [
        f"**Memory** (tracemalloc peaks): {mem['esp_sockets']} ESP sockets downloading "
        f"{mem['esp_busy_peak_kb']:.0f} KB, unread {mem['esp_flood_bytes'] // 1000} KB flood "
        f"{mem['esp_flood_peak_kb']:.0f} KB; {mem['w5500_sockets']} W5500 sockets downloading "
        f"{mem['w5500_busy_peak_kb']:.0f} KB, unread flood {mem['w5500_flood_peak_kb']:.0f} KB (emulated chip "
        "included).",
        "",
    ]
    out += [
        "**Many modules per host** (each emulated module in its own process on a pty, all downloading at once from a "
        "source in another process; `benchmarks/many_modules.py`; host process CPU, peak thread count)",
        "",
    ]
    out += _table(
        ["runner", "modules", "fraction of baud/10 each (mean)", "slowest", "CPU s/MB", "threads", "note"],
        [
            [
                r["runner"],
                str(r["modules"]),
                r.get("fraction_each"),
                r.get("fraction_min"),
                r.get("cpu_s_per_mb"),
                str(r.get("threads", "-")),
                r.get("note", ""),
            ]
            for r in results["many_modules"]
        ],
    )
    out += ["**Goals**", ""]
    out += _table(
        ["goal", "measured", "met"],
        [[g["goal"], g["measured"], "yes" if g["met"] else "**no**"] for g in results["goals"]],
    )
    for p in results.get("profile") or []:
        out += [
            f"**Where the ESP driver's CPU goes** (cProfile, {p['what']}: {p['cpu_s_per_mb']:.3f} CPU s/MB "
            f"with the profiler on; own time as a share of the driver's {p['busy_seconds']:.3f} s in its "
            "threads and the application's socket calls, waits left out)",
            "",
        ]
        by_file = p.get("by_file") or []
        functions = p["self"]
        out += _table(
            ["module", "share", "function", "share", "calls"],
            [
                [
                    by_file[i][0] if i < len(by_file) else "",
                    by_file[i][1] if i < len(by_file) else "",
                    functions[i][0] if i < len(functions) else "",
                    functions[i][1] if i < len(functions) else "",
                    str(functions[i][2]) if i < len(functions) else "",
                ]
                for i in range(max(len(by_file), len(functions)))
            ],
        )
    return "\n".join(out)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    for ax, runner in zip(axes[0][:2], ("threaded", "asyncio"), strict=True):
        for baud in sorted({r["baud"] for r in results["esp_throughput"]}):
            for direction, style in (("download", "-o"), ("upload", "--s")):
                points = sorted(
                    (r["rtt_ms"], r["fraction"])
                    for r in results["esp_throughput"]
                    if r["baud"] == baud
                    and r["direction"] == direction
                    and r["profile"] == "at22_8266"
                    and r["runner"] == runner
                    and r["receive"] in ("passive", "-")
                    and r["fraction"] is not None
                )
                if points:
                    ax.plot(*zip(*points, strict=True), style, label=f"{baud} {direction}")
        ax.set(
            title=f"ESP {runner} (at22_8266, passive): fraction of baud/10",
            xlabel="network round trip (ms)",
            ylim=(0, 1.05),
        )
        ax.legend(fontsize=7)
    ax = axes[0][2]
    for device in ("esp", "w5500"):
        for who, style in (("netsocket", "-o"), ("adafruit", "--x")):
            points = sorted(
                (r["size"], r["cpu_s_per_mb"])
                for r in results["peers"]
                if r["device"] == device and r["driver"] == who and r["direction"] == "download"
            )
            if points:
                ax.plot(*zip(*points, strict=True), style, label=f"{device} {who}")
    ax.set(title="CPU s/MB by transfer size (download)", xscale="log", yscale="log", xlabel="bytes")
    ax.legend(fontsize=7)
    ax = axes[1][0]
    labels = [
        f"{r['device']} {r['direction'][:2]} {r['size'] // 1000}K"
        for r in results["peers"]
        if r["driver"] == "netsocket"
    ]
    ours = [r["fraction"] for r in results["peers"] if r["driver"] == "netsocket"]
    theirs = [r["fraction"] for r in results["peers"] if r["driver"] != "netsocket"]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], ours, 0.4, label="netsocket")
    ax.bar([x + 0.2 for x in xs], theirs, 0.4, label="Adafruit")
    ax.set_xticks(list(xs), labels, rotation=45, fontsize=7)
    ax.set(title="Fraction of the line / bus rate")
    ax.legend(fontsize=7)
    ax = axes[1][1]
    for direction in ("send", "receive"):
        points = [(r["spi_mhz"], r["mb_per_s"]) for r in results["w5500_clock"] if r["direction"] == direction]
        ax.plot(*zip(*points, strict=True), "-o", label=f"ours {direction}")
    ax.plot([8, 20, 40], [8 / 8, 20 / 8, 40 / 8], ":", label="bus byte rate")
    ax.set(title="W5500 throughput (MB/s) by SPI clock", xlabel="MHz")
    ax.legend(fontsize=7)
    ax = axes[1][2]
    ceiling = results["ceiling"]
    labels = [f"{r['runner']} {r['direction']}" for r in ceiling]
    ax.bar(range(len(ceiling)), [r["cpu_s_per_mb"] for r in ceiling], 0.6, label="driver CPU s/MB, unthrottled")
    ax.axhline(0.1, linestyle=":", color="k", label="goal 0.1 s/MB")
    ax.set_xticks(list(range(len(ceiling))), labels, rotation=20, fontsize=7)
    ax.set(title="ESP driver ceiling: CPU s/MB by runner")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "latest.json", "markdown": out_dir / "latest.md", "png": out_dir / "latest.png"}
    paths["json"].write_text(json.dumps(results, indent=1, default=str) + "\n")
    paths["markdown"].write_text(markdown(results) + "\n")
    plot(results, paths["png"])
    return paths
