"""The ESP driver's ceiling: transfers with throttling off (the module emulated in another process), next to a raw
host TCP socket on loopback doing the same work, and the driver's own CPU seconds per MB, from which a user can
work out what a slower host sustains (a Raspberry Pi Zero is roughly ten times slower per core)."""

from __future__ import annotations

import socket
from typing import Any

from .common import Transfer, median, timed_download, timed_upload
from .esp import download, esp_interface, far_end, upload


def raw_download(size: int, seed: int = 2) -> Transfer:
    holder: list[socket.socket] = []
    try:
        return timed_download(
            size,
            seed,
            lambda n: holder[0].recv(min(n, 65536)),
            lambda port: holder.append(socket.create_connection(("127.0.0.1", port))),
        )
    finally:
        for sock in holder:
            sock.close()


def raw_upload(size: int, seed: int = 3) -> Transfer:
    holder: list[socket.socket] = []

    def send(view: memoryview) -> int:
        return holder[0].send(view[:65536])

    try:
        return timed_upload(
            size,
            seed,
            send,
            lambda port: holder.append(socket.create_connection(("127.0.0.1", port))),
            lambda: holder[0].close(),
        )
    finally:
        for sock in holder:
            sock.close()


def ceiling(runner: str, size: int, runs: int) -> list[dict[str, Any]]:
    rows = []
    raw = {"download": [raw_download(size) for _ in range(runs)], "upload": [raw_upload(size) for _ in range(runs)]}
    with far_end("at22_8266", 0) as path, esp_interface(path, 921600, runner) as iface:
        ours = {
            "download": [download(iface, size) for _ in range(runs)],
            "upload": [upload(iface, size) for _ in range(runs)],
        }
    for direction in ("download", "upload"):
        rate, raw_rate = median([t.rate for t in ours[direction]]), median([t.rate for t in raw[direction]])
        rows.append(
            {
                "runner": runner,
                "direction": direction,
                "size": size,
                "mb_per_s": rate / 1e6,
                "raw_socket_mb_per_s": raw_rate / 1e6,
                "fraction_of_raw_socket": rate / raw_rate,
                "cpu_s_per_mb": median([t.cpu_per_mb for t in ours[direction]]),
                "raw_socket_cpu_s_per_mb": median([t.cpu_per_mb for t in raw[direction]]),
                "equivalent_baud": rate * 10,
                "intact": all(t.intact for t in ours[direction] + raw[direction]),
                "runs": runs,
            }
        )
    return rows
