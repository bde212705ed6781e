"""The line of a failed step's output that says what went wrong — not its last line: Alembic
and SQLAlchemy end a failure with a traceback's tail or a documentation link, and the error
itself (`psycopg.errors.DivisionByZero`, `...Error: ...`) comes a few lines before."""

from __future__ import annotations

import re
from pathlib import Path

from cockpit.session.format import clip

TAIL_BYTES = 64 * 1024  # the error is near the end: nothing else of a long log is read
# best first: the database's own error class, then any `...Error:`/`...Exception:` line,
# then a line a server or a logger marked ERROR or FATAL
_KINDS = [re.compile(r"\bpsycopg2?\.errors\.\w+"),
          re.compile(r"^\s*[\w.]*(?:Error|Exception)\b.*:"),
          re.compile(r"\b(?:ERROR|FATAL|PANIC)\b")]
_WIDTH = 400


def error_line(log: Path) -> str | None:
    """The most telling error line of the log's tail, or None (no such line, no log)."""
    try:
        with log.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for kind in _KINDS:
        found = next((line for line in reversed(lines) if kind.search(line)), None)
        if found is not None:
            return clip(found, _WIDTH)
    return None
