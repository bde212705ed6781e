"""The structure the engine's ownership of a step rests on, read from the code itself (AST):
no screen and no headless loop drives a step's life, the controller composes its verb groups
instead of inheriting them, and no module reaches for another's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

COCKPIT = REPO / "cockpit"
VERB_GROUPS = {"GateVerbs", "SignatureVerbs", "StepVerbs", "CloseoutVerbs"}
# What records a step's life: the step monitor's alone (engine/monitor.py).
MONITOR_DUTIES = {"poll", "check_running", "start_radar_if_due", "note_drift_if_due"}


def _modules(under: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _called(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in names]


def test_no_screen_and_no_headless_loop_records_a_step_s_life() -> None:
    drivers = [*_modules(COCKPIT / "tui"),
               ("headless", ast.parse((COCKPIT / "engine" / "headless.py").read_text()))]
    found = [f"{path}:{line} calls {name}" for path, tree in drivers
             for line, name in _called(tree, MONITOR_DUTIES)]
    assert found == []
    assert len(drivers) > 10  # the screens were read


def test_no_class_inherits_from_a_verb_group() -> None:
    found = []
    for path, tree in _modules(COCKPIT):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                         for b in node.bases}
                found += [f"{path.relative_to(REPO)}: {node.name}({b})"
                          for b in sorted(bases & VERB_GROUPS)]
    assert found == []


def test_nothing_imports_a_private_name_of_another_module() -> None:
    found = []
    for path, tree in _modules(COCKPIT):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                module = node.module or ""
                found += [f"{path.relative_to(REPO)}:{node.lineno} {module}.{a.name}"
                          for a in node.names if a.name.startswith("_")]
                if any(part.startswith("_") and not part.startswith("__")
                       for part in module.split(".")):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {module}")
            elif isinstance(node, ast.Import):
                found += [f"{path.relative_to(REPO)}:{node.lineno} {a.name}" for a in node.names
                          if any(p.startswith("_") and not p.startswith("__")
                                 for p in a.name.split("."))]
    assert found == []
