"""Every `-o` the command line has writes safely (issue #26 item 6): a temporary file beside
the output, created exclusively under a random name, renamed into place — never written
through a link planted at the old predictable temporary name or at the output itself; an
output that is a link is refused (exit 1) even with --force; a failure leaves nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit import cli
from cockpit.evidence.pack import export_pack, verify_pack
from tests.conftest import REFERENCE
from tests.engine.helpers import cockpit, ordinary_world
from tests.runbook.test_init import make_project

VICTIM = "a root-owned file another account wants overwritten\n"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("outputs")
    runbook = ordinary_world(base, [("hello", "echo hello")])
    folder = base / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    make_project(base)  # for `init`
    yield folder


def _commands(session: Path, output: Path) -> dict[str, list[str]]:
    """Each command with an -o, as a user would call it (no --force)."""
    project = session.parent / "billing-service"
    return {
        "export": ["export", str(session), "-o", str(output)],
        "report": ["report", str(session), "--html", "-o", str(output)],
        "countersign": ["countersign", str(session), "--key", str(session / "no-key"),
                        "--confirm", "countersign", "-o", str(output)],
        "init": ["init", str(project), "-o", str(output)],
        "import": ["import", str(REFERENCE), "-o", str(output)],
        "schema": ["schema", "-o", str(output)],
    }


FORCEABLE = {"export", "report", "countersign", "init", "import"}


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to-a-file"])
@pytest.mark.parametrize("command", sorted(FORCEABLE | {"schema"}))
def test_an_output_that_is_a_link_is_refused_even_with_force(
        session: Path, tmp_path: Path, command: str, dangling: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target"
    if not dangling:
        target.write_text(VICTIM)
    output = tmp_path / "out"
    output.symlink_to(target)
    args = _commands(session, output)[command] + (["--force"] if command in FORCEABLE else [])
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 1, err
    assert str(output) in err and "symbolic link" in err and "Traceback" not in err, err
    assert output.is_symlink() and os.readlink(output) == str(target)
    if dangling:
        assert not target.exists()  # the link's target was not created
    else:
        assert target.read_text() == VICTIM
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out"] + ([] if dangling
                                                                          else ["target"]))


def _plant_links(folder: Path, name: str, victim: Path) -> list[Path]:
    """Links at every temporary name an attacker could guess: the old `.NAME.tmp`, and a
    folder full of `.NAME.<n>.tmp` and `.NAME.tmp<n>` (pids, counters)."""
    names = [f".{name}.tmp", f".{name}.capturing"]
    names += [f".{name}.{n}.tmp" for n in range(0, 4096, 7)]
    names += [f".{name}.{n}.tmp" for n in range(os.getpid() - 200, os.getpid() + 800)]
    names += [f".{name}.tmp{n}" for n in range(64)]
    planted = []
    for each in dict.fromkeys(names):
        link = folder / each
        link.symlink_to(victim)
        planted.append(link)
    return planted


@pytest.mark.parametrize("command", ["export", "report"])
def test_a_link_planted_at_a_temporary_name_is_not_written_through(
        session: Path, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.write_text(VICTIM)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp
    output = shared / "x.out"
    planted = _plant_links(shared, output.name, victim)
    assert cli.main(_commands(session, output)[command]) == 0, capsys.readouterr().err
    assert victim.read_text() == VICTIM
    assert all(link.is_symlink() and os.readlink(link) == str(victim) for link in planted)
    assert output.is_file() and not output.is_symlink()
    assert {p.name for p in shared.iterdir()} == {output.name} | {p.name for p in planted}
    if command == "export":
        assert verify_pack(output).problems == []


def test_an_export_that_fails_half_way_leaves_no_temporary_file(
        session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cockpit.evidence import pack

    added: list[str] = []
    real_add = pack._add

    def add_then_fail(tar, name, data, size, stamp):  # a full disk after the first member
        if added:
            raise OSError(28, "No space left on device")
        added.append(name)
        real_add(tar, name, data, size, stamp)

    monkeypatch.setattr(pack, "_add", add_then_fail)
    with pytest.raises(OSError, match="No space left"):
        export_pack(session, tmp_path / "pack.tar.gz")
    assert added and list(tmp_path.iterdir()) == []
