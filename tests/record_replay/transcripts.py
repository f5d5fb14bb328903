"""Record the shipped transcripts again, and replay them.

``python -m tests.record_replay.transcripts`` (or ``make transcripts``) re-records every scenario of
`tests.record_replay.scenarios` on each of its emulator profiles into ``tests/data/transcripts/``, with a
``manifest.json`` saying, for each file, the scenario, the profile, the peer address the application used and what
the application received (SHA-256, size, result codes). Run it after a driver change that alters the command
sequence: the replay test then checks the new transcripts. ``--only download`` limits it to one scenario.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.record_replay.scenarios import SCENARIOS, Live, Outcome, Scenario, connected_interface, finish

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = ROOT / "tests" / "data" / "transcripts"
MANIFEST = "manifest.json"
RECORD_URL = "espemu://?profile={profile}&timescale=0.01&pace=0&seed=1&boot=0"
"""An emulated module already booted: a boot ``ready`` racing the driver's first ``AT`` would make the session
depend on thread timing."""
THREAD_RACES = frozenset({"reset"})
"""Scenarios whose command order depends on thread timing: after a module reset the driver re-initialises it from a
second thread while the application goes on. They replay in lenient mode only."""


def record(scenario: Scenario, profile: str, path: Path) -> tuple[Outcome, tuple[str, int]]:
    """Run ``scenario`` on an emulated module with the driver recording the session to ``path``."""
    with scenario.peer() as address:
        iface = connected_interface(RECORD_URL.format(profile=profile), record=str(path))
        outcome = None
        try:
            outcome = scenario.run(iface, address, Live(iface))
        finally:
            finish(iface, outcome)
    return outcome, address


@dataclass
class Replayed:
    outcome: Outcome
    divergence_in_session: str | None
    """The replay's divergence, if any, when the application had done its work (before disconnecting)."""
    divergence: str | None
    """... and once the interface was closed."""


def replay(path: Path, scenario: Scenario, address: tuple[str, int], *, options: str = "") -> Replayed:
    """Run ``scenario`` against ``espemu://?replay=path`` (no peer, no fault: the transcript holds them)."""
    iface = connected_interface(f"espemu://?replay={path}{options}")
    player = iface.stack.runner.port.replay
    outcome = None
    try:
        outcome = scenario.run(iface, address, None)
        in_session = player.divergence
    finally:
        finish(iface, outcome)
    return Replayed(outcome, in_session, player.divergence)


def manifest_entry(
    scenario: Scenario, profile: str, path: Path, outcome: Outcome, address: tuple[str, int]
) -> dict[str, Any]:
    return {
        "file": path.name,
        "scenario": scenario.name,
        "profile": profile,
        "address": list(address),
        "sha256": outcome.sha256,
        "size": len(outcome.received),
        "codes": outcome.codes,
    }


def load_manifest(directory: Path = TRANSCRIPTS) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((directory / MANIFEST).read_text())["transcripts"]
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.record_replay.transcripts", description=__doc__)
    parser.add_argument("--out", type=Path, default=TRANSCRIPTS)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    entries = {e["file"]: e for e in load_manifest(out)} if manifest_path.exists() else {}
    for scenario in SCENARIOS.values():
        if args.only and scenario.name not in args.only:
            continue
        for profile in scenario.profiles:
            path = out / f"{scenario.name}-{profile}.jsonl"
            outcome, address = record(scenario, profile, path)
            options = "&lenient=1" if scenario.name in THREAD_RACES else ""
            check = replay(path, scenario, address, options=options).outcome
            if (check.sha256, check.codes) != (outcome.sha256, outcome.codes):
                raise SystemExit(f"{path.name}: the replay gave {check.codes} {check.sha256}, not {outcome.codes}")
            entries[path.name] = manifest_entry(scenario, profile, path, outcome, address)
            print(f"{path.name}: {len(outcome.received)} bytes, {outcome.codes or 'no error'}")  # noqa: T201
    manifest = {"transcripts": [entries[name] for name in sorted(entries)]}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
