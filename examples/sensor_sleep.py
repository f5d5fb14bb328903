"""Battery sensor loop: join, send a reading over UDP to a collector, sleep, repeat, with ESP power saving.

Run: ``python -m examples.sensor_sleep`` (starts a UDP collector on 127.0.0.1 and sends it three readings from the
emulated ESP8266), or ``python -m examples.sensor_sleep --collector 192.168.1.10:5005 --count 10 --sleep-ms 60000
--port /dev/ttyUSB0``.

Each reading is the sensor's name, its sequence number and the signal strength the module measures (RSSI):
a real value from the module, standing in for a temperature. The collector answers each one with ``ack #<n>``;
the sensor waits for that (``--ack-ms``) before it sleeps, so a reading is known to have arrived, and the socket
is not closed while its datagram may still be on its way out. Between readings:

- by default the module sleeps deeply (``deep_sleep(ms)``, ``AT+GSLP``): Wi-Fi and sockets are gone, and when the
  time is up the module reboots; the driver notices (``ready``) and re-initialises it (``wait_initialised``), and
  the loop joins again. An ESP8266 wakes only with GPIO16 wired to RST.
- ``--modem-sleep`` stays joined with the radio dozing between beacons (``set_sleep_mode(SleepMode.MODEM)``,
  ``AT+SLEEP``), which saves less but keeps the address and answers sooner.

Both calls are the ESP-AT driver's (not Mbed's); another interface is told so. Exit status 0 when every reading
was acknowledged, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from examples._network import (
    NetworkError,
    add_network_arguments,
    connect,
    describe,
    interruptible,
    ip_address,
    open_network,
    release,
    resolve,
    split_host_port,
)
from examples._udp_server import local_udp_server
from netsocket import NetworkInterface, NsapiError, SocketAddress, UDPSocket, WiFiInterface

WAKE_MARGIN_S = 30.0
"""How long past the sleep time to wait for the module to boot and be initialised again."""


def _collect(data: bytes, peer: tuple[str, int]) -> bytes:
    print(f"Collector got from {peer[0]}:{peer[1]}: {data.decode(errors='replace')}", flush=True)
    return ack_for(data)


def local_collector() -> contextlib.AbstractContextManager[str]:
    """A UDP collector on 127.0.0.1 for the block that prints each reading and acknowledges it; yields its
    ``host:port``."""
    return local_udp_server("demo-collector", _collect)


def ack_for(reading: bytes) -> bytes:
    """The collector's answer to ``reading``: ``ack #<n>`` with the reading's sequence number."""
    fields = reading.split()
    return b"ack " + (fields[1] if len(fields) > 1 else b"?")


def reading(net: NetworkInterface, sensor: str, sequence: int) -> bytes:
    rssi = net.get_rssi() if isinstance(net, WiFiInterface) else 0
    return f"{sensor} #{sequence} rssi={rssi}dBm".encode()


def send_reading(net: NetworkInterface, collector: SocketAddress, data: bytes, ack_ms: int) -> bool:
    """Send one reading from a fresh socket (a socket does not outlive a deep sleep) and wait up to ``ack_ms`` for
    the collector's acknowledgement; whether it came."""
    expected = ack_for(data)
    with UDPSocket() as sock:
        err = sock.open(net)
        if err != NsapiError.OK:
            raise NetworkError(f"cannot open a UDP socket: {NsapiError(err)}")
        sent = sock.sendto(collector, data)
        if sent != len(data):
            raise NetworkError(f"sendto {collector} failed: {NsapiError(sent) if sent < 0 else f'{sent} bytes sent'}")
        deadline = time.monotonic() + ack_ms / 1000
        buffer = bytearray(64)
        while (left := deadline - time.monotonic()) > 0:
            sock.set_timeout(max(1, int(left * 1000)))
            got = sock.recvfrom(None, buffer)
            if got in (NsapiError.CONNECTION_TIMEOUT, NsapiError.WOULD_BLOCK):
                return False
            if got < 0:
                raise NetworkError(f"recvfrom failed: {NsapiError(got)}")
            if bytes(buffer[:got]) == expected:
                return True
    return False


def report(sequence: int, data: bytes, acked: bool) -> int:
    """Print the outcome of one reading; 1 when it went unacknowledged."""
    ending = "acknowledged" if acked else "NOT acknowledged by the collector"
    print(f"Reading {sequence} sent: {data.decode()} ({ending})", flush=True)
    return 0 if acked else 1


def power_call(net: NetworkInterface, name: str) -> Callable[..., Any]:
    """The driver's power-saving call ``name``, or ``NetworkError`` for an interface without it."""
    call = getattr(net, name, None)
    if not callable(call):
        raise NetworkError(
            f"{type(net).__name__} has no {name}(): power saving is the ESP-AT driver's (use --port with an ESP module)"
        )
    return call  # type: ignore[no-any-return]


def deep_sleep_loop(net: NetworkInterface, args: argparse.Namespace, collector_text: str) -> int:
    """The readings with a deep sleep between them; how many went unacknowledged."""
    deep_sleep = power_call(net, "deep_sleep")
    wait_initialised = power_call(net, "wait_initialised")
    host, port = split_host_port(collector_text, 5005)
    missed = 0
    for sequence in range(1, args.count + 1):
        if sequence > 1:
            print(f"Network: awake{connect(net, args)}, IP address {ip_address(net)}", flush=True)
        data = reading(net, args.sensor, sequence)
        missed += report(sequence, data, send_reading(net, resolve(net, host, port), data, args.ack_ms))
        if sequence == args.count:
            break
        started = time.monotonic()
        err = deep_sleep(args.sleep_ms)
        if err != NsapiError.OK:
            raise NetworkError(f"deep_sleep({args.sleep_ms}) failed: {NsapiError(err)}")
        print(f"Deep sleep for {args.sleep_ms} ms", flush=True)
        if not wait_initialised(args.sleep_ms / 1000 + WAKE_MARGIN_S):
            raise NetworkError(f"the module did not wake and answer within {args.sleep_ms / 1000 + WAKE_MARGIN_S} s")
        print(f"Module awake and initialised again after {time.monotonic() - started:.1f} s", flush=True)
    return missed


def modem_sleep_loop(net: NetworkInterface, args: argparse.Namespace, collector_text: str) -> int:
    """The readings with the station joined in modem sleep; how many went unacknowledged."""
    from netsocket.drivers.esp_at import SleepMode

    set_sleep_mode = power_call(net, "set_sleep_mode")
    err = set_sleep_mode(SleepMode.MODEM)
    if err != NsapiError.OK:
        raise NetworkError(f"set_sleep_mode(MODEM) failed: {NsapiError(err)}")
    print("Modem sleep on: the radio dozes between beacons, the station stays joined", flush=True)
    missed = 0
    try:
        host, port = split_host_port(collector_text, 5005)
        collector = resolve(net, host, port)
        for sequence in range(1, args.count + 1):
            data = reading(net, args.sensor, sequence)
            missed += report(sequence, data, send_reading(net, collector, data, args.ack_ms))
            if sequence < args.count:
                time.sleep(args.sleep_ms / 1000)  # the sensor's own reading interval
        return missed
    finally:
        set_sleep_mode(SleepMode.NONE)


def run(args: argparse.Namespace, collector_text: str) -> int:
    net = open_network(args)
    try:
        print(f"Network: {describe(args)}{connect(net, args)}, IP address {ip_address(net)}", flush=True)
        try:
            loop = modem_sleep_loop if args.modem_sleep else deep_sleep_loop
            missed = loop(net, args, collector_text)
        finally:
            net.disconnect()
    finally:
        release(net)
    print(f"{args.count} readings sent, {args.count - missed} acknowledged", flush=True)
    return 0 if missed == 0 else 1


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--collector", help="UDP collector HOST:PORT (default: one started on 127.0.0.1)")
    parser.add_argument("--count", type=int, default=3, help="readings to send (default: 3)")
    parser.add_argument("--sleep-ms", type=int, default=2000, help="milliseconds between readings (default: 2000)")
    parser.add_argument("--ack-ms", type=int, default=3000, help="wait for each acknowledgement (default: 3000)")
    parser.add_argument("--sensor", default="sensor-1", help="the name each reading carries (default: sensor-1)")
    parser.add_argument(
        "--modem-sleep", action="store_true", help="stay joined in modem sleep instead of sleeping deeply"
    )
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if args.count < 1 or args.ack_ms < 1 or not 1 <= args.sleep_ms <= 2**31 - 1:
        parser.error("--count and --ack-ms must be positive, --sleep-ms 1..2147483647")
    try:
        split_host_port(args.collector or "127.0.0.1", 5005)
    except ValueError as exc:
        parser.error(f"--collector: {exc}")
    try:
        with contextlib.ExitStack() as stack:
            collector = args.collector or stack.enter_context(local_collector())
            return run(args, collector)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
