"""Windows paths: a session folder whose deepest file would pass MAX_PATH (260) is refused
before anything is made, naming the folder and the fix; drive-letter working directories and
`..\\tmp\\` paths are the reference's own (its d: run is test_reference.py)."""

from __future__ import annotations

from pathlib import Path

from cockpit.session.place import WINDOWS_PATH_LIMIT, check_path_length, deepest_path
from tests.windows.kit import WINDOWS, py, run, runbook


def test_the_deepest_file_counts_the_longest_step_and_input_name() -> None:
    deepest = deepest_path(Path("/s"), ["short", "a-much-longer-step-id"], ["freeze.log"])
    assert deepest.endswith("a-much-longer-step-id.99.operator-stop.json")
    deepest = deepest_path(Path("/s"), ["s"], ["a-very-long-attestation-file-name.log"])
    assert deepest.endswith("-a-very-long-attestation-file-name.log")


def test_the_limit_is_windows_own(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 240)
    check_path_length(deep, ["step"], [], os_name="posix")  # no such limit there
    try:
        check_path_length(deep, ["step"], [], os_name="nt")
    except Exception as exc:
        said = str(exc)
    else:
        raise AssertionError("a 300-character path was not refused")
    assert str(deep) in said and str(WINDOWS_PATH_LIMIT) in said and "--session" in said


def test_a_session_too_deep_for_windows_is_refused_before_it_is_made(tmp_path: Path) -> None:
    path = runbook(tmp_path / "world", [("hello", py("print('hello')"))])
    deep = tmp_path / ("folder-of-a-long-name-" * 6) / ("and-another-" * 6) / "session"
    done = run(path, deep)
    if WINDOWS:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "past Windows' limit of 259" in done.stderr and "Traceback" not in done.stderr
        assert not deep.exists()
    else:  # POSIX has no such limit: the same session is made and passes
        assert done.returncode == 0, done.stdout + done.stderr
        assert (deep / "events.jsonl").exists()
