"""examples.mqtt_client end to end: paho-mqtt over netsocket against real MQTT brokers on 127.0.0.1 (amqtt, and
mosquitto where installed), and with the broker the example starts by itself."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from examples import mqtt_client
from tests.examples.running import FAST_ESP, HOST, free_loopback_port
from tests.servers import TcpServer
from tests.servers.mosquitto import Mosquitto, MosquittoMissing
from tests.servers.mqtt import Broker


def test_publish_subscribe_round_trip(
    network: list[str], mqtt_broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mqtt_client.main([*network, "--broker", mqtt_broker.address, "--message", "ping over netsocket"]) == 0
    out = capsys.readouterr().out
    assert f"Connected to MQTT broker {mqtt_broker.address}" in out
    assert "Published 'ping over netsocket' (QoS 1)" in out
    assert "Received on 'netsocket/examples/" in out and ": 'ping over netsocket' in " in out


class Listener:
    """A plain paho subscriber on this computer's own network, proving the message really crossed the broker."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self.messages: list[bytes] = []
        self.got = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, *_args: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        # connect_async, then loop_start: paho's connect() followed by loop_start() leaks a wake-up socket pair.
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self.messages.append(bytes(message.payload))
        self.got.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_message_reaches_other_subscribers(mqtt_broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    listener = Listener(mqtt_broker, "demo/netsocket")
    try:
        assert listener.subscribed.wait(10)
        args = [*FAST_ESP, "--broker", mqtt_broker.address, "--topic", "demo/netsocket", "--message", "to everyone"]
        assert mqtt_client.main(args) == 0
        assert listener.got.wait(10)
    finally:
        listener.close()
    assert listener.messages == [b"to everyone"]


def test_with_no_broker_given_it_starts_one_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    """Run as a new user does, with no options: the emulated ESP8266 and a broker the example starts itself."""
    assert mqtt_client.main(["--message", "all by itself"]) == 0
    out = capsys.readouterr().out
    assert "Connected to MQTT broker 127.0.0.1:" in out
    assert "Received on 'netsocket/examples/" in out and ": 'all by itself' in " in out


def test_reports_a_broker_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_loopback_port()
    assert mqtt_client.main([*HOST, "--broker", f"127.0.0.1:{port}", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert f"cannot connect to the MQTT broker at 127.0.0.1:{port}" in err and "NO_CONNECTION" in err
    assert "Traceback" not in err


def test_reports_a_peer_that_does_not_speak_mqtt(capsys: pytest.CaptureFixture[str]) -> None:
    """A server that accepts and closes at once: paho's loop sees the connection end; the example says so."""
    with TcpServer("closer", lambda conn: None) as server:
        host, port = server.address
        assert mqtt_client.main([*HOST, "--broker", f"{host}:{port}", "--timeout", "5"]) == 1
    assert "the connection to the broker ended while waiting for the broker's CONNACK" in capsys.readouterr().err


def test_missing_mosquitto_is_a_failure_with_install_advice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_args, **_kwargs: None)
    with pytest.raises(MosquittoMissing, match="apt-get install mosquitto"):
        Mosquitto(tmp_path)
