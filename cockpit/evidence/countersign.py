"""`cockpit countersign`: a reviewer's signature, made with read access only. The session
is verified, what is signed is shown (the statement, and who signed as operator), the
reviewer types `countersign`, and the signature goes to a file of theirs — never into the
session, which the operator's cockpit alone writes (`attach-signature`, or k)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.evidence import signing
from cockpit.evidence.verify import verify_session
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.reader import open_session
from cockpit.session.safefs import check_output, write_output_bytes

WORD = "countersign"


class Refused(CockpitError):
    exit_code = EXIT_REFUSED


def countersign(folder: Path, key_path: Path, *, kind: signing.Kind, output: str | None,
                confirm: str | None, identity: str | None, force: bool,
                say: Callable[[str], None], out: Callable[[str], None]) -> int:
    view = open_session(folder)  # read-only; a clear error for a folder that is none
    target = output_target(output, folder, force, "session")
    checked = verify_session(folder)
    if checked.problems:
        raise CockpitError(f"{folder}: does not verify, nothing signed:\n  "
                           + "\n  ".join(checked.problems))
    statement = signing.statement_for(kind, view.events)
    subject = signing.hold_subject(statement) if kind == "hold" and statement else None
    if kind == "hold" and (statement is None or subject not in {
            rules.hold_subject(view.state, sid) for sid in view.state.steps}):
        raise CockpitError(f"{folder}: no step is held now; a hold is countersigned while "
                           "its step stands at it")
    if statement is None:
        raise CockpitError(f"{folder}: no decision is recorded yet; to countersign the "
                           "runbook transcript before GO, add --transcript")
    key = signing.load_key(key_path, identity, interactive=True)
    reviewer = rules.Signer(key.fingerprint, frozenset({key.identity} - {""}))
    if (refused := rules.countersign_refusal(view.state, kind, reviewer, subject)) is not None:
        raise Refused(f"{folder}: {refused}; nothing signed")
    say(f"Countersigning the {kind} of {folder} ({checked.summary}):")
    for line in signing.describe(statement):
        say(f"  {line}")
    if kind == "decision" and view.state.decision is not None \
            and view.state.decision.markdown:  # the record itself, its sha256 shown above
        record = (folder / view.state.decision.markdown).read_text(encoding="utf-8")
        for line in record.splitlines():
            say(f"  | {inert(line)}")  # a record written before inert.py may quote output
    for sig in view.state.signatures:
        if sig.kind == kind:
            say(f"  {sig.role + ':':<12} {sig.identity} ({sig.fingerprint}), signed at {sig.at}")
    if kind == "decision" and not rules.operator_signed(view.state):
        say("  operator:    UNSIGNED (no --sign-key at the decision)")
    say(f"  you:         {key.identity or '(no identity: give --identity)'} ({key.fingerprint})")
    confirmed(confirm)
    signed = signing.make_signature(key, "reviewer", kind, statement, interactive=True)
    hand_over(signed.dumps(), target, folder, force, say, out)
    return 0


def output_target(output: str | None, folder: Path, force: bool, what: str) -> Path | None:
    """Where the signature goes (None: stdout), refused now if it cannot be written there or
    lies inside the `what` (session, fleet) folder, which only the operator's cockpit
    writes."""
    target = Path(output) if output else None
    if target is None:
        return None
    if (target.is_dir() and not target.is_symlink()) or not target.parent.is_dir():
        raise CockpitError(f"{target}: not a file in an existing folder; name the file to "
                           "write (its folder must exist)")
    check_output(target, force)
    if target.resolve().is_relative_to(folder.resolve()):
        raise CockpitError(f"{target}: inside the {what} folder, which only the operator's "
                           "cockpit writes; write it elsewhere and give it to the operator to "
                           "attach")
    return target


def confirmed(confirm: str | None) -> None:
    """The reviewer typed the word (given, or asked on their terminal); else nothing signs."""
    typed = confirm if confirm is not None else ask_word()
    if typed.strip() != WORD:
        raise CockpitError(f"not confirmed (typed {typed.strip()!r}, not {WORD!r}); nothing "
                           "signed")


def hand_over(data: bytes, target: Path | None, folder: Path, force: bool,
              say: Callable[[str], None], out: Callable[[str], None]) -> None:
    """The signature to its file (and how the operator attaches it), or to stdout."""
    if target is None:
        out(data.decode())
        return
    write_output_bytes(target, data, force=force)
    say(f"wrote {target}; the operator attaches it: cockpit attach-signature {folder} "
        f"{target} (or k in the cockpit)")


def ask_word() -> str:
    """The word, typed at the reviewer's own terminal (stdout may be the signature file)."""
    try:
        with open("/dev/tty", "r+", encoding="utf-8") as tty:
            tty.write(f"Type '{WORD}' to sign: ")
            tty.flush()
            return tty.readline()
    except OSError:
        if sys.stdin.isatty():
            return input(f"Type '{WORD}' to sign: ")
        raise CockpitError(f"no terminal to ask on; give --confirm {WORD}") from None
