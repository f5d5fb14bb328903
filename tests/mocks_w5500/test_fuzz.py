"""The sans-IO chip model takes any byte sequence, cut at any chip-select boundary, without raising."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from netsocket.mocks.w5500 import W5500Chip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=64), max_size=40), st.floats(0, 100))
def test_random_frames_never_break_the_chip(frames: list[bytes], later: float) -> None:
    chip = W5500Chip(now=0.0)
    for frame in frames:
        miso = chip.transfer(frame)
        assert len(miso) == len(frame)
    chip.tick(later)
    assert chip.transfer(b"\x00\x39\x00\x00") == b"\x01\x02\x03\x04"  # still a W5500


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=3, max_size=64), st.data())
def test_a_frame_split_into_pieces_equals_the_whole_frame(frame: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(frame)), max_size=5)))
    whole, pieces = W5500Chip(now=0.0), W5500Chip(now=0.0)
    expected = whole.transfer(frame)
    pieces.select()
    got = b"".join(pieces.exchange(frame[a:b]) for a, b in zip([0, *cuts], [*cuts, len(frame)], strict=True))
    pieces.deselect()
    assert got == expected
    assert whole.transfer(bytes([0, 0, 0]) + bytes(0x3A)) == pieces.transfer(bytes([0, 0, 0]) + bytes(0x3A))
