"""The ESP fault and flood cases again, on the asyncio runner: the module's interface lives on an event loop in a
thread of its own (``tests/esp_asyncio/sync_adapter``), and the cases' synchronous calls are carried out on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netsocket.drivers.esp_at import ESP8266Interface
from netsocket.drivers.esp_at.aio_interface import LoopESP8266Interface

from netsocket import NsapiError, NsapiSecurity
from tests.esp_asyncio.sync_adapter import LoopThread
from tests.reliability import test_esp_faults, test_flood
from tests.reliability.test_esp_faults import (  # noqa: F401  (collected here too, on the asyncio runner)
    nothing_left_behind,
    servers,
    test_echo_through_chunking_urcs_and_noise_is_intact_or_an_error,
    test_module_reset_mid_download_is_reported_then_the_interface_recovers,
    test_silent_module_during_an_echo_releases_both_blocked_calls_in_time,
    test_silent_module_mid_download_gives_errors_within_deadlines,
    test_wifi_loss_mid_download_is_reported_then_the_interface_recovers,
)
from tests.reliability.test_flood import (  # noqa: F401
    test_unread_tcp_flood_is_bounded_then_arrives_intact_esp,
    test_unread_udp_flood_stays_bounded_and_losses_are_counted_esp,
)

pytestmark = pytest.mark.esp


@pytest.fixture(autouse=True)
def on_the_asyncio_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    thread = LoopThread()
    made: list[ESP8266Interface] = []

    def fault_interface(profile: str, seed: int, extra: str = "") -> ESP8266Interface:
        url = (
            f"espemu://?profile={profile}&timescale=0.01&pace=0&seed={seed}"
            f"&name=storm-aio-{profile}-{next(test_esp_faults._names)}{extra}"
        )
        iface = LoopESP8266Interface(url, loop=thread.loop)
        made.append(iface)
        assert iface.connect(test_esp_faults.SSID, test_esp_faults.PASSPHRASE, NsapiSecurity.WPA2) == NsapiError.OK
        return iface

    def flood_interface(profile: str, seed: int) -> ESP8266Interface:
        return fault_interface(profile, seed)

    monkeypatch.setattr(test_esp_faults, "make_interface", fault_interface)
    monkeypatch.setattr(test_flood, "esp_interface", flood_interface)
    yield
    thread.close()
    assert made and all(iface.stack.runs_on_event_loop for iface in made)  # the case ran on the asyncio runner
