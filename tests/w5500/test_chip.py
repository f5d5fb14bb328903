"""The chip layer of drivers.w5500: one SPI transaction per access, bursts, the two-reads-agree rule, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from netsocket.drivers.w5500 import ChipError, ChipTimeout, W5500Chip
from netsocket.drivers.w5500.registers import Command, Common, Sn
from netsocket.drivers.w5500.spi import open_bus, parse_spidev_path
from netsocket.mocks.w5500 import FakeSpiDev


@pytest.fixture
def fake() -> Iterator[FakeSpiDev]:
    with FakeSpiDev() as device:
        yield device


def test_reset_checks_the_version_and_restores_defaults(fake: FakeSpiDev) -> None:
    chip = W5500Chip(fake)
    chip.set_mac(bytes.fromhex("020000000001"))
    chip.reset()
    assert chip.get_mac() == bytes(6)
    assert chip.read_common(Common.RTR, 2) == b"\x07\xd0"


def test_hardware_reset_pin_is_pulsed(fake: FakeSpiDev) -> None:
    levels: list[bool] = []
    chip = W5500Chip(fake, reset_pin=levels.append)
    chip.reset()
    assert levels == [False, True]


def test_one_transaction_per_register_access(fake: FakeSpiDev) -> None:
    chip = W5500Chip(fake)
    before = fake.stats.frames
    chip.read_common(Common.GAR, 18)
    chip.write_socket(0, Sn.TX_WR, b"\x12\x34")
    assert fake.stats.frames - before == 2
    assert chip.stats.transactions == 2


def test_bursts_are_split_at_the_bus_limit_and_wrap_in_the_ring() -> None:
    with FakeSpiDev(bufsiz=64) as fake:
        chip = W5500Chip(fake)
        chip.reset()
        assert chip.max_data == 61
        data = bytes(range(256)) * 12  # 3072 bytes: longer than the 2 KB ring, split into 61-byte frames
        before = fake.stats.frames
        chip.write_tx_buffer(0, 0xFF00, data[:2048])
        assert fake.stats.frames - before == -(-2048 // 61)
        # The ring is 2 KB: offset 0xFF00 + 2048 wraps past 0xFFFF and inside the ring back to where it started.
        assert chip.read_tx_buffer(0, 0xFF00, 2048) == data[:2048]
        assert chip.read_tx_buffer(0, 0xFF00 + 2048, 100) == data[:100]


class _Scripted:
    """A bus whose reads of one register return a scripted sequence (other reads return zeros)."""

    def __init__(self, values: list[bytes]) -> None:
        self.values = values
        self.transfers = 0

    def xfer2(self, data: list[int]) -> list[int]:
        self.transfers += 1
        length = len(data) - 3
        if data[2] & 0x04:
            return [0] * len(data)
        value = self.values.pop(0) if self.values else bytes(length)
        return [1, 2, 3, *value[:length].ljust(length, b"\x00")]


def test_counters_are_read_until_two_reads_agree() -> None:
    bus = _Scripted([b"\x01\x00\x00\x00", b"\x00\xff\x00\x00", b"\x00\xff\x00\x00"])
    chip = W5500Chip(bus)
    assert chip.rx_state(0) == (0x00FF, 0)
    assert bus.transfers == 3


def test_counters_that_never_settle_are_an_error() -> None:
    bus = _Scripted([bytes((i, 0, 0, 0)) for i in range(40)])
    with pytest.raises(ChipError):
        W5500Chip(bus).rx_state(0)


def test_a_stuck_command_register_times_out(fake: FakeSpiDev) -> None:
    chip = W5500Chip(fake, command_timeout=0.05)
    chip.reset()
    fake.faults.stuck_cr.add(3)
    started = time.monotonic()
    with pytest.raises(ChipTimeout):
        chip.command(3, Command.OPEN)
    assert time.monotonic() - started < 1


def test_no_chip_on_the_bus_is_an_error() -> None:
    with pytest.raises(ChipError):
        W5500Chip(_Scripted([])).reset(timeout=0.05)


def test_bus_choices() -> None:
    assert parse_spidev_path("/dev/spidev1.2") == (1, 2)
    with pytest.raises(ValueError):
        parse_spidev_path("/dev/ttyUSB0")
    with pytest.raises(TypeError):
        open_bus(42)  # type: ignore[arg-type]
