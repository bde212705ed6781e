"""Probes by name: each answers one question about the real world with a `ProbeResult`.

A probe never raises into its caller: a probe that cannot reach its target reports that as
a failed result with the cause. The built-in probes register themselves when their modules
are imported (`load_builtin_probes`); tests may register their own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.runbook.model import Waiver
from cockpit.runbook.probes import PROBES, ProbeSpec


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    observed: Any = None
    detail: str = ""
    # False: the probe could not answer about the change (its database unreachable, its
    # environment wrong) — the operator may fix the cause and ask again
    reached: bool = True
    # What it found, to keep as evidence: (file name, content). The engine writes each into
    # the session, content-named, and records it in `observed` (a dict) under "files".
    files: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class ProbeContext:
    """What a probe may look at: the working directory and the steps' environment."""

    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    session_folder: Path | None = None
    waivers: tuple[Waiver, ...] = ()  # the runbook's accepted risk findings
    # the session's redactor: what a probe keeps of other sessions' query text is masked
    # with it before it is cut (a cut password would escape the store's own mask)
    redact: Callable[[str], str] = str
    rehearsal: Path | None = None  # the linked rehearsal's session folder, when one is
    # (step id, command) of each command step, in order: what the Alembic targets and the
    # risk gate's path are read from
    commands: tuple[tuple[str, str], ...] = ()


ProbeFn = Callable[[ProbeContext, Any, Mapping[str, Any]], ProbeResult]
REGISTRY: dict[str, ProbeFn] = {}
BUILTIN_MODULES = [
    "cockpit.probes.alembic_probes",
    "cockpit.probes.db_probes",
    "cockpit.probes.env_probe",
    "cockpit.probes.git_probe",
    "cockpit.probes.preflight",
    "cockpit.probes.risk",
]


def register(name: str, spec: ProbeSpec | None = None) -> Callable[[ProbeFn], ProbeFn]:
    """Register a probe; with a spec, a probe the catalogue did not know yet."""

    def wrap(fn: ProbeFn) -> ProbeFn:
        if spec is not None:
            PROBES[name] = spec
        elif name not in PROBES:
            raise KeyError(f"probe '{name}' is not in the catalogue; pass its spec")
        REGISTRY[name] = fn
        return fn

    return wrap


def load_builtin_probes() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def run_probe(name: str, ctx: ProbeContext, expected: Any,
              args: Mapping[str, Any]) -> ProbeResult:
    load_builtin_probes()
    fn = REGISTRY.get(name)
    if fn is None:
        return ProbeResult(False, None, f"probe '{name}' is not available in this cockpit")
    try:
        return fn(ctx, expected, args)
    except Exception as exc:  # a probe's failure is a failed check, never a crash
        # no rule foresaw it: a finding until someone says otherwise, never "fix and retry"
        return ProbeResult(False, None, f"probe '{name}' failed: {type(exc).__name__}: {exc}")
