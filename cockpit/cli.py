"""The `cockpit` command line: parses, then calls into the parts. Thin on purpose.

Heavy imports (pydantic, textual, sqlalchemy) happen inside the commands that need them, so
`cockpit --help` answers at once. Errors a user can cause are printed as one message, with
the exit code docs/commands.md gives them; a traceback only with `--debug`.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def _out(text: str) -> None:
    """Exact bytes on stdout, whatever the terminal's encoding (transcripts are UTF-8)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> int:
    from cockpit.runbook.loader import load_runbook
    from cockpit.runbook.render import render_markdown

    _out(render_markdown(load_runbook(args.runbook)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from cockpit.errors import Problem, RunbookError
    from cockpit.runbook.identity import runbook_identity
    from cockpit.runbook.loader import load_runbook
    from cockpit.runbook.platform import foreign_paths
    from cockpit.runbook.targets import target_problems
    from cockpit.runbook.validate import advisories, walk_items

    runbook = load_runbook(args.runbook)
    wrong, unread = target_problems(runbook, Path(args.runbook))
    if wrong:
        raise RunbookError([Problem(str(args.runbook), place, why) for place, why in wrong])
    identity = runbook_identity(args.runbook)
    steps = sum(1 for _ in walk_items(runbook))
    print(f"ok: {args.runbook}: '{runbook.id}', {len(runbook.phases)} phases, {steps} items"
          f"{', production' if runbook.production else ''}")
    print(f"runbook sha256:    {identity.runbook_sha256}")
    print(f"transcript sha256: {identity.transcript_sha256}")
    for place, message in [*advisories(runbook), *foreign_paths(runbook), *unread]:
        _err(f"note: {Problem(str(args.runbook), place, message)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from cockpit.errors import CockpitError
    from cockpit.runbook.importer import import_checklist
    from cockpit.session.safefs import check_output, write_output_bytes

    source = Path(args.checklist)
    try:
        text = source.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CockpitError(f"{source}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CockpitError(f"{source}: byte {exc.start}: not UTF-8 text") from None
    if args.output:
        check_output(Path(args.output), args.force)
    result = import_checklist(text, str(source), production=not args.rehearsal)
    for note in result.notes:
        _err(f"note: {note}")
    if args.output:
        write_output_bytes(Path(args.output), result.toml.encode("utf-8"), force=args.force)
        _err(f"wrote {args.output}; it renders back to {source} byte for byte")
    else:
        _out(result.toml)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from cockpit.runbook.reference import reference_markdown
    from cockpit.runbook.schema import json_schema
    from cockpit.session.safefs import write_output_bytes

    text = (reference_markdown() if args.markdown
            else json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    if args.output:  # replaced as it always was (no --force), never through a link
        write_output_bytes(Path(args.output), text.encode("utf-8"), force=True)
        _err(f"wrote {args.output}")
    else:
        _out(text)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    import os

    from cockpit.probes.alembic_project import project_facts
    from cockpit.runbook.loader import parse_runbook
    from cockpit.runbook.starter import build_starter
    from cockpit.session.safefs import check_output, write_output_bytes

    output = Path(args.output) if args.output else None
    if output is not None:
        check_output(output, args.force)
    runbook_dir = output.parent if output is not None else Path.cwd()
    facts, notes = project_facts(Path(args.project), runbook_dir, args.dsn_env, os.environ)
    starter = build_starter(facts)
    parse_runbook(starter.toml, str(output or "<init>"))  # what it writes always validates
    for note in [*notes, *starter.notes]:
        _err(f"note: {note}")
    if output is None:
        _out(starter.toml)
        return 0
    write_output_bytes(output, starter.toml.encode("utf-8"), force=args.force)
    _err(f"wrote {output}: {len(starter.runbook.phases)} phases, production; it validates. "
         f"Next: cockpit render {output} (the checklist to approve), then rehearse it: "
         f"cockpit run {output} --environment clone")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.demo.session import list_faults, run_demo
    from cockpit.engine import hangup

    if args.list_faults:
        return list_faults()
    if args.worlds or args.stop:
        from cockpit.demo.worlds import list_worlds, stop_world

        return (list_worlds(print) if args.worlds
                else stop_world(Path(args.stop), args.force, print))
    if args.session:
        from cockpit.session.place import check_new_session_folder

        check_new_session_folder(Path(args.session))  # before a world is built
    from cockpit.demo.watchdog import idle_setting

    idle_setting(args.idle_stop)  # a bad idle time refused before anything is made
    hangup.install()
    return run_demo(args.fault, Path(args.session) if args.session else None,
                    Path(args.workspace) if args.workspace else None, args.answers,
                    args.operator, headless=args.headless, rehearsal=_rehearsal(args),
                    signer=_signer(args), idle_stop=args.idle_stop)


def cmd_preview(args: argparse.Namespace) -> int:
    from cockpit.runbook.loader import load_runbook
    from cockpit.tui.preview import RunbookPreviewApp

    RunbookPreviewApp(load_runbook(args.runbook), str(args.runbook)).run()
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; docs/commands.md gives 2 to BLOCKER/halted, usage is 1."""

    def error(self, message: str) -> typing.NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _plan(runbook_path: Path, args: argparse.Namespace, state=None):
    """A headless run's answers, checked before anything is made (None for the screen)."""
    from cockpit.engine.headless import plan
    from cockpit.runbook.loader import load_runbook

    if not args.headless:
        return None
    return plan(load_runbook(runbook_path), args.answers, args.assume_yes, state)


def _headless(ctl, answers, assume_yes: bool, answers_path: Path | None = None) -> int:
    from cockpit.engine import hangup
    from cockpit.engine.headless import Headless
    from cockpit.session.lock import release_if_mine

    hangup.add_cleanup(lambda: release_if_mine(ctl.folder))
    try:
        hangup.check()
        print(f"session: {ctl.folder}", flush=True)
        return Headless(ctl, answers, assume_yes, print, answers_path).drive()
    finally:
        ctl.close()


def _environment(runbook_path: Path, environment: str | None = None
                 ) -> tuple[dict[str, str], list[str]]:
    """The steps' environment: DSN variables the environment lacks are built from their
    templates (as the runbook's `environment` has them) with a password asked once, masked;
    it lives in this process only."""
    import getpass
    import os
    import warnings

    from cockpit.engine.setup import dsns_needing_password, with_password
    from cockpit.errors import CockpitError
    from cockpit.runbook.environment import for_environment
    from cockpit.runbook.loader import load_runbook

    runbook = for_environment(load_runbook(runbook_path), environment)
    env = dict(os.environ)
    missing = dsns_needing_password(runbook, env)
    if not missing:
        return env, []
    names = ", ".join(i.name for i in missing)
    refused = CockpitError(f"{names} not set, and no terminal to ask for the database password "
                           "on; export them (password included) before running without a screen")
    if not sys.stdin.isatty():
        raise refused
    with warnings.catch_warnings():
        # No terminal to read it from unseen: getpass would warn, then read it from stdin in
        # plain sight (or meet its end). Neither: refuse as above.
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            password = getpass.getpass(f"Database password for {names} (not stored): ")
        except (getpass.GetPassWarning, EOFError):
            raise refused from None
    return with_password(runbook, env, password), [password]


def _screen(ctl) -> int:
    from cockpit.engine import hangup
    from cockpit.engine.controller import exit_code
    from cockpit.session.lock import release_if_mine
    from cockpit.tui.app import CockpitApp

    hangup.add_cleanup(lambda: release_if_mine(ctl.folder))
    try:
        hangup.run_screen(CockpitApp(ctl))
    finally:
        ctl.close()
        # The screen is gone: say where the session is, for report, mirror and resume.
        _err(f"session: {ctl.folder}")
    return exit_code(ctl.state)


def _signer(args: argparse.Namespace):
    """The operator's --sign-key, checked before anything is made: it must read, and sign
    without a prompt (the screen owns the terminal): a key with a passphrase is signed with
    by the agent that holds it."""
    if not getattr(args, "sign_key", None):
        return None
    from dataclasses import replace

    from cockpit.engine.controller import make_actor
    from cockpit.evidence.signing import load_key, sign

    key = load_key(Path(args.sign_key))
    sign(key, b"cutover-cockpit: can this key sign?\n")  # refused now, not at the decision
    return key if key.identity else replace(key, identity=make_actor(args.operator).name)


def _rehearsal(args: argparse.Namespace) -> Path | None:
    """The rehearsal named by --rehearsal, read once now: a folder that is no session is
    refused before anything is asked or made."""
    if not getattr(args, "rehearsal", None):
        return None
    from cockpit.evidence.rehearsal import link_to

    folder = Path(args.rehearsal)
    link_to(folder)
    return folder


def cmd_run(args: argparse.Namespace) -> int:
    from cockpit.engine import hangup
    from cockpit.engine.controller import Controller, checked_link, resolve_workdir
    from cockpit.engine.setup import refuse_foreign_paths, workdir_override
    from cockpit.runbook.environment import choose_environment, for_environment
    from cockpit.runbook.loader import load_runbook
    from cockpit.session.place import check_new_session_folder

    hangup.install()
    runbook = Path(args.runbook)
    # Before the password is asked or a folder made: what would be refused is refused now.
    if args.session:
        check_new_session_folder(Path(args.session))
    loaded = load_runbook(runbook)
    environment = choose_environment(loaded, args.environment, str(runbook))
    applied = for_environment(loaded, environment)
    workdir = Path(args.workdir) if args.workdir else None
    refuse_foreign_paths(applied, runbook, workdir_given=workdir is not None)
    workdir_override(applied, runbook, workdir, args.override_workdir)
    rehearsal = _rehearsal(args)
    if rehearsal is not None:  # a PASS of this runbook at this commit, or refused (exit 3)
        checked_link(loaded, resolve_workdir(applied, runbook, workdir), rehearsal)
    signer = _signer(args)
    answers = _plan(runbook, args)
    env, secrets = _environment(runbook, environment)
    ctl = Controller.start(runbook, folder=Path(args.session) if args.session else None,
                           operator=args.operator, env=env, secrets=secrets,
                           workdir=workdir, override_workdir=args.override_workdir,
                           rehearsal=rehearsal, signer=signer, environment=environment)
    if not args.headless:
        return _screen(ctl)
    return _headless(ctl, answers, args.assume_yes, args.answers)


def cmd_resume(args: argparse.Namespace) -> int:
    from cockpit.demo.place import world_of
    from cockpit.engine import hangup
    from cockpit.engine.controller import (
        Controller,
        check_resumable,
        check_signer,
        relinked,
        same_rehearsal,
    )
    from cockpit.session.layout import RUNBOOK_COPY
    from cockpit.session.lock import SessionLock, release_if_mine

    hangup.install()
    folder = Path(args.session)
    state, approved = check_resumable(folder)  # read-only: a refusal here touches nothing
    # another rehearsal while no phase step has run: linked anew (checked as at start)
    link = relinked(state, approved, Path(args.rehearsal)) if args.rehearsal else None
    moved = (same_rehearsal(state, Path(args.rehearsal))
             if args.rehearsal and link is None else None)
    signer = _signer(args)
    check_signer(folder, state, approved, signer, args.no_sign)
    workspace = world_of(Path(state.workdir))
    if workspace is not None and args.headless and not args.answers:
        from cockpit.resources import bundled_runbook

        args.answers = bundled_runbook("demo-answers.toml")
    answers = _plan(folder / RUNBOOK_COPY, args, state)
    # The lock first: until it is ours, nothing the session uses may change (the rehearsal
    # world's password above all, which a live cockpit's next step needs).
    lock = SessionLock.acquire(folder, take_over=args.take_over)
    hangup.add_cleanup(lambda: release_if_mine(folder))
    if workspace is None:
        try:
            env, secrets = _environment(folder / RUNBOOK_COPY, state.environment)
        except BaseException:
            lock.release()
            raise
        ctl = Controller.resume(folder, operator=args.operator, env=env, secrets=secrets,
                                lock=lock, rehearsal_moved=moved, signer=signer,
                                allow_unsigned=args.no_sign, rehearsal_linked=link)
        return (_screen(ctl) if not args.headless
                else _headless(ctl, answers, args.assume_yes, args.answers))
    from cockpit.demo.session import open_world_for_resume, stop_unless_step_runs

    try:
        world = open_world_for_resume(folder, workspace, print)
    except BaseException:
        lock.release()
        raise
    hangup.add_cleanup(lambda: stop_unless_step_runs(world, folder))
    try:
        try:
            hangup.check()
            ctl = Controller.resume(folder, operator=args.operator, env=world.env(),
                                    secrets=[world.password], lock=lock, rehearsal_moved=moved,
                                    signer=signer, allow_unsigned=args.no_sign,
                                    rehearsal_linked=link)
        except BaseException:
            lock.release()
            raise
        code = (_screen(ctl) if not args.headless
                else _headless(ctl, answers, args.assume_yes, args.answers))
    finally:
        if not _step_running(folder):
            world.stop()
        else:
            world.leave()  # the step needs it; the watchdog stops it once nothing does
    return code


def _step_running(folder: Path) -> bool:
    from cockpit.session.reader import session_at

    return session_at(folder).state.running_step() is not None


def cmd_status(args: argparse.Namespace) -> int:
    from cockpit.evidence.status import status_json, status_lines
    from cockpit.session.reader import session_at

    view = session_at(Path(args.session))
    if args.json:
        _out(status_json(view) + "\n")
    else:
        print("\n".join(status_lines(view)))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from cockpit.evidence.verify import verify_session

    target = Path(args.session)
    allowed = Path(args.allowed_signers) if args.allowed_signers else None
    if allowed is not None and not allowed.is_file():
        from cockpit.errors import CockpitError

        raise CockpitError(f"{allowed}: no such allowed_signers file (lines of `IDENTITY "
                           "namespaces=\"cutover-cockpit\" KEY`; see docs/four-eyes.md)")
    if target.is_file():  # an exported pack
        from cockpit.evidence.pack import verify_pack

        result = verify_pack(target, allowed)
    else:
        result = verify_session(target, allowed_signers=allowed)
    for problem in result.problems:
        _err(f"MISMATCH: {problem}")
    for note in result.notes:
        print(f"note: {note}")
    for line in result.signed:
        print(f"signed: {line}")
    if result.problems:
        _err(f"verify: {len(result.problems)} problem(s) in {args.session}")
        return 1
    print(f"verify: ok — {result.summary}")
    return 0


def cmd_countersign(args: argparse.Namespace) -> int:
    from cockpit.evidence.countersign import countersign

    return countersign(Path(args.session), Path(args.key), kind="transcript"
                       if args.transcript else "decision", output=args.output,
                       confirm=args.confirm, identity=args.identity, force=args.force,
                       say=_err, out=_out)


def cmd_attach_signature(args: argparse.Namespace) -> int:
    from cockpit.engine.controller import Controller
    from cockpit.engine.signatures import check_attachment, read_signature_file
    from cockpit.session import rules
    from cockpit.session.lock import SessionLocked
    from cockpit.session.reader import open_session

    raw = read_signature_file(Path(args.file))
    view = open_session(Path(args.session))  # refused now, read-only, before the lock
    check_attachment(view.state, view.events, raw, args.file, Path(args.session))
    try:
        ctl = Controller.for_signatures(Path(args.session), args.operator)
    except SessionLocked as exc:
        raise SessionLocked(f"{exc.message}; in that cockpit, k attaches the file") from None
    try:
        record = ctl.attach_signature(raw, args.file)
        waiting = rules.awaiting_countersign(ctl.runbook, ctl.state)
    finally:
        ctl.close()
    print(f"attached {record.file}: {record.identity} ({record.fingerprint}) countersigned "
          f"the {record.kind}")
    if waiting is not None:
        print(f"AWAITING COUNTERSIGN: {waiting[0]} of {waiting[1]} countersignature(s)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from cockpit.evidence.pack import export_pack

    files, size = export_pack(Path(args.session), Path(args.output), force=args.force)
    _err(f"wrote {args.output}: {files} files, {size:,} bytes; `cockpit verify {args.output}` "
         "checks it")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from cockpit.evidence.report import render_report
    from cockpit.session.reader import open_session

    view = open_session(Path(args.session))
    if not args.html:
        _out(render_report(view.runbook, view.state, folder=view.folder))
        return 0
    from cockpit.errors import CockpitError
    from cockpit.evidence.htmlreport import html_report
    from cockpit.session.modes import file_mode
    from cockpit.session.safefs import check_output, write_output_bytes

    output = Path(args.output) if args.output else None
    if output is not None:
        check_output(output, args.force)
        if output.resolve().is_relative_to(Path(args.session).resolve()):
            raise CockpitError(f"{output}: inside the session folder, which only the "
                               "operator's cockpit writes; write the page elsewhere")
    page = html_report(view)
    if output is None:
        _out(page)
        return 0
    # the session's evidence in one page: no more readable than the session
    write_output_bytes(output, page.encode("utf-8"), force=args.force,
                       mode=file_mode(Path(args.session)))
    _err(f"wrote {output}: the timeline and the filled checklist, one self-contained page")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from cockpit.evidence.compare import compare, render_comparison

    a, b, rows = compare(Path(args.a), Path(args.b))
    _out(render_comparison(a, b, rows))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    import json
    import os

    from cockpit.errors import CockpitError
    from cockpit.probes.db import ProbeUnreachable, connect
    from cockpit.probes.snapshot import compare, parity_report, take_snapshot

    target = args.dsn
    if "://" in target:
        _err("note: a DSN on the command line is visible to other users of this machine; "
             "pass the name of an environment variable that holds it instead")
        env = {"DATABASE_URL": target}
    elif target in os.environ:
        env = {"DATABASE_URL": os.environ[target]}
    else:
        raise CockpitError(f"{target}: neither a DSN nor a set environment variable")
    try:
        with connect(env) as conn:
            snapshot = take_snapshot(conn, args.schema)
    except ProbeUnreachable as exc:
        raise CockpitError(str(exc)) from None
    if args.compare:
        reference = json.loads(Path(args.compare).read_text(encoding="utf-8"))
        ok, report = parity_report(compare(reference, snapshot))
        print(report)
        return 0 if ok else 2
    _out(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    return 0


def cmd_mirror(args: argparse.Namespace) -> int:
    from cockpit.mirror.plain import follow_plain
    from cockpit.mirror.priority import yield_to_operator

    yield_to_operator()  # the web server and every mirror it starts inherit this
    session = Path(args.session)
    if args.plain:
        try:
            return follow_plain(session, lambda line: print(line, flush=True),
                                from_start=args.from_start, wait_s=args.wait)
        except BrokenPipeError:  # `| head`, a pager quit early: the reader has had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    if args.web:
        from cockpit.mirror.web import serve
        from cockpit.session.reader import session_events, session_runbook

        session_events(session)  # a clear error before serving: not a session folder,
        session_runbook(session)  # or one without its runbook copy
        return serve(session, args.host, args.port, cert=args.cert, key=args.key,
                     max_viewers=args.max_viewers)
    from cockpit.mirror.source import MirrorSource
    from cockpit.tui.mirror_app import MirrorApp

    MirrorApp(MirrorSource(session)).run()
    return 0


SIGN_KEY_HELP = ("sign the decision with this SSH key (ssh-keygen -Y, namespace "
                 "cutover-cockpit): a private key without a passphrase, or KEY.pub with the "
                 "key in ssh-agent")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cockpit",
        description="Cutover Cockpit: run an approved PostgreSQL/Alembic cutover checklist live.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    p = command("render", cmd_render, "print a runbook's one-page Markdown checklist (transcript)")
    p.add_argument("runbook", help="runbook TOML file")

    p = command("validate", cmd_validate, "check a runbook; print its two sha256 hashes")
    p.add_argument("runbook", help="runbook TOML file")

    p = command("import", cmd_import, "turn a one-page Markdown checklist into a runbook TOML")
    p.add_argument("checklist", help="checklist Markdown file")
    p.add_argument("-o", "--output", help="write the TOML here instead of to stdout")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--rehearsal", action="store_true",
                   help="import as a rehearsal runbook (production = false: no typed "
                        "confirmations are added)")

    p = command("schema", cmd_schema, "print the JSON Schema of a runbook TOML file (for "
                "Taplo / Even Better TOML), or the runbook language reference")
    p.add_argument("--markdown", action="store_true",
                   help="print the Markdown reference of the runbook language instead")
    p.add_argument("-o", "--output", help="write it here instead of to stdout")

    p = command("init", cmd_init, "write a starting runbook for your Alembic project")
    p.add_argument("project", nargs="?", default=".",
                   help="the Alembic project's folder, where alembic.ini is (default: .)")
    p.add_argument("-o", "--output", help="write the TOML here instead of to stdout")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--dsn-env", default="DATABASE_URL",
                   help="environment variable holding the database's DSN, read to learn its "
                        "current revision (default: DATABASE_URL); its password is never "
                        "written")

    def driving(p: argparse.ArgumentParser) -> None:
        p.add_argument("--headless", action="store_true",
                       help="drive the session without a screen, printing events and output")
        p.add_argument("--answers", type=Path, help="TOML file of attestations/confirmations")
        p.add_argument("--assume-yes", action="store_true",
                       help="attest and confirm everything (refused for production runbooks)")
        p.add_argument("--operator", help="operator name (default: $COCKPIT_OPERATOR or login; "
                       "on resume, the session's operator — another is recorded)")
        p.add_argument("--sign-key", metavar="KEY", help=SIGN_KEY_HELP)

    p = command("run", cmd_run, "start a new session on a runbook")
    p.add_argument("runbook", help="runbook TOML file")
    p.add_argument("--session", help="session folder (default: a new one under sessions/)")
    p.add_argument("--workdir", help="working directory (default: the runbook's)")
    p.add_argument("--override-workdir", action="store_true",
                   help="let --workdir replace a production runbook's approved working "
                        "directory (recorded as an override in the session and the decision)")
    p.add_argument("--rehearsal", metavar="SESSION",
                   help="the rehearsal session (PASS) that proves this cutover: a "
                        "`rehearsal.pass` gate is answered from it, and its identity is "
                        "recorded in the session and the decision record; one that is no "
                        "PASS of this runbook at this commit is refused (exit 3), nothing made")
    p.add_argument("--environment", metavar="NAME",
                   help="which of the runbook's [environments] this run is in (required when "
                        "it declares several): the setup is checked against its database, "
                        "host and working directory; recorded in the session")
    driving(p)

    p = command("resume", cmd_resume, "reopen a session where it stood")
    p.add_argument("session", help="session folder")
    p.add_argument("--take-over", action="store_true",
                   help="take over a stale lock left by a dead cockpit (recorded as an event)")
    p.add_argument("--rehearsal", metavar="SESSION",
                   help="the rehearsal the session was started with; while no phase step "
                        "has run, another one (a PASS of this runbook at this commit) to be "
                        "proved by instead, recorded as `rehearsal_linked`")
    p.add_argument("--no-sign", action="store_true",
                   help="resume a session started with --sign-key without a key: its "
                        "decision is recorded unsigned")
    driving(p)

    p = command("mirror", cmd_mirror, "watch a session, read-only, as it happens")
    p.add_argument("session", help="session folder")
    p.add_argument("--plain", action="store_true", help="as lines: events and step output")
    p.add_argument("--from-start", action="store_true", help="replay the whole session first")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="--plain: wait this long for the session to be started (a mirror "
                   "opened before the operator's run); default: a folder that is not a "
                   "session is an error at once")
    p.add_argument("--web", action="store_true",
                   help="serve the mirror to browsers (textual-serve) at the link it prints, "
                   "whose key is the only way in; one mirror per connection")
    p.add_argument("--host", default="127.0.0.1", help="--web: address to listen on, and "
                   "the host in the link it prints (default 127.0.0.1, this machine only; "
                   "any other needs --cert and --key)")
    p.add_argument("--port", type=int, default=8000, help="--web: port (default 8000)")
    p.add_argument("--cert", type=Path, metavar="FILE",
                   help="--web: serve over TLS (https, wss) with this PEM certificate")
    p.add_argument("--key", type=Path, metavar="FILE", help="--web: the certificate's "
                   "private key (PEM, no passphrase)")
    p.add_argument("--max-viewers", type=int, default=4, metavar="N",
                   help="--web: at most N browsers at once (default 4); one more is told "
                   "to try again later")

    p = command("status", cmd_status, "where a session stands")
    p.add_argument("session", help="session folder")
    p.add_argument("--json", action="store_true", help="as JSON")

    p = command("verify", cmd_verify, "check a session's event chain and every evidence hash")
    p.add_argument("session", help="session folder, or a pack written by `cockpit export`")
    p.add_argument("--allowed-signers", metavar="FILE",
                   help="check each signature's key against this allowed_signers file "
                        "(identities, namespace, validity) and report who signed what")

    p = command("countersign", cmd_countersign, "as a reviewer, with read access only: "
                "verify the session, show what is signed, and sign it with your SSH key")
    p.add_argument("session", help="session folder (read, never written)")
    p.add_argument("--key", required=True, help="your SSH key (or KEY.pub with the key in "
                   "ssh-agent); a passphrase is asked on this terminal")
    p.add_argument("-o", "--output", help="write the countersignature here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.add_argument("--transcript", action="store_true",
                   help="countersign the session's runbook transcript (before GO) instead "
                        "of its decision")
    p.add_argument("--confirm", metavar="WORD", help="the word `countersign`, for scripts "
                   "(default: asked on the terminal)")
    p.add_argument("--identity", help="who you are, as your allowed_signers line names you "
                   "(default: the key's comment)")

    p = command("attach-signature", cmd_attach_signature, "add a reviewer's countersignature "
                "file to the session (when no cockpit holds it; in the cockpit: k)")
    p.add_argument("session", help="session folder")
    p.add_argument("file", help="the file `cockpit countersign` wrote")
    p.add_argument("--operator", help="operator name (default: $COCKPIT_OPERATOR or login)")

    p = command("export", cmd_export, "write a session's evidence pack as one .tar.gz "
                "(the same bytes every time for the same session)")
    p.add_argument("session", help="session folder")
    p.add_argument("-o", "--output", required=True, help="the pack to write (e.g. pack.tar.gz)")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")

    p = command("report", cmd_report, "the filled one-page checklist and the decision record")
    p.add_argument("session", help="session folder")
    p.add_argument("--html", action="store_true",
                   help="one self-contained page: the timeline (steps over wall time, gates, "
                        "the halt, the rehearsal's times, the lock queue), then the checklist")
    p.add_argument("-o", "--output", help="--html: write the page here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")

    p = command("compare", cmd_compare, "two sessions side by side (a rehearsal and its "
                "cutover): each step's outcome, duration, lines, exit code and output")
    p.add_argument("a", help="session folder (e.g. the rehearsal)")
    p.add_argument("b", help="session folder (e.g. the cutover)")

    p = command("demo", cmd_demo, "build the rehearsal world (embedded PostgreSQL, demo "
                "backend) and run the reference cutover on it")
    p.add_argument("--headless", action="store_true", help="drive it to the end without a screen")
    p.add_argument("--fault", help="build the world with one named failure (see --list-faults)")
    p.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    p.add_argument("--workspace", help="where to build the world (default: beside the session)")
    p.add_argument("--session", help="session folder (default: a new one under sessions/)")
    p.add_argument("--answers", type=Path, help="answers file (default: the bundled one)")
    p.add_argument("--operator", help="operator name")
    p.add_argument("--rehearsal", metavar="SESSION",
                   help="the rehearsal session (PASS) that proves this cutover: a "
                        "`rehearsal.pass` gate is answered from it, and its identity is "
                        "recorded in the session and the decision record")
    p.add_argument("--sign-key", metavar="KEY", help=SIGN_KEY_HELP)
    p.add_argument("--idle-stop", type=float, metavar="SECONDS",
                   help="stop the world's database once nothing has used it this long "
                        "(default: $COCKPIT_DEMO_IDLE_STOP, else 600; 0: never); "
                        "`cockpit resume` starts it again")
    p.add_argument("--worlds", action="store_true",
                   help="list your rehearsal worlds that are running (workspace, port, pid, "
                        "idle time) and exit")
    p.add_argument("--stop", metavar="WORKSPACE",
                   help="stop that rehearsal world's database and exit (refused while a step "
                        "runs there, or a cockpit uses it, unless --force)")
    p.add_argument("--force", action="store_true", help="--stop: even while it is in use")

    p = command("snapshot", cmd_snapshot, "print a schema snapshot as JSON, or compare one")
    p.add_argument("dsn", help="name of an environment variable holding the DSN (or a DSN)")
    p.add_argument("--schema", default="public", help="schema (default: public)")
    p.add_argument("--compare", help="a reference snapshot: print the parity report instead")

    p = command("preview", cmd_preview, "browse a runbook's checklist and each item's meaning")
    p.add_argument("runbook", help="runbook TOML file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cockpit.engine.hangup import EXIT_HANGUP, HangUp

    try:
        return args.handler(args)
    except HangUp:  # the terminal went away: everything is closed; nobody to tell
        return EXIT_HANGUP
    except KeyboardInterrupt:
        _err("cockpit: interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the last flush too
        return 141  # 128 + SIGPIPE, as a shell reports it
    except Exception as exc:
        from cockpit.errors import CockpitError

        if args.debug:
            raise
        if isinstance(exc, CockpitError):
            _err(exc.message)
            return exc.exit_code
        import errno

        full = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # no EDQUOT on Windows
        if isinstance(exc, OSError) and exc.errno in full:  # disk full
            from cockpit.session.store import SessionWriteFailed

            _err(SessionWriteFailed(Path(exc.filename or "."), exc).message)
            return 1
        _err(f"cockpit: internal error: {_masked(exc)} (run with --debug for the traceback)")
        return 1


def _masked(exc: BaseException) -> str:
    """An unexpected error's text, with any password it might quote masked."""
    import os
    import re

    from cockpit.engine.setup import environment_secrets
    from cockpit.session.redact import Redactor

    text = f"{type(exc).__name__}: {exc}"
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    # libpq's quoting: password='it\'s a pass' is one value
    text = re.sub(r"(?i)(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S+)", r"\1***", text)
    return Redactor(environment_secrets(dict(os.environ))).redact_text(text)[:2000]

