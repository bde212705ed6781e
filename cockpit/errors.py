"""Errors a user can cause, each carrying the exit code docs/commands.md assigns to it.

The CLI catches `CockpitError` at its edge and prints the message alone: no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_INPUT = 1  # usage or input error
EXIT_BLOCKER = 2  # BLOCKER or halted
EXIT_REFUSED = 3  # lock held, runbook changed, gates open


class CockpitError(Exception):
    """An error with a message meant for the operator and an exit code."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, named by its place inside that file."""

    file: str
    place: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.place}" if self.place else self.file
        # one problem, one line: a value quoted with a line break in it is shown escaped
        message = self.message.replace("\r", "\\r").replace("\n", "\\n")
        return f"{where}: {message}"


class RunbookError(CockpitError):
    """A runbook (or checklist) that cannot be loaded; lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the runbook:" if count > 1 else ""
        lines = [head] if head else []
        lines += [str(p) for p in problems]
        super().__init__("\n".join(lines))
