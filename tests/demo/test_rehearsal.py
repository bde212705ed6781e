"""A rehearsal as proof (`rehearsal.pass`): a PASS demo proves a second demo's gate; a
BLOCKER rehearsal, a broken chain, a changed runbook or another commit is each refused as a
link before a session exists (exit 3), naming why; a started session is re-linked while no
phase step has run; the proved cutover records the rehearsal's identity, and `cockpit
compare` sets the two side by side; `report --html` draws each as one self-contained page."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from cockpit.demo.world import World
from cockpit.engine.controller import Controller
from cockpit.engine.opening import relinked, same_rehearsal
from cockpit.errors import CockpitError
from cockpit.evidence.rehearsal import RehearsalRefused
from cockpit.resources import bundled_runbook
from cockpit.runbook.model import ProbeGate
from cockpit.session import rules
from cockpit.session.state import GateState, StepState
from tests.demo.conftest import Runs
from tests.mirror.browser import Chromium
from tests.run import cockpit

GATE = "clone-commit-match"
SVG = "{http://www.w3.org/2000/svg}"


def _demo(base: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cockpit("demo", "--headless", "--session", str(base / name), *args, timeout=300)


@pytest.fixture(scope="module")
def rehearsals(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two rehearsal sessions: `pass` (PASS) and `drift` (BLOCKER, halted in P0) — the demo
    tests' own runs."""
    assert (runs[None].code, runs["drift"].code) == (0, 2), runs["drift"].stderr
    base = tmp_path_factory.mktemp("rehearsals")
    (base / "pass").symlink_to(runs[None].session)
    (base / "drift").symlink_to(runs["drift"].session)
    return base


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One production world for the cutovers the rehearsals are to prove."""
    built = World.build(tmp_path_factory.mktemp("prod") / "world")
    try:
        yield built
    finally:
        built.stop()


def _gate(world: World, session: Path, rehearsal: Path,
          runbook: Path | None = None) -> GateState:
    ctl = Controller.start(runbook or bundled_runbook("demo-cutover.toml"), folder=session,
                           workdir=world.backend, override_workdir=True, env=world.env(),
                           secrets=[world.password], rehearsal=rehearsal, halt_hooks=[])
    try:
        ctl.evaluate_gates()
        return ctl.state.gates[GATE]
    finally:
        ctl.close()


def test_a_pass_rehearsal_proves_the_gate(rehearsals: Path, world: World,
                                          tmp_path: Path) -> None:
    gate = _gate(world, tmp_path / "s", rehearsals / "pass")
    assert gate.status == "passed", gate.detail
    assert gate.detail is not None and gate.detail.startswith("proved by rehearsal pass: ")
    for words in ("decision PASS", "transcript and settings equal", "commit ",
                  "6 revisions, 0009b → 0020 → 0021 → 0022 → 0023 → 70a79686336c"):
        assert words in gate.detail
    # the two worlds were built apart, yet from the same lineage: the same commit
    assert gate.observed["items"]["commit"]["ok"]


def test_a_blocker_rehearsal_is_refused_as_a_link(rehearsals: Path, world: World,
                                                  tmp_path: Path) -> None:
    """It could never prove anything: the run is refused before a session is made."""
    with pytest.raises(CockpitError, match="decision is BLOCKER; only a rehearsal that "
                                           "reached PASS can prove a cutover"):
        _gate(world, tmp_path / "s", rehearsals / "drift")
    assert not (tmp_path / "s").exists()


def _refused(world: World, session: Path, rehearsal: Path,
             runbook: Path | None = None) -> str:
    """The link refused as the session would start: exit 3, nothing made; its message."""
    with pytest.raises(RehearsalRefused) as refused:
        _gate(world, session, rehearsal, runbook)
    assert refused.value.exit_code == 3 and not session.exists()
    assert "Link the rehearsal that passed this runbook at this commit" in refused.value.message
    return refused.value.message


def test_a_broken_chain_is_refused_as_a_link(rehearsals: Path, world: World,
                                             tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(rehearsals / "pass", copy)
    log = next((copy / "steps").glob("prod_upgrade_0019_to_head.*.log"))
    log.write_bytes(log.read_bytes().replace(b"0020", b"0O20", 1))
    said = _refused(world, tmp_path / "s", copy)
    assert "chain: verify: log of prod_upgrade_0019_to_head" in said, said


def test_a_changed_runbook_is_refused_as_a_link_naming_the_lines(
        rehearsals: Path, world: World, tmp_path: Path) -> None:
    changed = tmp_path / "changed.toml"
    text = bundled_runbook("demo-cutover.toml").read_text()
    assert "alembic heads" in text
    changed.write_text(text.replace("alembic heads", "alembic heads --verbose", 1))
    said = _refused(world, tmp_path / "s", rehearsals / "pass", changed)
    assert "runbook: the transcripts differ: rehearsal: " in said
    assert "this runbook: " in said and "alembic heads --verbose" in said


def test_a_setting_the_checklist_does_not_print_is_refused_as_a_link(
        rehearsals: Path, world: World, tmp_path: Path) -> None:
    changed = tmp_path / "changed.toml"
    text = bundled_runbook("demo-cutover.toml").read_text()
    assert "max_waiting = 3" in text
    changed.write_text(text.replace("max_waiting = 3", "max_waiting = 10000"))
    said = _refused(world, tmp_path / "s", rehearsals / "pass", changed)
    assert "the transcripts are equal but settings differ: " in said
    assert "max_waiting: rehearsal 3, this runbook 10000" in said


def test_the_runbooks_own_pinned_tag_holds_too(rehearsals: Path, world: World,
                                                tmp_path: Path) -> None:
    """A pin the runbook gives its gate is checked beside the proof (a runbook that names
    it is another runbook than the rehearsal's, refused as a link: so the gate is asked
    here with the pin the runbook would give)."""
    ctl = Controller.start(bundled_runbook("demo-cutover.toml"), folder=tmp_path / "s",
                           workdir=world.backend, override_workdir=True, env=world.env(),
                           secrets=[world.password], rehearsal=rehearsals / "pass",
                           halt_hooks=[])
    try:
        gate = next(g for g in rules.gates(ctl.runbook) if g.id == GATE)
        assert isinstance(gate, ProbeGate)
        ctl.gates._evaluate_rehearsal_gate(gate, "release-9")
        state = ctl.state.gates[GATE]
    finally:
        ctl.close()
    assert state.status == "failed" and state.detail is not None
    assert "pinned: HEAD " in state.detail and "is not 'release-9'" in state.detail


def test_a_moved_rehearsal_is_followed_when_it_is_the_same_session(
        rehearsals: Path, world: World, tmp_path: Path) -> None:
    first = tmp_path / "archive-1"
    shutil.copytree(rehearsals / "pass", first)
    ctl = Controller.start(bundled_runbook("demo-cutover.toml"), folder=tmp_path / "s",
                           workdir=world.backend, override_workdir=True, env=world.env(),
                           secrets=[world.password], rehearsal=first, halt_hooks=[])
    ctl.close()
    moved = first.rename(tmp_path / "archive-2")
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    from cockpit.session.state import SessionState

    folded = SessionState.model_validate(state)
    assert same_rehearsal(folded, moved) == moved  # the same id and last hash: followed
    assert folded.rehearsal is not None  # a session linked to another rehearsal: refused
    other = folded.model_copy(update={"rehearsal": folded.rehearsal.model_copy(
        update={"last_hash": "0" * 64})})
    with pytest.raises(CockpitError, match=r"last hash 0000000000000000\), which .* is not"):
        same_rehearsal(other, moved)
    ctl = Controller.resume(tmp_path / "s", env=world.env(), secrets=[world.password],
                            halt_hooks=[], rehearsal_moved=moved)
    try:
        ctl.evaluate_gates()
        assert ctl.state.rehearsal is not None
        assert ctl.state.rehearsal.folder == str(moved.resolve())
        assert ctl.state.gates[GATE].status == "passed", ctl.state.gates[GATE].detail
    finally:
        ctl.close()


def test_a_rehearsal_of_another_commit_is_refused_before_a_session_exists(
        rehearsals: Path, world: World, tmp_path: Path) -> None:
    """Issue #27 item 8: it used to halt production as a BLOCKER (exit 2) and record the
    answers' [halt] note as an escalation that never happened. A setup problem the operator
    fixes by linking the right rehearsal: exit 3, no session, nothing run."""
    git = ["git", "-C", str(world.backend), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "hotfix"], check=True)
    session = tmp_path / "s"
    try:
        done = cockpit("run", str(bundled_runbook("demo-cutover.toml")), "--headless", "--answers",
                       str(bundled_runbook("demo-answers.toml")), "--workdir", str(world.backend),
                       "--override-workdir", "--rehearsal", str(rehearsals / "pass"), "--session",
                       str(session), env=world.env(), timeout=300, inherit=False)
    finally:
        subprocess.run([*git, "reset", "-q", "--hard", "HEAD~1"], check=True)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr
    assert "rehearsal pass cannot prove this run — commit: rehearsal at " in done.stderr
    assert ", this run at " in done.stderr and "Traceback" not in done.stderr
    assert "Link the rehearsal that passed this runbook at this commit" in done.stderr
    assert not session.exists() and "halt" not in done.stdout
    env_py = world.backend / "migrations" / "env.py"
    kept = env_py.read_bytes()
    env_py.write_bytes(kept + b"\n# edited after the rehearsal\n")
    try:  # the same commit, but a tracked file changed: not what was rehearsed
        said = _refused(world, tmp_path / "s2", rehearsals / "pass")
    finally:
        env_py.write_bytes(kept)
    assert "commit: this run's working tree has uncommitted changes" in said


def test_a_started_session_is_relinked_while_no_phase_step_has_run(
        rehearsals: Path, world: World, tmp_path: Path) -> None:
    """Started without a link (its gate waits for a typed commit), then resumed with one:
    recorded as `rehearsal_linked`, and the gate proved at once. Once a phase step has run,
    the session keeps the rehearsal it has."""
    session = tmp_path / "s"
    runbook = bundled_runbook("demo-cutover.toml")
    ctl = Controller.start(runbook, folder=session, workdir=world.backend,
                           override_workdir=True, env=world.env(), secrets=[world.password],
                           halt_hooks=[])
    try:
        ctl.evaluate_gates()
        assert f"gate {GATE}" in rules.open_gates(ctl.runbook, ctl.state)
        state, approved = ctl.state, ctl.runbook
    finally:
        ctl.close()
    with pytest.raises(RehearsalRefused, match="decision is BLOCKER"):
        relinked(state, approved, rehearsals / "drift")
    link = relinked(state, approved, rehearsals / "pass")
    assert link is not None and link.session_id == "pass"
    ctl = Controller.resume(session, env=world.env(), secrets=[world.password],
                            halt_hooks=[], rehearsal_linked=link)
    try:
        assert ctl.state.rehearsal == link
        assert ctl.state.gates[GATE].status == "passed", ctl.state.gates[GATE].detail
        assert ctl.state.gates[GATE].observed["proved"] is True
    finally:
        ctl.close()
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    assert [e["data"]["rehearsal"]["session_id"] for e in events
            if e["type"] == "rehearsal_linked"] == ["pass"]
    ran = state.model_copy(update={"steps": {"prod_heads": StepState(status="passed")}})
    assert relinked(ran, approved, rehearsals / "pass") is None
    with pytest.raises(CockpitError, match="fixed once a phase step has run"):
        same_rehearsal(ran, rehearsals / "pass")


def test_a_session_keeps_its_rehearsal_and_a_folder_that_is_none_is_refused(
        rehearsals: Path, tmp_path: Path) -> None:
    refused = _demo(tmp_path, "s", "--rehearsal", str(tmp_path / "nothing-here"))
    assert refused.returncode == 1 and "not a session folder" in refused.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "s-world").exists()
    refused = _demo(tmp_path, "s", "--rehearsal", str(rehearsals / "drift"))
    assert refused.returncode == 3 and "only a rehearsal that reached PASS" in refused.stderr
    assert not (tmp_path / "s").exists() and not (tmp_path / "s-world").exists()
    events = (rehearsals / "drift" / "events.jsonl").read_bytes()
    # resume takes the folder itself (the shared demo runs are linked here)
    drift = (rehearsals / "drift").resolve()
    again = cockpit("resume", str(drift), "--headless", "--rehearsal", str(rehearsals / "pass"))
    assert again.returncode == 3, again.stderr
    assert "started without a rehearsal" in again.stderr and "Traceback" not in again.stderr
    assert (rehearsals / "drift" / "events.jsonl").read_bytes() == events  # untouched


def test_the_demo_proved_by_its_rehearsal_reaches_pass_and_compares_step_by_step(
        rehearsals: Path, tmp_path: Path) -> None:
    done = _demo(tmp_path, "cutover", "--rehearsal", str(rehearsals / "pass"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    session = tmp_path / "cutover"
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    gate = next(e["data"] for e in events if e["type"] == "gate_evaluated"
                and e["data"]["gate"] == GATE)
    assert gate["ok"] and gate["observed"]["proved"] is True
    rehearsal = json.loads((rehearsals / "pass" / "session.json").read_text())
    decision = json.loads((session / "evidence" / "decision.json").read_text())
    assert decision["rehearsal"]["last_hash"] == rehearsal["last_hash"]
    assert rehearsal["last_hash"] in (session / "evidence" / "decision.md").read_text()
    compared = cockpit("compare", str(rehearsals / "pass"), str(session), timeout=60)
    assert compared.returncode == 0, compared.stderr
    steps = [e["data"]["step"] for e in events if e["type"] == "step_started"]
    rehearsed = [json.loads(line)["data"].get("step") for line in
                 (rehearsals / "pass" / "events.jsonl").read_text().splitlines()
                 if '"step_started"' in line]
    assert steps == rehearsed and len(steps) >= 10
    for step in steps:
        row = next(line for line in compared.stdout.splitlines() if line.startswith(step + " "))
        assert row.count("passed") == 2, row
    assert "↳ same output" in compared.stdout  # alembic heads: the same on both
    page = cockpit("report", str(session), "--html", timeout=60).stdout
    ghosts = re.findall(r'<rect class="ghost" data-step="([^"]+)"', page)
    assert ghosts == steps  # the rehearsal's time beside each step's own


def _ink(png: bytes) -> float:
    """The share of the screenshot's decoded bytes that are not white (0: a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, at = b"", 8
    while at < len(png):
        size = int.from_bytes(png[at:at + 4], "big")
        if png[at + 4:at + 8] == b"IDAT":
            data += png[at + 8:at + 8 + size]
        at += 12 + size
    raw = zlib.decompress(data)
    return sum(1 for byte in raw[::7] if byte != 0xFF) / len(raw[::7])


@pytest.mark.parametrize("name", ["pass", "drift"])
def test_the_html_report_draws_every_step_that_ran_and_the_halt(
        rehearsals: Path, tmp_path: Path, name: str) -> None:
    session, page = rehearsals / name, tmp_path / "report.html"
    done = cockpit("report", str(session), "--html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "<script" not in html and "src=" not in html and "@import" not in html  # one file
    svg = ElementTree.fromstring(html[html.index("<svg"):html.index("</svg>") + len("</svg>")])
    groups = list(svg.iter(f"{SVG}g"))
    bars = [g for g in groups if g.get("class") == "bar"]
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    ran = [e["data"]["run"] for e in events if e["type"] == "step_started"]
    assert [b.get("data-run") for b in bars] == ran and ran
    for bar in bars:  # each bar names its step, on the picture and in its tooltip
        assert bar.find(f"{SVG}text").text == bar.get("data-step")
        assert bar.find(f"{SVG}title").text.startswith(bar.get("data-run") + ": ")
    halts = [g for g in groups if g.get("class") == "halt"]
    halted = [e["data"] for e in events if e["type"] == "halted"]
    assert [h.get("data-step") for h in halts] == [h["step"] for h in halted]
    if name == "drift":
        assert halted and bars[-1].get("data-outcome") == "failed"
        assert bars[-1].get("data-step") == halted[0]["step"]
    shot = tmp_path / "report.png"
    browser = Chromium(1200, 900)
    try:
        asyncio.run(browser.screenshot(page.as_uri(), shot, settle_s=2.0))
    finally:
        browser.close()
    assert _ink(shot.read_bytes()) > 0.02  # drawn, not blank
