"""MQTT publish/subscribe round trip with paho-mqtt 2.x, unchanged, over a netsocket connection.

paho needs a real socket (it selects on it); ``netsocket.compat.create_connection`` gives one whose other end is a
netsocket ``TCPSocket``. paho 2.x has no public option for a custom socket (eclipse-paho/paho.mqtt.python#873), so
``NetsocketMqttClient`` overrides the one method that opens its TCP connection; everything else (MQTT, TLS with
``tls_set``, reconnects, the network loop) is paho's own.

Run: ``python -m examples.mqtt_client`` (with no ``--broker`` it starts an MQTT broker of its own on 127.0.0.1,
amqtt, and reaches it through the emulated ESP8266), or
``python -m examples.mqtt_client --broker 127.0.0.1:1883 --topic demo/t --message hi`` for a broker of yours.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from examples._demo_servers import mqtt_broker
from examples._network import NetworkError, add_network_arguments, connected_network, interruptible, split_host_port
from netsocket import NetworkInterface, compat


class NetsocketMqttClient(mqtt.Client):
    """A paho ``Client`` whose TCP connection goes through a netsocket interface (or stack)."""

    def __init__(self, net: NetworkInterface, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._netsocket = net

    def _create_socket_connection(self) -> socket.socket:
        return compat.create_connection((self.host, self.port), timeout=self.connect_timeout, stack=self._netsocket)


class RoundTrip:
    """Connect, subscribe, publish, and wait (with a deadline) for our own message to come back. paho's network
    loop runs in this thread (``client.loop``), so the callbacks only set flags."""

    def __init__(self, client: mqtt.Client, topic: str, message: str) -> None:
        self.client = client
        self.topic = topic
        self.message = message
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.received = threading.Event()
        self.failure: str | None = None
        self.payload: bytes | None = None
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.failure = f"the broker refused the connection: {reason}"
        self.connected.set()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if any(reason.is_failure for reason in reasons):
            self.failure = f"the broker refused the subscription: {reasons}"
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topic:
            self.payload = bytes(message.payload)
            self.received.set()

    def wait(self, event: threading.Event, what: str, deadline: float) -> None:
        """Run paho's network loop in this thread until ``event`` is set (by a callback) or the deadline passes."""
        while not event.is_set():
            if time.monotonic() >= deadline:
                raise NetworkError(f"timed out waiting for {what}")
            rc = self.client.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise NetworkError(
                    f"the connection to the broker ended while waiting for {what}: {mqtt.error_string(rc)}"
                )
        if self.failure:
            raise NetworkError(self.failure)

    def run(self, host: str, port: int, timeout: float) -> float:
        """The publish-to-delivery time in seconds; ``NetworkError`` on failure."""
        deadline = time.monotonic() + timeout
        self.client.connect_timeout = timeout
        try:
            self.client.connect(host, port, keepalive=60)
        except OSError as exc:
            raise NetworkError(f"cannot connect to the MQTT broker at {host}:{port}: {exc}") from exc
        try:
            self.wait(self.connected, "the broker's CONNACK", deadline)
            print(f"Connected to MQTT broker {host}:{port}")
            self.client.subscribe(self.topic, qos=1)
            self.wait(self.subscribed, "the SUBACK", deadline)
            print(f"Subscribed to {self.topic!r}")
            started = time.monotonic()
            self.client.publish(self.topic, self.message.encode(), qos=1)
            print(f"Published {self.message!r} (QoS 1)")
            self.wait(self.received, "our message to come back", deadline)
            elapsed = time.monotonic() - started
            assert self.payload is not None
            print(f"Received on {self.topic!r}: {self.payload.decode(errors='replace')!r} in {elapsed * 1000:.1f} ms")
            return elapsed
        finally:
            self.client.disconnect()
            # Drop the callbacks (bound to this object): without that reference cycle the client is freed at once,
            # and paho closes its internal wake-up sockets when it is freed.
            self.client.on_connect = self.client.on_subscribe = self.client.on_message = None


@interruptible
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--broker", help="MQTT broker HOST:PORT (default: a broker this example starts on 127.0.0.1)")
    parser.add_argument("--topic", help="topic for the round trip (default: a fresh netsocket/examples/... topic)")
    parser.add_argument("--message", default="hello from netsocket", help="payload to publish")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole round trip (default: 15)")
    add_network_arguments(parser)
    args = parser.parse_args(argv)
    if args.broker is not None:
        try:
            split_host_port(args.broker, 1883)
        except ValueError as exc:
            parser.error(f"--broker: {exc}")
    topic = args.topic or f"netsocket/examples/{uuid.uuid4().hex[:12]}"
    try:
        with contextlib.ExitStack() as stack:
            broker = args.broker or stack.enter_context(mqtt_broker())
            host, port = split_host_port(broker, 1883)
            net = stack.enter_context(connected_network(args))
            client = NetsocketMqttClient(net, CallbackAPIVersion.VERSION2, client_id=f"netsocket-{topic[-12:]}")
            RoundTrip(client, topic, args.message).run(host, port, args.timeout)
    except NetworkError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
