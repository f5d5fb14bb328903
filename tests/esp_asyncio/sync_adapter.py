"""The thin synchronous adapter of the ESP-AT asyncio runner: an event loop in a thread of its own, which a
``LoopESP8266Interface(port, loop=...)`` lives on; synchronous code (the conformance and reliability suites) calls
the interface and its sockets from its own thread, and the runner carries each wait out on the loop."""

from __future__ import annotations

import asyncio
import threading


class LoopThread:
    """``loop`` runs forever in a daemon thread until ``close``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="asyncio-runner-loop", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()
