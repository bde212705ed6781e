"""The fleet's approvals, typed by a person: its GO (the targets file's pin, as `GO` and the
first 12 hex digits of its sha256: what was approved is exactly that file) and each wave
after the first (the wave's name). Headless, they come from the answers file's `[fleet]`
table; on the screen, from what the operator types."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cockpit.errors import CockpitError


@dataclass(frozen=True)
class Approval:
    approver: str
    typed: str
    how: str  # "answers", "screen"


def go_words(targets_sha256: str) -> str:
    """What the operator types to approve the fleet's GO."""
    return f"GO {targets_sha256[:12]}"


class Approvals(Protocol):
    def go(self, expected: str) -> Approval | None: ...

    def wave(self, wave: str) -> Approval | None: ...

    def how_to(self, answer: str, folder: Path) -> str:
        """Where the person gives an approval not given yet (`answer`: its answers line)."""
        ...


def split_answers(raw: bytes, path: Path) -> tuple[dict[str, Any], bytes]:
    """An answers file's `[fleet]` table, and the file without it (what every target is
    given: the targets' answers know nothing of fleets)."""
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CockpitError(f"{path}: not valid TOML: {exc}") from None
    fleet = data.get("fleet", {})
    if not isinstance(fleet, dict):
        raise CockpitError(f"{path}: [fleet] must be a table (go = \"GO …\", "
                           "[fleet.waves] NAME = \"NAME\")")
    unknown = sorted(set(fleet) - {"go", "waves"})
    if unknown:
        raise CockpitError(f"{path}: [fleet] names {', '.join(unknown)}; it takes `go` and "
                           "[fleet.waves]")
    return fleet, _without_fleet(text).encode("utf-8")


def _without_fleet(text: str) -> str:
    """The TOML text with the `[fleet]` and `[fleet.*]` tables cut out, the rest as written."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[") and not header.startswith("[["):
            name = header.strip("[]").strip()
            skipping = name == "fleet" or name.startswith("fleet.")
        if not skipping:
            kept.append(line)
    return "".join(kept)


class AnswerApprovals:
    """Approvals from an answers file's `[fleet]` table, by the operator who runs the fleet."""

    def __init__(self, table: dict[str, Any], operator: str, where: str) -> None:
        self.table = table
        self.operator = operator
        self.where = where

    def go(self, expected: str) -> Approval | None:
        typed = self.table.get("go")
        if typed is None:
            return None
        if typed != expected:
            raise CockpitError(f"{self.where}: [fleet] go = {typed!r} does not approve this "
                               f"targets file; type {expected!r} (its sha256's first 12 "
                               "digits) once you have read it")
        return Approval(self.operator, typed, "answers")

    def how_to(self, answer: str, folder: Path) -> str:
        return (f"(in the answers file: {answer}), then: cockpit fleet resume {folder} "
                "--headless --answers FILE")

    def wave(self, wave: str) -> Approval | None:
        waves = self.table.get("waves", {})
        typed = waves.get(wave) if isinstance(waves, dict) else None
        if typed is None:
            return None
        if typed != wave:
            raise CockpitError(f"{self.where}: [fleet.waves] {wave} = {typed!r}; type the "
                               f"wave's name, {wave!r}, to approve it")
        return Approval(self.operator, typed, "answers")


class TypedApprovals:
    """Approvals typed on the operator's board: each kept until the driver asks for it (the
    board's dialog accepts only the exact words)."""

    def __init__(self, operator: str) -> None:
        self.operator = operator
        self.go_typed: str | None = None
        self.waves: dict[str, str] = {}

    def go(self, expected: str) -> Approval | None:
        if self.go_typed != expected:
            return None
        return Approval(self.operator, self.go_typed, "screen")

    def wave(self, wave: str) -> Approval | None:
        typed = self.waves.get(wave)
        return Approval(self.operator, typed, "screen") if typed == wave else None

    def how_to(self, answer: str, folder: Path) -> str:
        return "on the board (g for the GO, a for a wave)"
