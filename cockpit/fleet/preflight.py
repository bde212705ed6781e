"""Before a target starts a step: do the programs its runbook's commands name resolve on
this host? A worker whose PATH lacks `alembic` would otherwise fail the target's first
step, and a failed changing step halts its session for good — for a cause that is the
host's, not the database's. Found here, the target says NO-GO (naming this host) and ends
`failed` with nothing started; it is sent again once the host is put right.

Only what is certain is refused: the first word of each simple command, when it is a
plain program name (no variable, no path, no shell keyword or built-in) that PATH does
not hold. Anything the shell works out at run time is left to the run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping

from cockpit.runbook.model import Runbook
from cockpit.runbook.targets import command_steps

OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
SHELL_WORDS = {
    "!", "{", "}", "[", "[[", ".", ":", "alias", "bg", "break", "case", "cd", "command",
    "continue", "declare", "do", "done", "echo", "elif", "else", "esac", "eval", "exec",
    "exit", "export", "false", "fg", "fi", "for", "function", "getopts", "hash", "if", "in",
    "jobs", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "select",
    "set", "shift", "source", "test", "then", "time", "times", "trap", "true", "type",
    "typeset", "ulimit", "umask", "unalias", "unset", "until", "wait", "while"}
PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def programs(command: str) -> list[str]:
    """The plain program names that begin the command's simple commands, in order."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: the shell's to say
        return []
    found: list[str] = []
    first = True
    for word in words:
        if word in OPERATORS:
            first = True
            continue
        if not first or ASSIGNMENT.fullmatch(word):
            continue
        first = False
        if PLAIN.fullmatch(word) and word not in SHELL_WORDS:
            found.append(word)
    return list(dict.fromkeys(found))


def missing_programs(runbook: Runbook, env: Mapping[str, str]) -> list[str]:
    """One line per command step naming a program this host's PATH does not hold."""
    if os.name == "nt":  # cmd.exe's words and PATHEXT: left to the run
        return []
    path = env.get("PATH", os.defpath)
    lines = []
    for _place, step in command_steps(runbook):
        lost = [word for word in programs(step.command) if shutil.which(word, path=path) is None]
        if lost:
            lines.append(f"step {step.id}: {', '.join(f'`{w}`' for w in lost)} not found on "
                         "this host's PATH")
    return lines
