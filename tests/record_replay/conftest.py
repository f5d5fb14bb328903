"""Every record/replay test leaves no emulator, replay or driver thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from netsocket.mocks.esp_at import running_emulators


@pytest.fixture(autouse=True)
def no_leaked_emulators_or_threads() -> Iterator[None]:
    yield
    assert running_emulators() == []
    for thread in threading.enumerate():
        if thread.name.startswith(("esp_at-", "espemu:")):
            thread.join(2.0)  # a helper thread may be finishing its last step
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("esp_at-", "espemu:"))]
