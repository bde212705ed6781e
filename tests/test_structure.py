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


def _flags_text(call: ast.Call, function: ast.AST) -> str:
    """The flags of an os.open call as written, with a local `flags = ...` it names."""
    flags = ast.unparse(call.args[1]) if len(call.args) > 1 else ""
    if flags.isidentifier():
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == flags for t in node.targets):
                flags += " " + ast.unparse(node.value)
    return flags


def test_every_file_the_cockpit_opens_with_os_open_is_binary_on_windows() -> None:
    """Windows' C runtime opens in text mode unless O_BINARY is given, and then writes \\n as
    \\r\\n: a log, an event or a copy no longer matches its sha256 (issue #29). Folders (opened
    only where POSIX fsyncs them) and os.devnull are exempt."""
    found, seen = [], 0
    for path, tree in _modules(COCKPIT):
        if "demo" in path.parts:  # the rehearsal world runs on POSIX only
            continue
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and ast.unparse(call.func) == "os.open"):
                    continue
                seen += 1
                target, flags = ast.unparse(call.args[0]), _flags_text(call, function)
                folder = "DIRECTORY" in flags or "_FOLDER" in flags or (
                    flags == "os.O_RDONLY" and target.endswith(("folder", "parent", "base"))
                ) or target == "os.devnull"
                if not folder and "BINARY" not in flags and "_READ" not in flags:
                    found.append(f"{path.relative_to(REPO)}:{call.lineno}: {flags}")
    assert seen > 15  # the calls were found
    assert found == []


def test_what_is_pinned_by_sha256_stays_byte_for_byte_on_a_windows_clone() -> None:
    """.gitattributes: Git for Windows' line-ending conversion (core.autocrlf) would give a
    clone `\\r\\n` in the operator scripts, runbooks and checklists whose sha256 the runbooks
    and tests pin, and rewrite evidence logs; each is held to LF or left untouched (#29)."""
    import subprocess

    paths = ["runbooks/netz-prod-cutover.toml", "runbooks/reference/production-cutover-checklist.md",
             *[str(p.relative_to(REPO)) for p in (COCKPIT / "demo" / "scripts").glob("*.py")],
             "cockpit/cli/dispatch.py", ".ci/wine/setup"]
    done = subprocess.run(["git", "check-attr", "eol", "--", *paths], cwd=REPO,
                          capture_output=True, text=True, check=True)
    eol = dict(line.rsplit(": eol: ", 1) for line in done.stdout.splitlines())
    assert eol == dict.fromkeys(paths, "lf"), eol
    logs = [str(p.relative_to(REPO)) for p in (REPO / "tests" / "fixtures").rglob("*.log")]
    done = subprocess.run(["git", "check-attr", "text", "--", *logs], cwd=REPO,
                          capture_output=True, text=True, check=True)
    assert logs and all(line.endswith(": text: unset") for line in done.stdout.splitlines())
