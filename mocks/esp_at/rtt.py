"""The network round trip between the emulated module and its servers, as the TCP sender sees the window.

Layer: sans-IO helper of the device model (the clock is passed in). A sender may have at most one receive window
of bytes unacknowledged, and it learns that the module freed room only one round trip after the room was freed
(the window update travels half of it, the new data the other half). So the bytes the module has accepted by
time T are at most the bytes it had released by T - rtt, plus the window. With a round trip of 0 this is the
plain window rule: accept up to the free room.
"""

from __future__ import annotations

from collections import deque


class RttWindow:
    """One link's sender-side view of the module's receive window, one round trip late."""

    def __init__(self) -> None:
        #: Bytes the module has taken from the network on this link.
        self.accepted = 0
        self._seen = 0
        self._history: deque[tuple[float, int]] = deque()

    def room(self, now: float, rtt: float, held: int, window: int) -> int:
        """Bytes the sender's data can bring now, `held` being the link's bytes still inside the module."""
        released = max(self.accepted - held, 0)
        if released != (self._history[-1][1] if self._history else self._seen):
            self._history.append((now, released))
        while self._history and self._history[0][0] + rtt <= now + 1e-9:  # 1 ns: float sums
            self._seen = self._history.popleft()[1]
        return max(0, self._seen + window - self.accepted)

    def next_change(self, rtt: float) -> float | None:
        """When the oldest release not yet seen by the sender becomes visible (None: nothing pending)."""
        return self._history[0][0] + rtt if self._history else None
