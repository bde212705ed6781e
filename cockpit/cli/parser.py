"""The command line's one table — each command, its help, its arguments with their types
and help, and the function it calls — and the argparse parser built from it. The functions
are named, not imported: `cockpit --help` loads none of them (nor what they load)."""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cockpit.cli.driving import SIGN_KEY_HELP


@dataclass(frozen=True)
class Arg:
    """One argument: positional when its one name has no dash. `dest` is the keyword the
    command's function takes it as (default: argparse's own, from the name)."""

    names: str | tuple[str, ...]  # "runbook", "--force", or ("-o", "--output")
    help: str
    type: Callable[[str], object] | None = None
    switch: bool = False  # a flag: present or not
    default: object = None
    dest: str | None = None
    metavar: str | None = None
    required: bool = False
    optional: bool = False  # a positional that may be left out (nargs="?")

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.names,) if isinstance(self.names, str) else self.names


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    calls: str  # "module:function", imported when the command runs
    args: tuple[Arg, ...]


def _session(help_: str = "session folder") -> Arg:
    """A session folder, given to the function as `folder` (shown as `session`)."""
    return Arg("folder", help_, metavar="session")


def _output(help_: str) -> Arg:
    return Arg(("-o", "--output"), help_)


FORCE = Arg("--force", help="overwrite --output if it exists", switch=True)
RUNBOOK = Arg("runbook", help="runbook TOML file")
SIGN_KEY = Arg("--sign-key", help=SIGN_KEY_HELP, metavar="KEY")
DRIVING = (
    Arg("--headless", help="drive the session without a screen, printing events and output",
        switch=True),
    Arg("--answers", help="TOML file of attestations/confirmations", type=Path),
    Arg("--assume-yes", help="attest and confirm everything (refused for production runbooks)",
        switch=True),
    Arg("--operator", help="operator name (default: $COCKPIT_OPERATOR or login; on resume, "
        "the session's operator — another is recorded)"),
    SIGN_KEY,
)

COMMANDS: tuple[Command, ...] = (
    Command("render", "print a runbook's one-page Markdown checklist (transcript)",
            "cockpit.cli.runbooks:render", (RUNBOOK,)),
    Command("validate", "check a runbook; print its two sha256 hashes",
            "cockpit.cli.runbooks:validate", (RUNBOOK,)),
    Command("import", "turn a one-page Markdown checklist into a runbook TOML",
            "cockpit.cli.runbooks:import_checklist", (
                Arg("checklist", help="checklist Markdown file"),
                _output("write the TOML here instead of to stdout"),
                FORCE,
                Arg("--rehearsal", switch=True, help="import as a rehearsal runbook "
                    "(production = false: no typed confirmations are added)"),
            )),
    Command("schema", "print the JSON Schema of a runbook TOML file (for Taplo / Even Better "
            "TOML), or the runbook language reference", "cockpit.cli.runbooks:schema", (
                Arg("--markdown", switch=True,
                    help="print the Markdown reference of the runbook language instead"),
                _output("write it here instead of to stdout"),
            )),
    Command("init", "write a starting runbook for your Alembic project",
            "cockpit.cli.runbooks:init", (
                Arg("project", optional=True, default=".",
                    help="the Alembic project's folder, where alembic.ini is (default: .)"),
                _output("write the TOML here instead of to stdout"),
                FORCE,
                Arg("--dsn-env", default="DATABASE_URL",
                    help="environment variable holding the database's DSN, read to learn its "
                    "current revision (default: DATABASE_URL); its password is never written"),
            )),
    Command("run", "start a new session on a runbook", "cockpit.cli.sessions:run", (
        RUNBOOK,
        Arg("--session", help="session folder (default: a new one under sessions/)"),
        Arg("--workdir", help="working directory (default: the runbook's)"),
        Arg("--override-workdir", switch=True,
            help="let --workdir replace a production runbook's approved working directory "
            "(recorded as an override in the session and the decision)"),
        Arg("--rehearsal", metavar="SESSION",
            help="the rehearsal session (PASS) that proves this cutover: a `rehearsal.pass` "
            "gate is answered from it, and its identity is recorded in the session and the "
            "decision record; one that is no PASS of this runbook at this commit is refused "
            "(exit 3), nothing made"),
        Arg("--environment", metavar="NAME",
            help="which of the runbook's [environments] this run is in (required when it "
            "declares several): the setup is checked against its database, host and working "
            "directory; recorded in the session"),
        *DRIVING,
    )),
    Command("resume", "reopen a session where it stood", "cockpit.cli.sessions:resume", (
        _session(),
        Arg("--take-over", switch=True,
            help="take over a stale lock left by a dead cockpit (recorded as an event)"),
        Arg("--rehearsal", metavar="SESSION",
            help="the rehearsal the session was started with; while no phase step has run, "
            "another one (a PASS of this runbook at this commit) to be proved by instead, "
            "recorded as `rehearsal_linked`"),
        Arg("--no-sign", switch=True,
            help="resume a session started with --sign-key without a key: its decision is "
            "recorded unsigned"),
        *DRIVING,
    )),
    Command("mirror", "watch a session, read-only, as it happens", "cockpit.cli.mirror:mirror", (
        _session(),
        Arg("--plain", switch=True, help="as lines: events and step output"),
        Arg("--from-start", switch=True, help="replay the whole session first"),
        Arg("--wait", type=float, default=0.0, metavar="SECONDS",
            help="--plain: wait this long for the session to be started (a mirror opened "
            "before the operator's run); default: a folder that is not a session is an error "
            "at once"),
        Arg("--web", switch=True,
            help="serve the mirror to browsers (textual-serve) at the link it prints, whose "
            "key is the only way in; one mirror per connection"),
        Arg("--host", default="127.0.0.1",
            help="--web: address to listen on, and the host in the link it prints (default "
            "127.0.0.1, this machine only; any other needs --cert and --key)"),
        Arg("--port", type=int, default=8000, help="--web: port (default 8000)"),
        Arg("--cert", type=Path, metavar="FILE",
            help="--web: serve over TLS (https, wss) with this PEM certificate"),
        Arg("--key", type=Path, metavar="FILE",
            help="--web: the certificate's private key (PEM, no passphrase)"),
        Arg("--max-viewers", type=int, default=4, metavar="N",
            help="--web: at most N browsers at once (default 4); one more is told to try "
            "again later"),
    )),
    Command("status", "where a session stands", "cockpit.cli.sessions:status", (
        _session(),
        Arg("--json", switch=True, help="as JSON", dest="as_json"),
    )),
    Command("verify", "check a session's event chain and every evidence hash",
            "cockpit.cli.evidence:verify", (
                _session("session folder, or a pack written by `cockpit export`"),
                Arg("--allowed-signers", metavar="FILE",
                    help="check each signature's key against this allowed_signers file "
                    "(identities, namespace, validity) and report who signed what"),
            )),
    Command("countersign", "as a reviewer, with read access only: verify the session, show "
            "what is signed, and sign it with your SSH key", "cockpit.cli.evidence:countersign", (
                _session("session folder (read, never written)"),
                Arg("--key", required=True, help="your SSH key (or KEY.pub with the key in "
                    "ssh-agent); a passphrase is asked on this terminal"),
                _output("write the countersignature here (default: stdout)"),
                FORCE,
                Arg("--transcript", switch=True,
                    help="countersign the session's runbook transcript (before GO) instead of "
                    "its decision"),
                Arg("--hold", switch=True,
                    help="countersign the hold a `per_revision` step stands at (its runbook "
                    "asks it: hold_countersign) instead of the decision"),
                Arg("--confirm", metavar="WORD",
                    help="the word `countersign`, for scripts (default: asked on the terminal)"),
                Arg("--identity", help="who you are, as your allowed_signers line names you "
                    "(default: the key's comment)"),
            )),
    Command("attach-signature", "add a reviewer's countersignature file to the session (when "
            "no cockpit holds it; in the cockpit: k)", "cockpit.cli.evidence:attach_signature", (
                _session(),
                Arg("file", help="the file `cockpit countersign` wrote"),
                Arg("--operator", help="operator name (default: $COCKPIT_OPERATOR or login)"),
            )),
    Command("export", "write a session's evidence pack as one .tar.gz (the same bytes every "
            "time for the same session)", "cockpit.cli.evidence:export", (
                _session(),
                Arg(("-o", "--output"), required=True,
                    help="the pack to write (e.g. pack.tar.gz)"),
                FORCE,
            )),
    Command("report", "the filled one-page checklist and the decision record",
            "cockpit.cli.evidence:report", (
                _session(),
                Arg("--html", switch=True,
                    help="one self-contained page: the timeline (steps over wall time, gates, "
                    "the halt, the rehearsal's times, the lock queue), then the checklist"),
                _output("--html: write the page here (default: stdout)"),
                FORCE,
            )),
    Command("compare", "two sessions side by side (a rehearsal and its cutover): each step's "
            "outcome, duration, lines, exit code and output", "cockpit.cli.evidence:compare", (
                Arg("a", help="session folder (e.g. the rehearsal)"),
                Arg("b", help="session folder (e.g. the cutover)"),
            )),
    Command("demo", "build the rehearsal world (embedded PostgreSQL, demo backend) and run "
            "the reference cutover on it", "cockpit.cli.demo:demo", (
                Arg("--headless", switch=True, help="drive it to the end without a screen"),
                Arg("--fault",
                    help="build the world with one named failure (see --list-faults)"),
                Arg("--list-faults", switch=True, help="list the faults and exit"),
                Arg("--workspace",
                    help="where to build the world (default: beside the session)"),
                Arg("--session", help="session folder (default: a new one under sessions/)"),
                Arg("--answers", type=Path, help="answers file (default: the bundled one)"),
                Arg("--operator", help="operator name"),
                Arg("--rehearsal", metavar="SESSION",
                    help="the rehearsal session (PASS) that proves this cutover: a "
                    "`rehearsal.pass` gate is answered from it, and its identity is recorded "
                    "in the session and the decision record"),
                SIGN_KEY,
                Arg("--idle-stop", type=float, metavar="SECONDS",
                    help="stop the world's database once nothing has used it this long "
                    "(default: $COCKPIT_DEMO_IDLE_STOP, else 600; 0: never); `cockpit "
                    "resume` starts it again"),
                Arg("--worlds", switch=True,
                    help="list your rehearsal worlds that are running (workspace, port, pid, "
                    "idle time) and exit"),
                Arg("--stop", metavar="WORKSPACE",
                    help="stop that rehearsal world's database and exit (refused while a "
                    "step runs there, or a cockpit uses it, unless --force)"),
                Arg("--force", switch=True, help="--stop: even while it is in use"),
                Arg("--notify", metavar="FILE",
                    help="a TOML file of [[notify]] tables: the demo's moments are sent "
                    "there too (docs/notify.md)"),
            )),
    Command("notify-test", "send a test message to each of a runbook's [[notify]] "
            "destinations and print each answer", "cockpit.cli.notices:notify_test", (
                RUNBOOK,
                Arg("--destination", metavar="NAME", help="only this destination"),
            )),
    Command("notify", "the session's undelivered notifications; --flush sends them",
            "cockpit.cli.notices:notify", (
                _session(),
                Arg("--flush", switch=True,
                    help="take the session's lock and deliver what is undelivered"),
            )),
    Command("snapshot", "print a schema snapshot as JSON, or compare one",
            "cockpit.cli.database:snapshot", (
                Arg("dsn", help="name of an environment variable holding the DSN (or a DSN)"),
                Arg("--schema", default="public", help="schema (default: public)"),
                Arg("--compare",
                    help="a reference snapshot: print the parity report instead"),
            )),
    Command("preview", "browse a runbook's checklist and each item's meaning",
            "cockpit.cli.runbooks:preview", (RUNBOOK,)),
    Command("fleet run", "run one approved runbook across many databases, in waves with a "
            "canary: each target a session of its own, the fleet's ledger a session too",
            "cockpit.cli.fleet:run", (
                RUNBOOK,
                Arg("--targets", required=True, metavar="FILE",
                    help="the targets file (TOML): each target's values, the waves, the "
                    "limits and the stop rule (docs/fleet.md); pinned by its sha256"),
                Arg("--answers", type=Path, help="answers every target is given, and the "
                    "fleet's own approvals in its [fleet] table"),
                Arg("--folder", help="the fleet's folder (default: a new one under sessions/)"),
                Arg("--operator", help="operator name (default: $COCKPIT_OPERATOR or login)"),
                Arg("--sign-key", metavar="KEY", help="the operator's SSH key, declared at the "
                    "start (required when the targets file asks countersign = true: a "
                    "reviewer's key or name that is the operator's is refused)"),
                Arg("--headless", switch=True, help="drive the fleet without a screen, its "
                    "approvals from the answers' [fleet] table, printing its lines"),
                Arg("--rehearsal", metavar="SESSION",
                    help="the rehearsal session (PASS) that proves this cutover for every "
                    "target: each target's `rehearsal.pass` gate is answered from it; one "
                    "that is no PASS of this runbook at this commit is refused, nothing made"),
            )),
    Command("fleet resume", "take a fleet up again where its ledger stands (after its "
            "process stopped, or with the next wave's approval)", "cockpit.cli.fleet:resume", (
                Arg("folder", help="the fleet's folder", metavar="fleet"),
                Arg("--answers", type=Path, help="an answers file whose [fleet] table "
                    "approves the GO or the next wave (the targets keep the answers pinned "
                    "at the start)"),
                Arg("--operator", help="operator name (default: the fleet's)"),
                Arg("--take-over", switch=True,
                    help="take over the lock a dead fleet process left (recorded)"),
                Arg("--headless", switch=True, help="without a screen (as fleet run)"),
            )),
    Command("fleet status", "where a fleet stands: its waves, its targets, what halted",
            "cockpit.cli.fleet:status", (
                Arg("folder", help="the fleet's folder", metavar="fleet"),
                Arg("--json", switch=True, help="as JSON", dest="as_json"),
            )),
    Command("fleet worker", "a Celery worker for fleets dispatched beyond one machine "
            "(the optional extra cockpit[fleet]): takes targets from a queue of the Redis "
            "broker and runs each as `fleet target`", "cockpit.cli.fleet:worker", (
                Arg("--queue", default="cockpit", help="the queue to take targets from "
                    "(default: cockpit; a targets file's `queue` names others)"),
                Arg("--concurrency", type=int, default=4, metavar="N",
                    help="at most N targets at once on this host (default 4)"),
                Arg("--broker-env", default="COCKPIT_BROKER_URL", metavar="VAR",
                    help="the variable holding the broker's URL (default COCKPIT_BROKER_URL)"),
                Arg("--visibility-timeout", default="6h", metavar="DURATION",
                    help="the fleet's visibility_timeout: a lost worker's target goes to "
                    "another after this long (default 6h)"),
            )),
    Command("fleet target", "run one target of a fleet, headless (what each dispatch "
            "starts; started again, it takes the target's session up where it stands)",
            "cockpit.cli.fleet:target", (
                Arg("folder", help="the fleet's folder", metavar="fleet"),
                Arg("name", help="the target's name"),
            )),
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; docs/commands.md gives 2 to BLOCKER/halted, usage is 1."""

    def error(self, message: str) -> typing.NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The `cockpit` parser: each command of COMMANDS a subcommand whose namespace holds the
    keyword arguments of its function (and `calls`, naming the function)."""
    parser = _Parser(
        prog="cockpit",
        description="Cutover Cockpit: run an approved PostgreSQL/Alembic cutover checklist live.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, typing.Any] = {}  # a group's own subparsers
    for command in COMMANDS:
        group, _space, name = command.name.rpartition(" ")
        if group and group not in groups:  # `fleet run`: a command of the `fleet` group
            names = [c.name.split()[-1] for c in COMMANDS if c.name.startswith(f"{group} ")]
            parent = sub.add_parser(group, help=f"{group} commands: {', '.join(names)}")
            groups[group] = parent.add_subparsers(dest="command", metavar="COMMAND",
                                                  required=True)
        p = (groups[group] if group else sub).add_parser(name, help=command.help,
                                                          description=command.help)
        p.set_defaults(calls=command.calls)
        for one in command.args:
            p.add_argument(*one.flags, **_options(one))
    return parser


def _options(one: Arg) -> dict[str, typing.Any]:
    """argparse's keywords for one argument."""
    if one.switch:
        options: dict[str, typing.Any] = {"action": "store_true"}
    else:
        options = {"type": one.type, "default": one.default, "metavar": one.metavar}
    if one.optional:
        options["nargs"] = "?"
    if one.required:
        options["required"] = True
    if one.dest is not None:  # an option's keyword other than its name says (not positionals)
        options["dest"] = one.dest
    return {"help": one.help, **options}
