"""Nothing POSIX-only at import: every module of the cockpit imports on this system (the
rehearsal world's too — it refuses to run on Windows, with a message, not an ImportError),
and `cockpit demo` says what it needs instead of failing with a traceback."""

from __future__ import annotations

import importlib
import pkgutil

import cockpit
from tests.run import cockpit as run_cockpit
from tests.windows.kit import WINDOWS


def test_every_module_of_the_cockpit_imports_here() -> None:
    names = [info.name for info in pkgutil.walk_packages(cockpit.__path__, "cockpit.")
             if ".demo.scripts" not in info.name and not info.name.endswith("__main__")]
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = repr(exc)
    assert len(names) > 150 and failed == {}, failed


def test_the_demo_says_what_it_needs_on_windows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not WINDOWS:  # here it builds its world: test_demo*.py run it whole
        done = run_cockpit("demo", "--list-faults")
        assert done.returncode == 0 and "width" in done.stdout, done.stderr
        return
    done = run_cockpit("demo", "--headless", "--workspace", str(tmp_path / "w"),
                       "--session", str(tmp_path / "s"), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "cockpit run" in done.stderr, done.stderr
    assert not (tmp_path / "s").exists()
