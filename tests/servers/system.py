"""What a test does when a system server it would also run against (mosquitto, dnsmasq) is not installed.

The same cases always run against a server from PyPI or one the tests start themselves, so ``make test`` passes
on a fresh machine with only Python and make. The system-server variants are extra coverage: on a developer's
machine without the program they are skipped with the install command; in CI (``$CI`` set, as ``.ci/run`` runs)
a missing program is a failure, so CI's run shows 0 skipped.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def system_server_missing(reason: str) -> NoReturn:
    """Skip (a developer's machine) or fail (CI) a test whose system server is not installed."""
    if in_ci():
        pytest.fail(f"{reason}: CI must install it (see .ci/run)")
    pytest.skip(reason)
