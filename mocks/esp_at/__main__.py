"""``python -m mocks.esp_at``: see `mocks.esp_at.cli`."""

from __future__ import annotations

import sys

from mocks.esp_at.cli import main

sys.exit(main())
