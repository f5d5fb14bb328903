"""MQTT brokers on 127.0.0.1 for end-to-end tests: amqtt (from PyPI, always there) and mosquitto (where installed).

Both are reached as ``HOST:PORT`` through ``address`` and ``port``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from examples._demo_servers import mqtt_broker
from tests.servers.mosquitto import Mosquitto, MosquittoMissing
from tests.servers.system import system_server_missing

BROKERS = ["amqtt", "mosquitto"]


@dataclass(frozen=True)
class Broker:
    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@contextlib.contextmanager
def running_broker(name: str, workdir: Path) -> Iterator[Broker]:
    """Start the broker called ``name`` (one of ``BROKERS``); mosquitto missing: skip, or fail in CI."""
    if name == "amqtt":
        with mqtt_broker() as address:
            host, port = address.rsplit(":", 1)
            yield Broker(name, host, int(port))
        return
    try:
        mosquitto = Mosquitto(workdir)
    except MosquittoMissing as exc:
        system_server_missing(str(exc))
    with mosquitto:
        yield Broker(name, "127.0.0.1", mosquitto.port)
