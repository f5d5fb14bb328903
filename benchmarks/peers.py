"""The drivers a user would otherwise pick, on the same emulators and the same transfers: Adafruit's
`adafruit_espatcontrol` (ESP-AT, CIPMUX=0, active-mode +IPD) and `adafruit_wiznet5k` (W5500), on CPython.

Each peer's figure is measured next to ours in the same run: throughput as a fraction of the line rate (ESP) or
of the bus's byte rate (W5500 at an emulated clock), CPU seconds per MB on the driver side, and the CPU per MB at
each transfer size (a cost per byte that grows with the transfer is a defect).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import serial
from netsocket.mocks.w5500.circuitpython import BusioSPI, ChipSelectPin

from .common import Transfer, median, timed_download, timed_upload
from .esp import download, esp_interface, far_end, upload
from .w5500 import w5500_interface

ADAFRUIT_CIPSEND_MAX = 2048


@contextlib.contextmanager
def adafruit_esp(path: str, baud: int) -> Iterator[Any]:
    from adafruit_espatcontrol.adafruit_espatcontrol import ESP_ATcontrol

    with serial.Serial(path, baud, timeout=0.1) as uart:
        esp = ESP_ATcontrol(uart, baud)
        esp.connect({"ssid": "netsocket-wpa2", "password": "netsocket123"}, timeout=5, retries=1)
        yield esp


def adafruit_esp_download(esp: Any, size: int, seed: int = 2) -> Transfer:
    def receive(_: int) -> bytes:
        return bytes(esp.socket_receive(timeout=2))

    def connect(port: int) -> None:
        esp.socket_connect("TCP", "127.0.0.1", port)
        esp.socket_send(b"GET\n")

    try:
        return timed_download(size, seed, receive, connect, request=True)
    finally:
        with contextlib.suppress(Exception):
            esp.socket_disconnect()


def adafruit_esp_upload(esp: Any, size: int, seed: int = 3) -> Transfer:
    def send(view: memoryview) -> int:
        chunk = bytes(view[:ADAFRUIT_CIPSEND_MAX])
        esp.socket_send(chunk, timeout=5)
        return len(chunk)

    return timed_upload(
        size, seed, send, lambda port: esp.socket_connect("TCP", "127.0.0.1", port), esp.socket_disconnect
    )


def adafruit_w5500_transfer(direction: str, size: int, spi_hz: float) -> Transfer:
    from adafruit_wiznet5k.adafruit_wiznet5k import WIZNET5K
    from adafruit_wiznet5k.adafruit_wiznet5k_socketpool import SocketPool
    from netsocket.mocks.w5500 import FakeSpiDev

    with FakeSpiDev(spi_hz=spi_hz) as fake:
        eth = WIZNET5K(BusioSPI(fake.emulator), ChipSelectPin(fake.emulator), is_dhcp=False)
        eth.ifconfig = tuple(eth.unpretty_ip(a) for a in ("192.168.77.60", "255.255.255.0", "192.168.77.1") * 2)[:4]
        pool = SocketPool(eth)
        sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
        sock.settimeout(30)
        buffer = bytearray(16384)
        try:
            if direction == "download":

                def receive(_: int) -> bytes:
                    count = sock.recv_into(buffer)
                    return bytes(buffer[:count])

                return timed_download(size, 2, receive, lambda port: sock.connect(("127.0.0.1", port)))
            return timed_upload(
                size,
                3,
                lambda view: sock.send(bytes(view[:16384])),
                lambda port: sock.connect(("127.0.0.1", port)),
                sock.close,
            )
        finally:
            with contextlib.suppress(RuntimeError, OSError):
                sock.close()


def our_w5500_transfer(direction: str, size: int, spi_hz: float) -> Transfer:
    from netsocket.mocks.w5500 import FakeSpiDev

    from .w5500_spi_efficiency import BUFSIZ

    with FakeSpiDev(bufsiz=BUFSIZ, spi_hz=spi_hz) as fake, w5500_interface(fake) as iface:
        return (download if direction == "download" else upload)(iface, size)


def esp_comparison(baud: int, sizes: list[int], runs: int) -> list[dict[str, Any]]:
    """Both ESP drivers on the same emulated module, each size and direction; medians of `runs`."""
    rows = []
    for who in ("netsocket", "adafruit"):
        with far_end("at22_8266", baud) as path:
            opener = esp_interface(path, baud) if who == "netsocket" else adafruit_esp(path, baud)
            with opener as driver:
                for size in sizes:
                    for direction in ("download", "upload"):
                        if who == "netsocket" and direction == "download":
                            transfers = [download(driver, size, request=True) for _ in range(runs)]
                        else:
                            run = {
                                ("netsocket", "upload"): upload,
                                ("adafruit", "download"): adafruit_esp_download,
                                ("adafruit", "upload"): adafruit_esp_upload,
                            }[who, direction]
                            transfers = [run(driver, size) for _ in range(runs)]
                        rows.append(_row("esp", who, direction, size, transfers, baud / 10))
    return rows


def w5500_comparison(spi_hz: float, sizes: list[int], runs: int) -> list[dict[str, Any]]:
    rows = []
    for who, run in (("netsocket", our_w5500_transfer), ("adafruit", adafruit_w5500_transfer)):
        for size in sizes:
            for direction in ("download", "upload"):
                transfers = [run(direction, size, spi_hz) for _ in range(runs)]
                rows.append(_row("w5500", who, direction, size, transfers, spi_hz / 8))
    return rows


def _row(device: str, who: str, direction: str, size: int, transfers: list[Transfer], line: float) -> dict[str, Any]:
    return {
        "device": device,
        "driver": who,
        "direction": direction,
        "size": size,
        "fraction": median([t.rate / line for t in transfers]),
        "cpu_s_per_mb": median([t.cpu_per_mb for t in transfers]),
        "intact": all(t.intact for t in transfers),
        "runs": len(transfers),
    }
