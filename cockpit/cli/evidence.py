"""The evidence commands over a finished (or running) session: verify, countersign,
attach-signature, export, report and compare. Each a function of keyword arguments
returning its exit code."""

from __future__ import annotations

from pathlib import Path

from cockpit.cli.console import err, out


def verify(*, folder: str | Path, allowed_signers: str | Path | None = None) -> int:
    """Check a session's (or an exported pack's) event chain and every evidence hash."""
    from cockpit.evidence.verify import verify_session

    target = Path(folder)
    allowed = Path(allowed_signers) if allowed_signers else None
    if allowed is not None and not allowed.is_file():
        from cockpit.errors import CockpitError

        raise CockpitError(f"{allowed}: no such allowed_signers file (lines of `IDENTITY "
                           "namespaces=\"cutover-cockpit\" KEY`; see docs/four-eyes.md)")
    from cockpit.fleet.pack import is_fleet_pack

    if is_fleet(target) or (target.is_file() and is_fleet_pack(target)):
        return _verify_fleet(target)
    if target.is_file():  # an exported pack
        from cockpit.evidence.pack import verify_pack

        result = verify_pack(target, allowed)
    else:
        result = verify_session(target, allowed_signers=allowed)
    for note in result.notes:
        print(f"note: {note}")
    for line in result.signed:
        print(f"signed: {line}")
    return _verdict(result.problems, result.summary, str(folder))


def _verdict(problems: list[str], summary: str, where: str) -> int:
    """Each mismatch on stderr and exit 1, or the summary and exit 0."""
    for problem in problems:
        err(f"MISMATCH: {problem}")
    if problems:
        err(f"verify: {len(problems)} problem(s) in {where}")
        return 1
    print(f"verify: ok — {summary}")
    return 0


def countersign(*, folder: str | Path, key: str | Path, output: str | None = None,
                force: bool = False, transcript: bool = False, hold: bool = False,
                confirm: str | None = None, identity: str | None = None) -> int:
    """As a reviewer with read access only: verify, show what is signed, and sign it."""
    from cockpit.evidence.countersign import countersign as signed

    if is_fleet(Path(folder)):  # its GO or next wave, as the ledger states it
        from cockpit.fleet.countersign import countersign_fleet

        if transcript or hold:
            from cockpit.errors import CockpitError

            raise CockpitError(f"{folder}: a fleet; its approvals are countersigned (no "
                               "--transcript or --hold)")
        return countersign_fleet(Path(folder), Path(key), output=output, confirm=confirm,
                                 identity=identity, force=force, say=err, out=out)
    if transcript and hold:
        from cockpit.errors import CockpitError

        raise CockpitError("--transcript and --hold: one statement at a time")
    return signed(Path(folder), Path(key),
                  kind="transcript" if transcript else "hold" if hold else "decision",
                  output=output, confirm=confirm, identity=identity, force=force,
                  say=err, out=out)


def attach_signature(*, folder: str | Path, file: str, operator: str | None = None) -> int:
    """Add a reviewer's countersignature file to the session (no cockpit holding it)."""
    from cockpit.engine.controller import Controller
    from cockpit.engine.signatures import check_attachment, read_signature_file
    from cockpit.session import rules
    from cockpit.session.lock import SessionLocked
    from cockpit.session.reader import open_session

    raw = read_signature_file(Path(file))
    if is_fleet(Path(folder)):
        from cockpit.fleet.opening import attach_fleet_signature

        said = attach_fleet_signature(Path(folder), raw, file, operator)
        print(said)
        return 0
    view = open_session(Path(folder))  # refused now, read-only, before the lock
    check_attachment(view.state, view.events, raw, file, Path(folder))
    try:
        ctl = Controller.for_signatures(Path(folder), operator)
    except SessionLocked as exc:
        raise SessionLocked(f"{exc.message}; in that cockpit, k attaches the file") from None
    try:
        record = ctl.attach_signature(raw, file)
        waiting = rules.awaiting_countersign(ctl.runbook, ctl.state)
    finally:
        ctl.close()
    print(f"attached {record.file}: {record.identity} ({record.fingerprint}) countersigned "
          f"the {record.kind}")
    if waiting is not None:
        print(f"AWAITING COUNTERSIGN: {waiting[0]} of {waiting[1]} countersignature(s)")
    return 0


def is_fleet(folder: Path) -> bool:
    """A fleet's folder (its ledger inside), not a session's."""
    from cockpit.fleet.folder import ledger_folder
    from cockpit.session.layout import EVENTS

    return (ledger_folder(folder) / EVENTS).is_file()


def _verify_fleet(target: Path) -> int:
    """A fleet's folder or pack: its ledger, its pins, and every target against it."""
    from cockpit.fleet.pack import verify_fleet_pack
    from cockpit.fleet.verify import verify_fleet

    result = verify_fleet(target) if target.is_dir() else verify_fleet_pack(target)
    for line in result.lines:
        print(line)
    return _verdict(result.problems, result.summary, f"the fleet {target}")


def export(*, folder: str | Path, output: str | Path, force: bool = False) -> int:
    """Write the session's (or a fleet's) evidence pack as one .tar.gz (the same bytes
    every time)."""
    from cockpit.evidence.pack import export_pack
    from cockpit.fleet.pack import export_fleet

    exporting = export_fleet if is_fleet(Path(folder)) else export_pack
    files, size = exporting(Path(folder), Path(output), force=force)
    err(f"wrote {output}: {files} files, {size:,} bytes; `cockpit verify {output}` checks it")
    return 0


def report(*, folder: str | Path, html: bool = False, output: str | Path | None = None,
           force: bool = False) -> int:
    """The filled one-page checklist and the decision record; `html`: one page with the
    timeline too."""
    from cockpit.evidence.report import render_report
    from cockpit.session.reader import open_session

    view = open_session(Path(folder))
    if not html:
        out(render_report(view.runbook, view.state, folder=view.folder))
        return 0
    from cockpit.errors import CockpitError
    from cockpit.evidence.htmlreport import html_report
    from cockpit.session.modes import file_mode
    from cockpit.session.safefs import check_output, write_output_bytes

    target = Path(output) if output else None
    if target is not None:
        check_output(target, force)
        if target.resolve().is_relative_to(Path(folder).resolve()):
            raise CockpitError(f"{target}: inside the session folder, which only the "
                               "operator's cockpit writes; write the page elsewhere")
    page = html_report(view)
    if target is None:
        out(page)
        return 0
    # the session's evidence in one page: no more readable than the session
    write_output_bytes(target, page.encode("utf-8"), force=force, mode=file_mode(Path(folder)))
    err(f"wrote {target}: the timeline and the filled checklist, one self-contained page")
    return 0


def compare(*, a: str | Path, b: str | Path) -> int:
    """Two sessions side by side (a rehearsal and its cutover)."""
    from cockpit.evidence.compare import compare as compared
    from cockpit.evidence.compare import render_comparison

    first, second, rows = compared(Path(a), Path(b))
    out(render_comparison(first, second, rows))
    return 0
