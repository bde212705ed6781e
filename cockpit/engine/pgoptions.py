"""PGOPTIONS: how settings reach every PostgreSQL connection a command opens (libpq reads
the variable), without touching the command or the Alembic project."""

from __future__ import annotations


def pg_options(settings: dict[str, str]) -> str:
    """A PGOPTIONS value setting each of `settings`: the server splits it at white space, so
    a backslash and white space inside a value are backslash-escaped."""
    def escaped(text: str) -> str:
        return "".join(f"\\{c}" if c == "\\" or c.isspace() else c for c in text)

    return " ".join(f"-c {escaped(name)}={escaped(value)}" for name, value in settings.items())
