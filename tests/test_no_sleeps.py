"""The tests wait on conditions, never on a fixed sleep: over every .py under tests/, no call
of `time.sleep`, `asyncio.sleep` or a Textual pilot's `pause` outside tests/waiting.py, the
one place where time is let pass on purpose (and says why)."""

from __future__ import annotations

import ast

from tests.conftest import REPO

TESTS = REPO / "tests"
WAITING = TESTS / "waiting.py"
SLEEPERS = {"time": "sleep", "asyncio": "sleep"}  # module -> its sleeping function


def _names(tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """The names this file gives the sleeping modules (`import time as t`) and their
    sleeping functions (`from time import sleep as nap`), each to what it stands for."""
    modules: dict[str, str] = {}
    functions: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in SLEEPERS:
                    modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in SLEEPERS:
            for alias in node.names:
                if alias.name == SLEEPERS[node.module]:
                    functions[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return modules, functions


def sleeps(source: str) -> list[str]:
    """Each sleep called in `source`, as `line: what`."""
    tree = ast.parse(source)
    modules, functions = _names(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        what = None
        if isinstance(func, ast.Name) and func.id in functions:
            what = functions[func.id]
        elif isinstance(func, ast.Attribute):
            owner = func.value
            if (isinstance(owner, ast.Name) and owner.id in modules
                    and func.attr == SLEEPERS[modules[owner.id]]):
                what = f"{modules[owner.id]}.{func.attr}"
            elif func.attr == "pause":  # Pilot.pause, whatever the pilot is called
                what = f"{ast.unparse(owner)}.pause"
        if what:
            found.append((node.lineno, what))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_the_rule_sees_aliased_imports_and_pilot_pauses() -> None:
    source = ("import time as t\nimport asyncio\nfrom time import sleep as nap\n"
              "t.sleep(1)\nnap(2)\nasyncio.sleep(3)\nawait_me = pilot.pause()\n"
              "time.monotonic()\n")
    assert sleeps(source) == ["4: time.sleep", "5: time.sleep", "6: asyncio.sleep",
                              "7: pilot.pause"]


def test_no_sleep_stands_in_for_a_condition_outside_the_waiting_module() -> None:
    found = [f"{path.relative_to(REPO)}:{where}"
             for path in sorted(TESTS.rglob("*.py")) if path != WAITING
             for where in sleeps(path.read_text(encoding="utf-8"))]
    assert not found, "wait with tests/waiting.py instead:\n" + "\n".join(found)
