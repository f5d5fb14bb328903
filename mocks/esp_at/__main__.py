"""``python -m netsocket.mocks.esp_at``: see `netsocket.mocks.esp_at.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
