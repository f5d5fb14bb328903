"""Options and fixtures of the hardware acceptance tests.

Run on real devices::

    NETSOCKET_WIFI_SSID=... NETSOCKET_WIFI_PASSWORD=... pytest hw_tests --esp-port=/dev/ttyUSB0 \\
        --server-bind=0.0.0.0 --server-host=<this PC's LAN address>
    pytest hw_tests --w5500-spi=/dev/spidev0.0 --server-bind=0.0.0.0 --server-host=<this Pi's LAN address>

and on the emulators (CI does): ``--esp-port=espemu://`` or a pty from ``python -m netsocket.mocks.esp_at --pty``, and
``--w5500-spi=emulator``. ``--esp-record FILE`` writes a transcript of the ESP session (passphrase masked), which
``--esp-port=espemu://?replay=FILE`` plays back later with no hardware. A device whose option is missing has its
tests skipped, with the reason.
Wi-Fi secrets come from netsocket's configuration only (``NETSOCKET_WIFI_SSID``/``NETSOCKET_WIFI_PASSWORD`` or
``netsocket.ini``, see ``netsocket.config``), never from options; the emulators' defaults (DESIGN §5) apply when it
says nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw_tests.servers import EchoServers
from netsocket import NetworkInterface, NsapiError, NsapiSecurity
from netsocket.config import load_settings


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netsocket hardware")
    group.addoption("--esp-port", help="ESP-AT module: device path or pyserial URL (espemu:// for the emulator)")
    group.addoption("--esp-baud", type=int, default=115200, help="the module's current baud rate")
    group.addoption("--esp-model", choices=["esp8266", "esp32"], default="esp8266")
    group.addoption(
        "--esp-record",
        metavar="FILE",
        help="write a transcript of the ESP session here (docs/transcripts.md); replay it with espemu://?replay=FILE",
    )
    group.addoption("--w5500-spi", help="W5500: spidev path (/dev/spidev0.0), or 'emulator'")
    group.addoption("--server-bind", default="127.0.0.1", help="where this machine's test servers listen")
    group.addoption(
        "--server-host", default="127.0.0.1", help="the address the device reaches this machine's servers at"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "esp: needs --esp-port")
    config.addinivalue_line("markers", "w5500: needs --w5500-spi")


def _esp_interface(config: pytest.Config) -> NetworkInterface:
    from netsocket.drivers.esp_at import ESP32Interface, ESP8266Interface

    cls = ESP32Interface if config.getoption("--esp-model") == "esp32" else ESP8266Interface
    return cls(config.getoption("--esp-port"), config.getoption("--esp-baud"), record=config.getoption("--esp-record"))


def _w5500_interface(config: pytest.Config) -> NetworkInterface:
    from netsocket.drivers.w5500 import W5500Interface

    spi = config.getoption("--w5500-spi")
    if spi == "emulator":
        from netsocket.mocks.w5500 import FakeSpiDev

        return W5500Interface(FakeSpiDev())
    return W5500Interface(spi)


def _connect(device: str, net: NetworkInterface) -> NsapiError:
    if device == "esp":
        # netsocket's one configuration scheme: NETSOCKET_WIFI_* or netsocket.ini, else the emulated world's network.
        settings = load_settings()
        ssid = settings.wifi_ssid or "netsocket-wpa2"
        password = settings.wifi_password if settings.wifi_ssid else "netsocket123"
        security = NsapiSecurity[settings.wifi_security.upper()] if settings.wifi_security else None
        if security is None:
            security = NsapiSecurity.WPA2 if password else NsapiSecurity.NONE
        return net.connect(ssid, password or "", security)  # type: ignore[call-arg]
    return net.connect()


@pytest.fixture(
    scope="module",
    params=[pytest.param("esp", marks=pytest.mark.esp), pytest.param("w5500", marks=pytest.mark.w5500)],
)
def device(request: pytest.FixtureRequest) -> Iterator[NetworkInterface]:
    """A connected interface to each device given on the command line."""
    name = request.param
    option = "--esp-port" if name == "esp" else "--w5500-spi"
    if not request.config.getoption(option):
        pytest.skip(f"no {name} device: give {option}")
    net = _esp_interface(request.config) if name == "esp" else _w5500_interface(request.config)
    err = _connect(name, net)
    assert err == NsapiError.OK, f"{name} did not connect: {NsapiError(err)}"
    yield net
    net.disconnect()
    close = getattr(net, "close", None)
    if callable(close):
        close()


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[EchoServers]:
    with EchoServers(request.config.getoption("--server-bind"), request.config.getoption("--server-host")) as srv:
        yield srv


@pytest.fixture(scope="module")
def esp_device(request: pytest.FixtureRequest) -> Iterator[NetworkInterface]:
    """The ESP module alone, connected (for what only the module offers: ping, SoftAP); tests using it are marked
    ``esp``."""
    if not request.config.getoption("--esp-port"):
        pytest.skip("no esp device: give --esp-port")
    net = _esp_interface(request.config)
    err = _connect("esp", net)
    assert err == NsapiError.OK, f"esp did not connect: {NsapiError(err)}"
    yield net
    net.disconnect()
    close = getattr(net, "close", None)
    if callable(close):
        close()
