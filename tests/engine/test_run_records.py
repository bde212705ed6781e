"""The supervisor's spec and exit record are typed on both sides (session/runrecords.py) and
written with the bytes they had as dicts: every run file of the sessions written before
reads into its type and writes back byte for byte; a spec with a key no one reads is
refused before a supervisor starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cockpit.engine.launcher import write_spec
from cockpit.session.runfiles import RunFiles
from cockpit.session.runrecords import ExitRecord, RunSpec
from tests.conftest import REPO

SESSIONS = REPO / "tests" / "fixtures" / "sessions"
SPECS = sorted(p for p in SESSIONS.glob("*/steps/*.spec.json") if ".radar." not in p.name)
EXITS = sorted(SESSIONS.glob("*/steps/*.exit.json"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_a_spec_written_before_reads_typed_and_writes_the_same_bytes(path: Path) -> None:
    spec = RunSpec.read(path)
    assert spec.run == path.name.removesuffix(".spec.json") and spec.command
    assert spec.dumped() == path.read_bytes()


@pytest.mark.parametrize("path", EXITS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_an_exit_record_written_before_reads_typed_and_writes_the_same_bytes(
        path: Path) -> None:
    record = ExitRecord.read(path)
    assert record is not None and record.run == path.name.removesuffix(".exit.json")
    assert record.dumped() == path.read_bytes()


def test_the_fixtures_hold_a_supervised_end_and_an_abort() -> None:
    ends = [ExitRecord.read(p) for p in EXITS]
    assert len(SPECS) >= 20 and len(ends) >= 20
    assert any(e is not None and e.abort is not None for e in ends)  # the halt's


def test_a_record_keeps_only_the_keys_its_writer_gave(tmp_path: Path) -> None:
    """A run stopped before its command started writes no leftover or signals: its record
    says what its writer said, no default added."""
    record = ExitRecord.of(run="s.1", step="s", log="s.1.log", not_run="voided",
                           exit_code=-15, bytes=0, lines=0, sha256="0" * 64, ended_at="t")
    assert set(json.loads(record.dumped())) == {"run", "step", "log", "not_run", "exit_code",
                                                "bytes", "lines", "sha256", "ended_at"}
    assert record.signalled == [] and record.leftover_count == 0  # read as the defaults


def test_a_spec_with_a_key_the_supervisor_does_not_know_is_refused(tmp_path: Path) -> None:
    files = RunFiles(tmp_path, "s.1")
    with pytest.raises(TypeError):
        write_spec(files, {"step": "s", "command": "true", "cwd": str(tmp_path),
                           "log": str(files.log), "grcae": 1.0})
    assert not files.spec.exists()


def test_an_exit_record_with_a_key_no_field_names_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "s.1.exit.json"
    path.write_text(json.dumps({"run": "s.1", "exitcode": 0}))
    with pytest.raises(ValueError, match="exitcode"):
        ExitRecord.read(path)
