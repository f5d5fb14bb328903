"""Named delays of the emulated module, and a `timescale` to shrink them for fast tests.

Layer: pure data (no I/O). Defaults follow the reference's §3.1 ("typical timing"), so by default long
operations take seconds and drivers meet real `busy p...` windows. Every delay the device model waits is a
field here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Timing:
    """Delays in seconds, before `timescale` is applied (use `scaled()` to read one)."""

    timescale: float = 1.0
    reset_to_ready: float = 0.6
    boot_to_autoconnect: float = 2.0
    cwmode: float = 0.03
    join_to_connected: float = 1.2
    connected_to_got_ip: float = 0.8
    join_fail_wrong_password: float = 3.0
    join_fail_not_found: float = 4.0
    reconnect_interval: float = 1.0
    scan: float = 2.0
    dns: float = 0.04
    tcp_connect: float = 0.03
    ssl_connect: float = 1.0
    unreachable: float = 5.0
    prompt: float = 0.01
    send_ok: float = 0.004
    send_ok_rtt: float = 0.08
    close: float = 0.01
    ping_loopback: float = 0.01
    ping_timeout: float = 1.0
    sntp_sync: float = 1.0
    #: A station's DHCP lease on the SoftAP, between +STA_CONNECTED and +DIST_STA_IP.
    station_dhcp: float = 0.3
    plus_guard: float = 0.02
    #: How often the runner polls host sockets; not scaled (a host-side cost, not an emulated delay).
    poll_interval: float = 0.004
    #: Largest random gap between output chunks when chunking is on; scaled.
    chunk_gap_max: float = 0.002
    #: Bytes per second the module's AT task drains from its UART RX buffer; None means at once.
    uart_drain_rate: float | None = None
    #: Round trip between the module and its servers (seconds, not scaled): the TCP sender refills the module's
    #: receive window one round trip after room is freed, and NonOS's ACK-gated SEND OK waits at least this long.
    network_rtt: float = 0.0

    def scaled(self, seconds: float) -> float:
        return seconds * self.timescale

    def with_timescale(self, timescale: float) -> Timing:
        if not 0.0 <= timescale <= 1.0:
            raise ValueError("timescale must be within 0.0..1.0")
        return replace(self, timescale=timescale)


def timing_field_names() -> list[str]:
    return [f.name for f in fields(Timing) if f.name != "timescale"]
