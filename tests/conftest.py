"""Fixtures shared by every suite.

``mqtt_broker`` is the one MQTT broker fixture (the examples' tests and the socketpool test use it): each test that
takes it runs against amqtt (from PyPI, always there) and against mosquitto (where installed; skipped without it on
a developer's machine, a failure in CI), so the broker behind it changes in this one place.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.servers.mqtt import BROKERS, Broker, running_broker

# Tests press Ctrl-C in programs they start, as a user at a terminal does. A shell that runs the suite in the
# background (``make test &``, nohup) starts it with SIGINT ignored, which every child would inherit (and Python then
# installs no KeyboardInterrupt handler): give the suite, and so its children, a terminal's SIGINT.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", params=BROKERS)
def mqtt_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real MQTT broker on 127.0.0.1 (``address`` is ``HOST:PORT``)."""
    with running_broker(request.param, tmp_path_factory.mktemp(request.param)) as broker:
        yield broker
