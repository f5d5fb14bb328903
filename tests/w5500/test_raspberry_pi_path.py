"""The Raspberry Pi path without a Pi (issue 12): pytest-mock stands in for py-spidev, pyftdi and libgpiod, so the
calls the W5500 backends make are checked (SPI mode, speed and transfers; the reset pulse; the INTn line request
and its edge events), and so is what a user reads when the device node is missing or not permitted."""

from __future__ import annotations

import errno
import os
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, call

import pytest
from netsocket.drivers.w5500 import FtdiBus, SpidevBus, W5500Chip
from netsocket.drivers.w5500 import spi as spi_module
from netsocket.drivers.w5500.interrupt import GpiodInterrupt, GpiodResetPin, as_interrupt_line, as_reset_pin
from netsocket.mocks.w5500 import FakeSpiDev
from pytest_mock import MockerFixture


@pytest.fixture
def spidev(mocker: MockerFixture, tmp_path: Path) -> MagicMock:
    """A fake ``spidev`` module whose ``SpiDev()`` is a mock device; spidev's bufsiz reads 8192."""
    module = types.ModuleType("spidev")
    device = MagicMock(name="SpiDev()")
    device.xfer2.side_effect = lambda data: [0xA5] * len(data)
    module.SpiDev = MagicMock(return_value=device)  # type: ignore[attr-defined]
    mocker.patch.dict(sys.modules, {"spidev": module})
    bufsiz = tmp_path / "bufsiz"
    bufsiz.write_text("8192\n")
    mocker.patch.object(spi_module, "_SPIDEV_BUFSIZ", bufsiz)
    return device


def test_spidev_is_opened_in_mode_0_at_the_speed_asked(spidev: MagicMock) -> None:
    bus = SpidevBus("/dev/spidev0.1", speed_hz=20_000_000)
    spidev.open.assert_called_once_with(0, 1)
    assert spidev.mode == 0 and spidev.max_speed_hz == 20_000_000
    assert bus.max_transfer == 8192
    assert bus.xfer2([0x00, 0x39, 0x00, 0x00]) == [0xA5] * 4
    spidev.xfer2.assert_called_once_with([0x00, 0x39, 0x00, 0x00])
    bus.close()
    spidev.close.assert_called_once_with()


def test_one_register_read_is_one_spidev_transfer(spidev: MagicMock) -> None:
    chip = W5500Chip(SpidevBus("/dev/spidev0.0"))
    spidev.xfer2.side_effect = lambda data: [0, 0, 0, 0x04]
    chip.check_version()
    assert spidev.xfer2.call_args_list == [call([0x00, 0x39, 0x00, 0x00])]  # VERSIONR: address, control, 1 byte
    assert chip.max_data == 8192 - 3


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), ["/boot/firmware/config.txt", "dtparam=spi=on"]),
        (PermissionError(errno.EACCES, "Permission denied"), ["'spi' group", "usermod"]),
    ],
)
def test_a_missing_or_forbidden_spidev_node_says_what_to_do(
    spidev: MagicMock, error: OSError, words: list[str]
) -> None:
    spidev.open.side_effect = error
    with pytest.raises(type(error)) as caught:
        SpidevBus("/dev/spidev0.0")
    message = str(caught.value)
    assert "/dev/spidev0.0" in message and all(word in message for word in words), message
    assert caught.value.errno == error.errno


def test_ftdi_bridge_is_configured_and_exchanges_full_duplex(mocker: MockerFixture) -> None:
    controller = MagicMock(name="SpiController()")
    port = controller.get_port.return_value
    port.exchange.side_effect = lambda data, duplex: bytes(len(data))
    spi = types.ModuleType("pyftdi.spi")
    spi.SpiController = MagicMock(return_value=controller)  # type: ignore[attr-defined]
    mocker.patch.dict(sys.modules, {"pyftdi": types.ModuleType("pyftdi"), "pyftdi.spi": spi})
    bus = FtdiBus("ftdi://ftdi:232h/1", cs=1, speed_hz=10_000_000)
    controller.configure.assert_called_once_with("ftdi://ftdi:232h/1")
    controller.get_port.assert_called_once_with(cs=1, freq=10_000_000, mode=0)
    assert bus.xfer2([1, 2, 3]) == [0, 0, 0]
    port.exchange.assert_called_once_with(b"\x01\x02\x03", duplex=True)
    bus.close()
    controller.terminate.assert_called_once_with()


class FakeGpiod:
    """Enough of libgpiod v2's Python API: ``request_lines`` records its arguments and returns a mock request."""

    def __init__(self) -> None:
        self.module = types.ModuleType("gpiod")
        line = types.SimpleNamespace(
            Direction=types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT"),
            Edge=types.SimpleNamespace(FALLING="FALLING"),
            Bias=types.SimpleNamespace(PULL_UP="PULL_UP"),
            Value=types.SimpleNamespace(ACTIVE="ACTIVE", INACTIVE="INACTIVE"),
        )
        self.module.line = line  # type: ignore[attr-defined]
        self.module.LineSettings = lambda **kwargs: kwargs  # type: ignore[attr-defined]
        self.request = MagicMock(name="LineRequest")
        self.edge_r, self.edge_w = os.pipe()  # the request's file descriptor: readable when an edge is queued
        self.request.fd = self.edge_r
        self.request.read_edge_events.side_effect = lambda: os.read(self.edge_r, 64)
        self.request_lines = MagicMock(return_value=self.request)
        self.module.request_lines = self.request_lines  # type: ignore[attr-defined]


@pytest.fixture
def gpiod(mocker: MockerFixture) -> Iterator[FakeGpiod]:
    fake = FakeGpiod()
    mocker.patch.dict(sys.modules, {"gpiod": fake.module})
    yield fake
    os.close(fake.edge_r)
    os.close(fake.edge_w)


def test_intn_line_request_and_edge_events(gpiod: FakeGpiod) -> None:
    line = as_interrupt_line("/dev/gpiochip0:25")
    assert isinstance(line, GpiodInterrupt)
    chip, kwargs = gpiod.request_lines.call_args.args[0], gpiod.request_lines.call_args.kwargs
    assert chip == "/dev/gpiochip0" and kwargs["consumer"] == "netsocket-w5500"
    assert kwargs["config"] == {25: {"direction": "INPUT", "edge_detection": "FALLING", "bias": "PULL_UP"}}
    request = gpiod.request
    request.get_value.return_value = "INACTIVE"  # INTn already low: asserted, no waiting
    assert line.wait(1.0) is True
    request.read_edge_events.assert_not_called()
    request.get_value.return_value = "ACTIVE"  # high (idle): wait for a falling edge on the request's fd
    assert line.wait(0.05) is False  # no edge: the timeout passes
    os.write(gpiod.edge_w, b"e")  # the kernel queues an edge event
    assert line.wait(5.0) is True
    request.read_edge_events.assert_called_once_with()
    line.wakeup()  # a socket call needs the service thread sooner: the wait ends at once, INTn not asserted
    started = time.monotonic()
    assert line.wait(5.0) is False
    assert time.monotonic() - started < 1.0
    line.close()
    request.release.assert_called_once_with()


def test_reset_pulse_through_gpiod(gpiod: FakeGpiod) -> None:
    pin = as_reset_pin("/dev/gpiochip0:24")
    assert isinstance(pin, GpiodResetPin)
    kwargs = gpiod.request_lines.call_args.kwargs
    assert kwargs["config"] == {24: {"direction": "OUTPUT", "output_value": "ACTIVE"}}  # released at start
    with FakeSpiDev() as fake:
        W5500Chip(fake, reset_pin=pin).reset()
    assert gpiod.request.set_value.call_args_list == [call(24, "INACTIVE"), call(24, "ACTIVE")]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), ["does not exist", "gpiodetect"]),
        (PermissionError(errno.EACCES, "Permission denied"), ["'gpio' group", "usermod"]),
        (OSError(errno.EBUSY, "Device or resource busy"), ["line 25", "busy"]),
    ],
)
def test_a_missing_or_forbidden_gpio_chip_says_what_to_do(gpiod: FakeGpiod, error: OSError, words: list[str]) -> None:
    gpiod.request_lines.side_effect = error
    with pytest.raises(type(error)) as caught:
        as_interrupt_line("/dev/gpiochip9:25")
    message = str(caught.value)
    assert "/dev/gpiochip9" in message and all(word in message for word in words), message


def test_bad_line_specs_are_value_errors(gpiod: FakeGpiod) -> None:
    for spec in ("/dev/gpiochip0", "/dev/gpiochip0:x"):
        with pytest.raises(ValueError, match="gpiochipN:LINE"):
            as_interrupt_line(spec)
        with pytest.raises(ValueError, match="gpiochipN:LINE"):
            as_reset_pin(spec)
    gpiod.request_lines.assert_not_called()


def test_interface_from_a_spidev_path_uses_the_mocked_device(spidev: MagicMock, gpiod: FakeGpiod) -> None:
    from netsocket.drivers.w5500 import W5500Interface

    interface: Any = W5500Interface("/dev/spidev0.0", reset="/dev/gpiochip0:24", interrupt="/dev/gpiochip0:25")
    spidev.open.assert_called_once_with(0, 0)
    assert gpiod.request_lines.call_count == 2
    interface.close()
    spidev.close.assert_called_once_with()
