"""Four eyes with real `ssh-keygen` keys: the operator signs the decision, a reviewer
countersigns from a read-only copy, the operator attaches, `verify` checks who signed what;
a changed byte anywhere fails verify naming the file; self-approval is refused."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from cockpit.engine.controller import Controller
from cockpit.engine.core import ActionRefused
from cockpit.evidence import signing
from cockpit.evidence.inventory import session_files
from cockpit.evidence.pack import verify_pack
from cockpit.evidence.verify import verify_session
from cockpit.session import rules
from cockpit.session.reader import open_session
from tests.conftest import REPO
from tests.engine.helpers import ORDINARY, cockpit, phase, write_world
from tests.four_eyes import Keys, allowed_line, four_eyes_world, make_key, make_keys
from tests.mirror.test_readonly import as_reviewer
from tests.run import COCKPIT
from tests.waiting import wait_until, within


def tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's sha256 and mtime: what a read-only command must leave as it was."""
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                               p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_only_copy(session: Path, where: Path) -> Path:
    """The session as a reviewer sees it: a copy whose files and folders nobody may write
    (and the reviewer's process, below, has not the capabilities root ignores modes with)."""
    copy = where / session.name
    shutil.copytree(session, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    tried = subprocess.run(as_reviewer(["sh", "-c", f"echo x >> {copy / 'events.jsonl'}"]),
                           capture_output=True)
    assert tried.returncode != 0  # writing really fails there
    return copy


def countersign(session: Path, key: Path, out: Path, *extra: str):
    return cockpit("countersign", str(session), "--key", str(key), "-o", str(out),
                   "--confirm", "countersign", *extra)


def countersign_as_reviewer(session: Path, key: Path, out: Path, *extra: str):
    return subprocess.run(as_reviewer([*COCKPIT, "countersign",
                                       str(session), "--key", str(key), "-o", str(out),
                                       "--confirm", "countersign", *extra]),
                          capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    """A whole four-eyes session: NO-GO until the transcript is countersigned, then PASS
    awaiting the decision's countersignature, then countersigned — each countersignature
    made from a read-only copy of the session."""
    tmp = tmp_path_factory.mktemp("signed")
    runbook = four_eyes_world(tmp)
    session = tmp / "s"
    first = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                    str(session), "--sign-key", str(keys.operator))
    assert first.returncode == 3, first.stdout + first.stderr  # NO-GO: awaiting a reviewer
    assert "awaiting 1 countersignature(s) of the transcript (0 of 1)" in first.stdout
    assert open_session(session).state.halt is None  # waiting for a person is not a finding

    copy = read_only_copy(session, tmp_path_factory.mktemp("reviewer"))
    before = tree_digest(copy)
    made = countersign_as_reviewer(copy, keys.reviewer, tmp / "transcript.sig", "--transcript")
    assert made.returncode == 0, made.stderr
    assert tree_digest(copy) == before  # the reviewer's command wrote nothing in the session
    assert "transcript:  sha256" in made.stderr and "bob@example.com" in made.stderr
    attached = cockpit("attach-signature", str(session), str(tmp / "transcript.sig"))
    assert attached.returncode == 0, attached.stderr
    assert "countersigned the transcript" in attached.stdout

    refused = cockpit("resume", str(session), "--headless", "--assume-yes")
    assert refused.returncode == 1 and "resume with --sign-key KEY" in refused.stderr
    second = cockpit("resume", str(session), "--headless", "--assume-yes", "--sign-key",
                     str(keys.operator))
    assert second.returncode == 0, second.stdout + second.stderr  # by the decision: PASS
    tail = second.stdout.splitlines()
    assert tail[-1] == "DECISION: PASS"
    assert "AWAITING COUNTERSIGN: 0 of 1 countersignature(s) of the decision" in tail
    assert "AWAITING COUNTERSIGN: 0 of 1" in cockpit("status", str(session)).stdout

    copy = read_only_copy(session, tmp_path_factory.mktemp("reviewer-2"))
    before = tree_digest(copy)
    made = countersign_as_reviewer(copy, keys.reviewer, tmp / "decision.sig")
    assert made.returncode == 0, made.stderr
    assert tree_digest(copy) == before
    assert "decision:    PASS" in made.stderr
    assert "operator:    alice@example.com" in made.stderr  # who signed it, shown first
    assert cockpit("attach-signature", str(session), str(tmp / "decision.sig")).returncode == 0
    return session


def test_sign_countersign_attach_verify_green(signed: Path, keys: Keys) -> None:
    done = cockpit("verify", str(signed), "--allowed-signers", str(keys.allowed))
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("signed: ")]
    operator_fp = signing.load_key(keys.operator).fingerprint
    reviewer_fp = signing.load_key(keys.reviewer).fingerprint
    assert said == [
        f"signed: reviewer bob@example.com ({reviewer_fp}) countersigned the transcript",
        f"signed: operator alice@example.com ({operator_fp}) signed the decision (PASS)",
        f"signed: reviewer bob@example.com ({reviewer_fp}) countersigned the decision (PASS)"]
    view = open_session(signed)
    assert rules.awaiting_countersign(view.runbook, view.state) is None
    assert "AWAITING" not in cockpit("status", str(signed)).stdout
    # the sign-off fields, from the signatures
    report = cockpit("report", str(signed)).stdout
    assert "- [x] Operator: alice@example.com (signed)" in report
    assert "- [x] Reviewer: bob@example.com (signed)" in report
    record = (signed / "evidence" / "decision.md").read_text()
    assert f"Signed by the operator, alice@example.com (SSH key {operator_fp})" in record
    # The statement is pinned at the decision: what came after it did not change it.
    doc = signing.read_signature((signed / "evidence/signatures/decision-operator.json")
                                 .read_bytes(), "operator")
    assert doc.statement == signing.statement_for("decision", view.events)
    assert doc.statement["decision"]["hash"] == next(
        e.hash for e in view.events if e.type == "decision_recorded")


def test_verify_without_allowed_signers_checks_keys_only_and_says_so(signed: Path) -> None:
    done = cockpit("verify", str(signed))
    assert done.returncode == 0, done.stderr
    assert "identities not checked against an allowed_signers file" in done.stdout


def test_a_signer_missing_from_allowed_signers_fails_verify(signed: Path, keys: Keys,
                                                             tmp_path: Path) -> None:
    only_alice = tmp_path / "allowed_signers"
    only_alice.write_text(allowed_line("alice@example.com", keys.operator))
    done = cockpit("verify", str(signed), "--allowed-signers", str(only_alice))
    assert done.returncode == 1
    assert f"is not in {only_alice} for namespace cutover-cockpit" in done.stderr
    assert "decision-reviewer-1.json (reviewer, decision)" in done.stderr


def test_one_identity_for_both_keys_is_not_four_eyes(signed: Path, keys: Keys,
                                                     tmp_path: Path) -> None:
    """The allowed_signers file says both keys are alice's: the countersignature was made
    by the operator's own identity, however it was attached."""
    same = tmp_path / "allowed_signers"
    same.write_text(allowed_line("alice@example.com", keys.operator)
                    + allowed_line("alice@example.com", keys.reviewer))
    done = cockpit("verify", str(signed), "--allowed-signers", str(same))
    assert done.returncode == 1
    assert "not four eyes: identity alice@example.com is the operator's" in done.stderr


def _flip(path: Path, at: int | None = None) -> None:
    """One byte changed (an empty file gets one)."""
    data = bytearray(path.read_bytes())
    if not data:
        path.write_bytes(b"x")
        return
    where = len(data) // 2 if at is None else at
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_one_byte_change_to_any_file_fails_verify_naming_it(signed: Path, keys: Keys,
                                                              tmp_path: Path) -> None:
    names = [p.as_posix() for p in session_files(signed)]
    assert len(names) > 25 and "evidence/signatures/decision-reviewer-1.json" in names
    assert verify_session(signed, allowed_signers=keys.allowed).problems == []
    for name in names:
        copy = tmp_path / name.replace("/", "_")
        shutil.copytree(signed, copy)
        _flip(copy / name)
        problems = verify_session(copy, allowed_signers=keys.allowed).problems
        assert problems, f"a changed byte in {name} went unnoticed"
        assert any(str(copy / name) in p for p in problems), (name, problems)
        shutil.rmtree(copy)
    # the event log's last newline: a whole event left "torn" is an edit, not a crash
    copy = tmp_path / "newline"
    shutil.copytree(signed, copy)
    _flip(copy / "events.jsonl", at=(copy / "events.jsonl").stat().st_size - 1)
    problems = verify_session(copy).problems
    assert any("a whole event without the newline" in p for p in problems), problems


def _repack(pack: Path, out: Path, change: str | None) -> None:
    with tarfile.open(pack, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.split("/", 1)[1] == change:
                data = bytearray(data or b"\0")
                data[len(data) // 2] ^= 0x01
            member.size = len(data)
            dst.addfile(member, io.BytesIO(bytes(data)))


def test_the_pack_carries_the_signatures_and_a_changed_member_is_named(
        signed: Path, keys: Keys, tmp_path: Path) -> None:
    pack = tmp_path / "pack.tar.gz"
    assert cockpit("export", str(signed), "-o", str(pack)).returncode == 0
    done = cockpit("verify", str(pack), "--allowed-signers", str(keys.allowed))
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("signed: ") for line in done.stdout.splitlines()) == 3
    with tarfile.open(pack, "r:gz") as tar:
        members = [m.name.split("/", 1)[1] for m in tar.getmembers()]
    assert "evidence/signatures/decision-operator.json" in members
    for member in members:
        changed = tmp_path / "changed.tar.gz"
        _repack(pack, changed, member)
        result = verify_pack(changed, keys.allowed)
        assert result.problems, f"a changed byte in member {member} went unnoticed"
        assert any(member in p for p in result.problems), (member, result.problems)
    damaged = tmp_path / "damaged.tar.gz"
    shutil.copy(pack, damaged)
    _flip(damaged)
    done = cockpit("verify", str(damaged))
    assert done.returncode == 1 and "the archive itself is damaged" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_countersign_by_the_operators_own_key_is_refused_as_self_approval(
        signed: Path, keys: Keys, tmp_path: Path) -> None:
    before = tree_digest(signed)
    done = countersign(signed, keys.operator, tmp_path / "self.sig")
    assert done.returncode == 3
    assert "refused as self-approval: key SHA256:" in done.stderr
    assert "is the operator's own signing key" in done.stderr
    assert not (tmp_path / "self.sig").exists()
    # made by hand with the operator's key, the file is refused at attach, the one door in
    view = open_session(signed)
    statement = signing.statement_for("decision", view.events)
    assert statement is not None
    forged = signing.make_signature(signing.load_key(keys.operator, "mallory@example.com"),
                                    "reviewer", "decision", statement)
    (tmp_path / "forged.sig").write_bytes(forged.dumps())
    done = cockpit("attach-signature", str(signed), str(tmp_path / "forged.sig"))
    assert done.returncode == 3 and "refused as self-approval" in done.stderr
    # another key that says it is the operator's identity is the operator too
    twin = make_key(tmp_path, "twin", "alice@example.com")
    done = countersign(signed, twin, tmp_path / "twin.sig")
    assert done.returncode == 3
    assert "identity alice@example.com is the operator's" in done.stderr
    assert tree_digest(signed) == before


@pytest.mark.slow  # a regression sweep; the flow itself stays in the fast step
def test_a_countersignature_of_another_session_or_a_changed_one_is_refused(
        signed: Path, keys: Keys, tmp_path: Path) -> None:
    runbook = four_eyes_world(tmp_path)
    other = tmp_path / "other"
    ran = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(other),
                  "--sign-key", str(keys.operator))
    assert ran.returncode == 3
    assert countersign(other, keys.reviewer, tmp_path / "t.sig", "--transcript").returncode == 0
    before = tree_digest(signed)
    done = cockpit("attach-signature", str(signed), str(tmp_path / "t.sig"))
    assert done.returncode == 3 and "countersigns another statement (session other)" in done.stderr
    # the statement, the identity, the role or the kind edited after signing: it no longer
    # checks against its signature, and is refused
    doc = signing.read_signature((tmp_path / "t.sig").read_bytes(), "t.sig")
    for edit in ({"statement": {**doc.statement, "title": "Something else"}},
                 {"identity": "erin@example.com"}, {"kind": "decision"}):
        edited = doc.model_copy(update=edit)
        with pytest.raises(signing.SigningError, match="does not check"):
            signing.signer_of(edited.signature, signing.file_signed_bytes(edited))
    (tmp_path / "erin.sig").write_bytes(doc.model_copy(
        update={"identity": "erin@example.com"}).dumps())
    done = cockpit("attach-signature", str(other), str(tmp_path / "erin.sig"))
    assert done.returncode == 3 and "does not check against its statement" in done.stderr
    (tmp_path / "junk.sig").write_text("{not json")
    done = cockpit("attach-signature", str(signed), str(tmp_path / "junk.sig"))
    assert done.returncode == 1 and "not a cockpit signature file" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree_digest(signed) == before


def test_a_locked_key_without_an_agent_is_refused_before_anything_is_made(
        keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runbook = four_eyes_world(tmp_path)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(tmp_path / "s"), "--sign-key", str(keys.locked),
                   env={"SSH_AUTH_SOCK": ""})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "signing failed" in done.stderr and "ssh-agent" in done.stderr
    assert not (tmp_path / "s").exists()
    done = cockpit("run", str(runbook), "--headless", "--session", str(tmp_path / "s"),
                   "--sign-key", str(tmp_path / "no-such-key"))
    assert done.returncode == 1 and "no such key file" in done.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.slow  # a regression sweep; the flow itself stays in the fast step
def test_a_key_held_by_the_agent_signs_from_its_public_half(keys: Keys, tmp_path: Path) -> None:
    """The passphrase lives in ssh-agent only: the cockpit names the .pub file."""
    import os

    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")],
                           capture_output=True, text=True, check=True)
    pid = next(part.split("=")[1].split(";")[0] for part in agent.stdout.split()
               if part.startswith("SSH_AGENT_PID="))
    try:
        askpass = tmp_path / "askpass.sh"
        askpass.write_text("#!/bin/sh\necho carol-secret\n")
        askpass.chmod(0o700)
        env = {**os.environ, "SSH_AUTH_SOCK": str(tmp_path / "agent.sock"),
               "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
        subprocess.run(["ssh-add", str(keys.locked)], env=env, check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)
        runbook = four_eyes_world(tmp_path, countersignatures=0)
        done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                       str(tmp_path / "s"), "--sign-key", str(keys.locked) + ".pub",
                       env={"SSH_AUTH_SOCK": str(tmp_path / "agent.sock")})
        assert done.returncode == 3, done.stderr  # NO-GO: its transcript gate waits
        assert countersign(tmp_path / "s", keys.reviewer, tmp_path / "t.sig",
                           "--transcript").returncode == 0
        assert cockpit("attach-signature", str(tmp_path / "s"),
                       str(tmp_path / "t.sig")).returncode == 0
        done = cockpit("resume", str(tmp_path / "s"), "--headless", "--assume-yes",
                       "--sign-key", str(keys.locked) + ".pub",
                       env={"SSH_AUTH_SOCK": str(tmp_path / "agent.sock")})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Signed (operator, decision): carol@example.com" in done.stdout
        checked = cockpit("verify", str(tmp_path / "s"), "--allowed-signers", str(keys.allowed))
        assert checked.returncode == 0, checked.stderr
        assert "operator carol@example.com" in checked.stdout
        assert "AWAITING" not in done.stdout  # this runbook asks for no decision countersign
        for path in (tmp_path / "s").rglob("*"):  # the passphrase is nowhere in the session
            assert not path.is_file() or b"carol-secret" not in path.read_bytes()
    finally:
        subprocess.run(["kill", pid], check=False)


def test_without_a_key_the_decision_is_recorded_unsigned_and_says_so(tmp_path: Path) -> None:
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])  # asks for no four eyes
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={})
    ctl.halt("the window was withdrawn")
    ctl.seal_evidence()
    status = next(f.id for f in ctl.runbook.decision.items if getattr(f, "role", "") == "status")
    ctl.record_decision({status: "BLOCKER"}, note="withdrawn by the board")
    with pytest.raises(ActionRefused, match="an operator's signature is made by the cockpit"):
        ctl.attach_signature(b'{"format": "cutover-cockpit-signature/1", "role": "operator", '
                             b'"kind": "decision", "statement": {}, "identity": "", '
                             b'"fingerprint": "", "signed_at": "", "signature": ""}', "op.sig")
    ctl.close()
    assert "Unsigned: no signing key was given (--sign-key)" in (
        tmp_path / "s" / "evidence" / "decision.md").read_text()
    done = cockpit("verify", str(tmp_path / "s"))
    assert done.returncode == 0 and "the decision is unsigned" in done.stdout
    assert "Decision unsigned by the operator" in cockpit("report", str(tmp_path / "s")).stdout


def test_a_crash_between_the_decision_and_its_closing_is_finished_by_resume(
        keys: Keys, tmp_path: Path) -> None:
    """Killed after the decision event, before the operator's signature and the filled
    checklist: the session is decided but not closed; resume signs and writes them."""
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session),
                   "--sign-key", str(keys.operator))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (session / "events.jsonl").read_bytes().splitlines(keepends=True)
    decided = next(i for i, line in enumerate(lines) if b'"decision_recorded"' in line)
    assert [b'"signature_attached"' in line or b'"checklist_written"' in line
            for line in lines[decided + 1:]] == [True, True]
    (session / "events.jsonl").write_bytes(b"".join(lines[:decided + 1]))
    shutil.rmtree(session / "evidence" / "signatures")
    (session / "evidence" / "checklist.md").unlink()
    (session / "session.json").unlink()  # written after the events it folds: gone with them
    view = open_session(session)
    assert view.state.ended and not view.state.closed
    keyless = cockpit("resume", str(session), "--headless")  # it would close unsigned
    assert keyless.returncode == 1 and "resume with --sign-key KEY" in keyless.stderr
    again = cockpit("resume", str(session), "--headless", "--sign-key", str(keys.operator))
    assert again.returncode == 0, again.stdout + again.stderr
    state = open_session(session).state
    assert state.closed and rules.operator_signed(state)
    assert (session / "evidence" / "checklist.md").read_text().count("Signed (operator") == 1
    assert cockpit("verify", str(session), "--allowed-signers", str(keys.allowed)
                   ).returncode == 0
    assert cockpit("mirror", str(session), "--plain", "--from-start").returncode == 0


def test_four_eyes_are_two_known_people(keys: Keys, tmp_path: Path) -> None:
    """A runbook asking for countersignatures refuses an operator without a key (nothing
    made); one reviewer with two keys, or a second key under the same name, counts once;
    a transcript countersignature after GO is refused."""
    runbook = four_eyes_world(tmp_path, countersignatures=2)
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(tmp_path / "s"))
    assert done.returncode == 1 and "give --sign-key KEY" in done.stderr
    assert not (tmp_path / "s").exists()
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), "--sign-key", str(keys.operator)).returncode == 3
    assert countersign(session, keys.reviewer, tmp_path / "t.sig", "--transcript"
                       ).returncode == 0
    assert cockpit("attach-signature", str(session), str(tmp_path / "t.sig")).returncode == 0
    assert cockpit("resume", str(session), "--headless", "--assume-yes", "--sign-key",
                   str(keys.operator)).returncode == 0
    late = countersign(session, keys.locked, tmp_path / "late.sig", "--transcript")
    assert late.returncode == 3 and "past it (steps have run)" in late.stderr
    assert countersign(session, keys.reviewer, tmp_path / "d1.sig").returncode == 0
    assert cockpit("attach-signature", str(session), str(tmp_path / "d1.sig")).returncode == 0
    bobs_second_key = make_key(tmp_path, "bob2", "bob@example.com")
    again = countersign(session, bobs_second_key, tmp_path / "d2.sig")
    assert again.returncode == 3 and "bob@example.com has already countersigned" in again.stderr
    view = open_session(session)
    assert rules.awaiting_countersign(view.runbook, view.state) == (1, 2)


def test_verify_reads_what_each_signature_file_says_not_only_its_event(
        signed: Path, keys: Keys, tmp_path: Path) -> None:
    """Whoever can write the folder can append an event: one that relabels the reviewer's
    transcript countersignature as a countersignature of the decision is caught; so is a
    file put in the decided session with no event."""
    from cockpit.session.events import Actor
    from cockpit.session.store import SessionStore

    copy = tmp_path / "s"
    shutil.copytree(signed, copy)
    transcript = open_session(copy).state.signatures[0]
    assert (transcript.role, transcript.kind) == ("reviewer", "transcript")
    SessionStore(copy).append(Actor(name="mallory", host="x"), "signature_attached", {
        **transcript.model_dump(exclude={"at", "by"}), "kind": "decision"})
    problems = verify_session(copy, allowed_signers=keys.allowed).problems
    assert any("transcript-reviewer-1.json (reviewer, decision): the file says reviewer "
               "bob@example.com" in p for p in problems), problems
    added = tmp_path / "added"
    shutil.copytree(signed, added)
    (added / "evidence" / "approval.txt").write_text("approved by everyone\n")
    problems = verify_session(added).problems
    assert problems == [f"{added / 'evidence/approval.txt'}: added after the decision (no "
                        "event records it)"]


@pytest.mark.slow  # a regression sweep; the flow itself stays in the fast step
def test_the_closing_survives_each_way_it_can_be_cut_short(keys: Keys, tmp_path: Path) -> None:
    """Killed after the operator's signature but before the checklist: a plain resume closes
    it. A signature file left by a crash before its event is replaced, not a dead end.
    `--no-sign` is refused where the runbook asks for four eyes."""
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), "--sign-key", str(keys.operator)).returncode == 0
    lines = (session / "events.jsonl").read_bytes().splitlines(keepends=True)
    (session / "events.jsonl").write_bytes(b"".join(lines[:-1]))  # no checklist_written
    (session / "evidence" / "checklist.md").unlink()
    (session / "session.json").unlink()
    assert not open_session(session).state.closed
    done = cockpit("resume", str(session), "--headless")  # signed already: no key needed
    assert done.returncode == 0, done.stdout + done.stderr
    assert open_session(session).state.closed
    assert cockpit("verify", str(session)).returncode == 0

    # the signature written, its event not: resume with the key writes it again, with one
    lines = (session / "events.jsonl").read_bytes().splitlines(keepends=True)
    decided = next(i for i, line in enumerate(lines) if b'"decision_recorded"' in line)
    (session / "events.jsonl").write_bytes(b"".join(lines[:decided + 1]))
    (session / "evidence" / "checklist.md").unlink()
    (session / "session.json").unlink()
    assert (session / "evidence/signatures/decision-operator.json").exists()
    done = cockpit("resume", str(session), "--headless", "--sign-key", str(keys.operator))
    assert done.returncode == 0, done.stdout + done.stderr
    assert cockpit("verify", str(session), "--allowed-signers", str(keys.allowed)
                   ).returncode == 0

    (tmp_path / "four").mkdir()
    four = four_eyes_world(tmp_path / "four")
    started = cockpit("run", str(four), "--headless", "--assume-yes", "--session",
                      str(tmp_path / "f"), "--sign-key", str(keys.operator))
    assert started.returncode == 3
    refused = cockpit("resume", str(tmp_path / "f"), "--headless", "--no-sign")
    assert refused.returncode == 1 and "--no-sign is refused" in refused.stderr


def test_no_countersignature_without_the_operators_key(keys: Keys, tmp_path: Path) -> None:
    """With no key declared, a countersignature cannot be told from the operator's own."""
    runbook = write_world(tmp_path, [phase("P0", ORDINARY[:1])])
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session)).returncode == 0
    done = countersign(session, keys.reviewer, tmp_path / "d.sig")
    assert done.returncode == 3 and "declared no signing key" in done.stderr
    inside = cockpit("report", str(session), "--html", "-o", str(session / "r.html"))
    assert inside.returncode == 1 and "inside the session folder" in inside.stderr
    assert cockpit("verify", str(session)).returncode == 0


@pytest.mark.slow  # a regression sweep; the flow itself stays in the fast step
def test_a_torn_tail_is_set_aside_by_an_attach_and_the_session_still_verifies(
        signed: Path, keys: Keys, tmp_path: Path) -> None:
    session = tmp_path / "s"
    shutil.copytree(signed, session)
    view = open_session(session)
    # a second reviewer, and an append the machine died in the middle of
    carol = make_key(tmp_path, "dave", "dave@example.com")
    assert countersign(session, carol, tmp_path / "dave.sig").returncode == 0
    with open(session / "events.jsonl", "ab") as log:
        log.write(b'{"actor": {"host": "vm", "na')
    assert any("bytes after its last event" in p for p in verify_session(session).problems)
    done = cockpit("attach-signature", str(session), str(tmp_path / "dave.sig"))
    assert done.returncode == 0, done.stderr
    after = open_session(session)
    assert after.state.seq == view.state.seq + 2  # the tail set aside, then the signature
    assert verify_session(session).problems == []


@pytest.mark.slow  # a regression sweep; the flow itself stays in the fast step
def test_verify_counts_the_governance_gate_per_person_under_allowed_signers(
        keys: Keys, tmp_path: Path) -> None:
    """Bob with two keys under two claimed names passes a two-reviewer gate; the team's
    allowed_signers file knows both keys as bob: verify says the gate had one person."""
    runbook = four_eyes_world(tmp_path, countersignatures=0)
    runbook.write_text(runbook.read_text().replace(
        'probe = "review.countersigned" }', 'probe = "review.countersigned", args = { count = 2 } }'))
    session = tmp_path / "s"
    assert cockpit("run", str(runbook), "--headless", "--assume-yes", "--session",
                   str(session), "--sign-key", str(keys.operator)).returncode == 3
    robert = make_key(tmp_path, "robert", "robert@example.com")
    for key, name in ((keys.reviewer, "b.sig"), (robert, "r.sig")):
        assert countersign(session, key, tmp_path / name, "--transcript").returncode == 0
        assert cockpit("attach-signature", str(session), str(tmp_path / name)).returncode == 0
    assert cockpit("resume", str(session), "--headless", "--assume-yes", "--sign-key",
                   str(keys.operator)).returncode == 0
    both_bob = tmp_path / "allowed_signers"
    both_bob.write_text(allowed_line("alice@example.com", keys.operator)
                        + allowed_line("bob@example.com", keys.reviewer)
                        + allowed_line("bob@example.com", robert))
    done = cockpit("verify", str(session), "--allowed-signers", str(both_bob))
    assert done.returncode == 1
    assert "the governance gate passed on 2 countersignature(s) of the transcript; 1 " \
           "reviewer(s) count" in done.stderr
    assert "transcript-reviewer-2.json (reviewer, transcript): the same reviewer again; " \
           "counted once" in done.stdout
    pack = tmp_path / "pack.tar.gz"
    assert cockpit("export", str(session), "-o", str(pack)).returncode == 0
    stripped = tmp_path / "stripped.tar.gz"
    with tarfile.open(pack, "r:gz") as src, tarfile.open(stripped, "w:gz") as dst:
        for member in src.getmembers():
            if not member.name.endswith("/pack.json"):
                dst.addfile(member, src.extractfile(member))
    assert any("pack.json is missing" in p for p in verify_pack(stripped).problems)


def test_a_blocker_decided_while_the_halted_step_is_still_stopping_verifies(
        tmp_path: Path) -> None:
    """Halt, then BLOCKER at once: the step's run is still going at the decision, its files
    still being written; they are not pinned, and its ending after the decision is its own."""
    # a step that shrugs off SIGINT and SIGTERM: it goes on until SIGKILL, after the decision
    runbook = write_world(tmp_path, [phase("P0", [("long", "trap '' TERM INT; for i in 1 2 3 4 "
                                                           "5 6; do echo tick $i; sleep 0.5; "
                                                           "done")])])
    ctl = Controller.start(runbook, folder=tmp_path / "s", env={})
    ctl.attest_gate("signoff", "GOV-1")
    assert ctl.evaluate_gates() == []
    ctl.run_step("long")
    log = tmp_path / "s" / "steps" / "long.1.log"
    wait_until(lambda: log.exists() and "tick 2" in log.read_text(), "the step under way")
    ctl.halt("stopped by the operator")
    assert ctl.state.running_step() == "long"
    ctl.seal_evidence()
    status = next(f.id for f in ctl.runbook.decision.items if getattr(f, "role", "") == "status")
    ctl.record_decision({status: "BLOCKER"}, note="withdrawn")

    def ended() -> bool:
        ctl.poll()
        return ctl.state.steps["long"].status != "running"

    within(ended, deadline_s=15, every_s=0.1)
    ctl.close()
    events = open_session(tmp_path / "s").events
    order = [e.type for e in events]
    assert order.index("decision_recorded") < order.index("step_finished")  # as intended
    assert verify_session(tmp_path / "s").problems == []
