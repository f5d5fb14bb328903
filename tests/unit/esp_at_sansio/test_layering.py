"""The ESP-AT driver's layering, checked on its source: the protocol core is sans-IO, and it is the only owner of
protocol state (no other module of the driver writes a link, a buffer, the pending command or the Wi-Fi state)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from netsocket.drivers import esp_at

DRIVER = Path(esp_at.__file__).parent
CORE_MODULES = ("core.py", "links.py", "commands.py", "parser.py", "dialects.py")
FORBIDDEN_IN_CORE = {"threading", "time", "serial", "socket", "asyncio", "selectors"}
STATE_HOLDERS = ("link", "lk", "queued", "core", "engine", "table", "parser")
"""Names under which the other modules reach protocol state (``link.state``, ``self.core.wifi_up``, ...)."""
MUTATORS = {"append", "appendleft", "extend", "popleft", "pop", "remove", "clear", "insert"}
BUFFERS = {"rx", "datagrams", "accept_queue", "links"}


def parsed(name: str) -> ast.Module:
    return ast.parse((DRIVER / name).read_text(), name)


def imported_roots(tree: ast.Module) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", CORE_MODULES)
def test_the_core_imports_no_thread_clock_port_or_socket_module(name: str) -> None:
    assert not imported_roots(parsed(name)) & FORBIDDEN_IN_CORE


def state_writes(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        for target in targets:
            while isinstance(target, ast.Subscript):
                target = target.value
            if isinstance(target, ast.Attribute) and any(h in ast.unparse(target.value) for h in STATE_HOLDERS):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATORS
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in BUFFERS
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


OTHER_MODULES = sorted(p.name for p in DRIVER.glob("*.py") if p.name not in CORE_MODULES)


@pytest.mark.parametrize("name", OTHER_MODULES)
def test_no_other_module_writes_protocol_state(name: str) -> None:
    assert state_writes(parsed(name)) == []


def test_the_check_sees_a_direct_write() -> None:
    tree = ast.parse("link.state = 1\nself.core.wifi_up = True\ndel link.rx[:3]\nself.core.accept_queue.clear()\n")
    assert len(state_writes(tree)) == 4
    assert state_writes(ast.parse("sock.link = link\nsock.failed = 3\n")) == []
