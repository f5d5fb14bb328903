"""Fixtures shared by every suite.

``mosquitto`` is the one MQTT broker fixture: the examples' tests and the socketpool test use it, so the broker
behind it can be changed in this one place.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.mosquitto import Mosquitto, MosquittoMissing


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real mosquitto broker on 127.0.0.1 (a missing mosquitto fails the test, saying how to install it)."""
    try:
        broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    except MosquittoMissing as exc:
        pytest.fail(str(exc))
    with broker:
        yield broker
