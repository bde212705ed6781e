"""What a command line says about itself: the scripts it runs, whether it only reads, and the
word an operator should type before it changes something. Used by `validate`, the importer
and `init`, so all three read commands the same way."""

from __future__ import annotations

import re
import shlex

from cockpit.runbook.paths import path_name

# A script file on the command line, whatever runs it (`python x.py`, `psql -f y.sql`, `./z.sh`).
_SCRIPT_FILE = re.compile(r"(?:^|\s)(?P<path>[^\s'\"]+\.(?:py|sh|ps1|sql|rb|pl|bash))(?=\s|$)")
# `alembic X`, `python -m alembic X`, `uv run alembic X`, `poetry run alembic X`, with options.
_ALEMBIC = re.compile(r"(?:^|[\s/\\])alembic(?:\.exe)?(?P<rest>(?:\s+.*)?)$")
READ_ONLY_ALEMBIC = ("heads", "history", "current", "check", "show", "branches")
CHANGING_ALEMBIC = ("upgrade", "downgrade", "stamp")


def script_paths(command: str) -> list[str]:
    """The script files a command runs, in order, each once."""
    found: list[str] = []
    for match in _SCRIPT_FILE.finditer(command):
        if match["path"] not in found:
            found.append(match["path"])
    return found


def alembic_tokens(command: str) -> list[str] | None:
    """The words after `alembic`, as the shell splits them (options kept), when the command
    runs Alembic, else None."""
    match = _ALEMBIC.search(command)
    if match is None:
        return None
    try:
        return shlex.split(match["rest"], posix=True)
    except ValueError:
        return match["rest"].split()


_SHELL = ("&&", "||", ";", "|", "&")


def alembic_args(command: str) -> list[str] | None:
    """The words after `alembic` up to where its own command ends (`&&`, `;`, a pipe, a
    redirection), when the command runs Alembic, else None."""
    words = alembic_tokens(command)
    if words is None:
        return None
    args: list[str] = []
    for word in words:
        if word in _SHELL or word.startswith((">", "<", "2>")):
            break  # the rest is another command, or where the output goes
        if word.endswith(";"):  # `alembic upgrade head; echo done`
            args.append(word[:-1])
            break
        args.append(word)
    return args


def alembic_prefix(command: str) -> str:
    """What the command line says before `alembic` (`cd app &&`, `ALEMBIC_CONFIG=x`,
    `uv run --directory app`): '' when it runs no Alembic."""
    match = _ALEMBIC.search(command)
    return command[:match.start()] if match is not None else ""


def alembic_words(command: str) -> list[str] | None:
    """The words of Alembic's own command (options dropped) when the command runs Alembic,
    else None."""
    words = alembic_args(command)
    if words is None:
        return None
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("-c", "--config", "-n", "--name", "-x"):
            skip = True  # an option with a value
        elif not word.startswith("-"):
            out.append(word)
    return out


def is_read_only(command: str) -> bool:
    """Whether the command is one of Alembic's reading commands (heads, current, ...)."""
    words = alembic_words(command) or []
    return bool(words) and words[0] in READ_ONLY_ALEMBIC and "--sql" not in command


def confirm_word(command: str) -> str:
    """The word to type before a changing command: the target revision of an Alembic
    upgrade, downgrade or stamp; the script's name for a script; else the program's name."""
    words = alembic_words(command) or []
    if len(words) >= 2 and words[0] in CHANGING_ALEMBIC:
        return words[1]
    scripts = script_paths(command)
    if scripts:
        return path_name(scripts[0]).rsplit(".", 1)[0]
    program = path_name(command.split()[0])
    return re.sub(r"[^A-Za-z0-9_.-]", "", program) or "run"


def with_target(command: str, target: str, revision: str) -> str | None:
    """The command with its `alembic upgrade` target (`target`, as written) changed to
    `revision`, and nothing else; None when the target cannot be found as one word after
    `upgrade` (the command is then not run a revision at a time)."""
    match = _ALEMBIC.search(command)
    if match is None:
        return None
    rest_at = match.start("rest")
    verb = re.search(r"\supgrade(?=\s)", command[rest_at:])
    if verb is None:
        return None
    after = rest_at + verb.end()
    word = re.compile(rf"(?<=\s){re.escape(target)}(?=$|[\s;&|])")
    found = word.search(command, after)
    if found is None:
        return None
    return command[:found.start()] + shlex.quote(revision) + command[found.end():]
