"""A rehearsal as proof: the gate "same migration commit/tag as clone PASS" answered from the
rehearsal's own hash-chained record instead of a typed reference.

The rehearsal proves this cutover when, item by item: it is the session linked at start (its
last event hash unchanged since), its chain and every recorded file verify, its decision is
PASS, its transcript is this runbook's with the per-environment values set aside, its commit
is this run's, and each upgrade it ran takes the same path here. Any item that does not hold
is named, and the gate stays closed. The items a link is judged by (chain, PASS, runbook,
commit) are checked once before: a link that fails them is refused before a session exists.
Pure reading: nothing in either session is written."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.errors import EXIT_REFUSED, CockpitError
from cockpit.evidence.verify import verify_session
from cockpit.runbook.environment import environment_neutral
from cockpit.runbook.model import PASS, Runbook
from cockpit.runbook.render import render_markdown
from cockpit.session import records
from cockpit.session.reader import SessionSnapshot, open_session
from cockpit.session.records import RehearsalLink

# (step id, the rehearsal's start revisions) -> this run's path from them; None: not known
PathFor = Callable[[str, list[str]], list[str] | None]
_SHOWN_LINES = 6  # differing transcript lines named in the detail; the rest counted


@dataclass(frozen=True)
class ProofItem:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Proof:
    items: list[ProofItem]
    link: RehearsalLink | None

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.ok for item in self.items)

    def detail(self) -> str:
        failed = [i for i in self.items if not i.ok]
        if not failed:
            assert self.link is not None
            return (f"proved by rehearsal {self.link.session_id}: "
                    + "; ".join(i.detail for i in self.items))
        return "; ".join(f"{i.name}: {i.detail}" for i in failed)

    def observed(self) -> dict[str, Any]:
        return {"rehearsal": self.link.model_dump() if self.link else None,
                "items": {i.name: {"ok": i.ok, "detail": i.detail} for i in self.items}}


class RehearsalRefused(CockpitError):
    """A link to a rehearsal that cannot prove this run: the operator links the right one
    (or rehearses first); nothing is made."""

    exit_code = EXIT_REFUSED


def link_to(folder: Path) -> RehearsalLink:
    """What a session records of its rehearsal when it starts; CockpitError when the folder
    is no session or cannot be read, RehearsalRefused (exit 3) when it is no PASS (the run
    is then refused, nothing made)."""
    found = open_session(folder)
    status = found.state.decision.status if found.state.decision else None
    if status != PASS:  # a link that could never prove anything: refused, nothing made
        raise RehearsalRefused(
            f"{folder}: this rehearsal's decision is {status or 'not recorded yet'}; only a "
            "rehearsal that reached PASS can prove a cutover — link one that did")
    return RehearsalLink(folder=str(folder.resolve()), session_id=found.state.session_id,
                         last_hash=found.state.last_hash, events=found.state.seq)


def check_link(folder: Path, runbook: Runbook, head: str | None,
               dirty: bool = False) -> RehearsalLink:
    """The link, once the proof's items a link is judged by hold: the rehearsal's chain
    verifies, it reached PASS on this runbook (environment values aside) at this run's
    commit (`head`, `dirty`: as in `prove`). RehearsalRefused (exit 3) names each that does
    not, and the fix. (Its upgrade paths are the gate's to prove, against the database.)"""
    link = link_to(folder)
    found = open_session(Path(link.folder))
    items = [_chain(Path(link.folder)), _transcripts(found.runbook, runbook)]
    # Neither side in git: no commit can differ, so the link stands (the `rehearsal.pass`
    # gate, where the runbook has one, still cannot prove a commit: a finding, as before).
    if found.state.git_head is not None or head is not None:
        items.append(_commit(found.state.git_head, found.state.git_dirty, head, dirty))
    failed = [item for item in items if not item.ok]
    if failed:
        raise RehearsalRefused(
            f"{folder}: rehearsal {link.session_id} cannot prove this run — "
            + "; ".join(f"{item.name}: {item.detail}" for item in failed)
            + ". Link the rehearsal that passed this runbook at this commit (or rehearse it "
            "first); nothing was started")
    return link


def prove(link: RehearsalLink, runbook: Runbook, head: str | None,
          path_for: PathFor, dirty: bool = False, extra: tuple[ProofItem, ...] = ()) -> Proof:
    """Each item of the proof, against this run's runbook, its repository's HEAD (None: no
    repository; `dirty`: tracked files changed since it) and its upgrade paths; `extra`:
    items the caller proved (the runbook's own pinned commit). Never raises: what cannot be
    read or compared is a failed item, so the gate stays closed and says why."""
    try:
        return Proof([*_items(link, runbook, head, path_for, dirty), *extra], link)
    except CockpitError as exc:
        return Proof([ProofItem("rehearsal", False, exc.message), *extra], link)
    except Exception as exc:  # an unreadable rehearsal or runbook is no proof, never a crash
        return Proof([ProofItem("rehearsal", False, f"cannot be read or compared: "
                                f"{type(exc).__name__}: {exc}"), *extra], link)


def _items(link: RehearsalLink, runbook: Runbook, head: str | None, path_for: PathFor,
           dirty: bool) -> list[ProofItem]:
    found = open_session(Path(link.folder))
    state = found.state
    items = [ProofItem("identity", state.last_hash == link.last_hash,
                       f"last event hash {state.last_hash[:16]}"
                       if state.last_hash == link.last_hash else
                       f"the rehearsal changed since it was linked: last hash "
                       f"{state.last_hash[:16]} ({state.seq} events), linked "
                       f"{link.last_hash[:16]} ({link.events} events)")]
    items.append(_chain(Path(link.folder)))
    status = state.decision.status if state.decision else None
    items.append(ProofItem("decision", status == PASS, f"decision {status}" if status
                           else "the rehearsal has no decision recorded"))
    items.append(_transcripts(found.runbook, runbook))
    items.append(_commit(state.git_head, state.git_dirty, head, dirty))
    items.extend(_paths(found, path_for))
    return items


def _chain(folder: Path) -> ProofItem:
    checked = verify_session(folder)
    return ProofItem("chain", not checked.problems,
                     checked.summary.split(",")[0] if not checked.problems
                     else f"verify: {checked.problems[0]}"
                     + (f" (+{len(checked.problems) - 1} more)"
                        if len(checked.problems) > 1 else ""))


def _flat(value: Any, place: str = "") -> dict[str, Any]:
    """A runbook's every setting by its place (`abort_rules[3].patterns[0]`)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items()
                for k, v in _flat(item, f"{place}.{key}" if place else key).items()}
    if isinstance(value, list):
        return {k: v for index, item in enumerate(value)
                for k, v in _flat(item, f"{place}[{index}]").items()}
    return {place: value}


def _transcripts(rehearsed: Runbook, ours: Runbook) -> ProofItem:
    theirs_rb, mine_rb = environment_neutral(rehearsed), environment_neutral(ours)
    theirs = render_markdown(theirs_rb).splitlines()
    mine = render_markdown(mine_rb).splitlines()
    if theirs == mine:
        # what the checklist does not print: abort rules' patterns, timeouts, limits, pins
        a, b = _flat(theirs_rb.model_dump(mode="json")), _flat(mine_rb.model_dump(mode="json"))
        settings = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if not settings:
            return ProofItem("runbook", True, "transcript and settings equal (per-environment "
                             "values aside)")
        shown = " | ".join(f"{k}: rehearsal {a.get(k)!r}, this runbook {b.get(k)!r}"
                           for k in settings[:_SHOWN_LINES])
        more = (f" (+{len(settings) - _SHOWN_LINES} more)" if len(settings) > _SHOWN_LINES
                else "")
        return ProofItem("runbook", False, f"the transcripts are equal but settings differ: "
                         f"{shown}{more}")
    changes = [line for line in difflib.unified_diff(theirs, mine, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    shown = " | ".join(f"{'rehearsal' if c[0] == '-' else 'this runbook'}: {c[1:].strip()}"
                       for c in changes[:_SHOWN_LINES])
    more = f" (+{len(changes) - _SHOWN_LINES} more lines)" if len(changes) > _SHOWN_LINES else ""
    return ProofItem("runbook", False, f"the transcripts differ: {shown}{more}")


def _commit(rehearsed: str | None, rehearsed_dirty: bool | None, ours: str | None,
            dirty: bool) -> ProofItem:
    if rehearsed is None:
        return ProofItem("commit", False, "the rehearsal recorded no commit (its working "
                         "directory was no git repository, or an older cockpit ran it)")
    if ours is None:
        return ProofItem("commit", False, "this run's working directory is no git repository")
    if rehearsed != ours:
        return ProofItem("commit", False, f"rehearsal at {rehearsed[:12]}, this run at "
                         f"{ours[:12]}")
    if rehearsed_dirty:  # what was rehearsed was not the commit
        return ProofItem("commit", False, f"the rehearsal ran with uncommitted changes to "
                         f"tracked files (HEAD {rehearsed[:12]})")
    if dirty:  # what would run is not the commit that was rehearsed
        return ProofItem("commit", False, f"this run's working tree has uncommitted changes "
                         f"to tracked files (HEAD {ours[:12]})")
    return ProofItem("commit", True, f"commit {ours[:12]}")


def _paths(found: SessionSnapshot, path_for: PathFor) -> list[ProofItem]:
    """Each upgrade the rehearsal ran to its end: the path it took, worked out here from the
    same start."""
    finished = {r.run for r in records.of_kind(found.events, records.StepFinished) if r.ok}
    items = []
    for d in records.of_kind(found.events, records.StepStarted):
        if d.path is None or d.run not in finished:
            continue
        if d.start is None or len(d.start) > 1 or not d.path:
            items.append(ProofItem(f"path of {d.step}", False, (
                "the rehearsal recorded no start revision for it (it could not read it, or "
                "an older cockpit ran it)" if d.start is None else
                f"the rehearsal started at several heads ({', '.join(d.start)}): no one "
                "path" if len(d.start) > 1 else "the rehearsal counted no revision")))
            continue
        here = path_for(d.step, list(d.start))
        same = here == d.path
        items.append(ProofItem(
            f"path of {d.step}", same,
            f"{len(d.path)} revision{'' if len(d.path) == 1 else 's'}, "
            f"{' → '.join(d.path)}" if same else
            f"the rehearsal ran {' → '.join(d.path) or 'nothing counted'}; from the same "
            f"start here: {' → '.join(here) if here else 'not known'}"))
    return items


def rehearsed_downgrades(folder: Path) -> list[str] | None:
    """The `alembic downgrade` steps the rehearsal at `folder` ran to a pass — its proof that
    the way back works, for the DBA's rollback decision — one line each; None if the
    rehearsal cannot be read."""
    from cockpit.runbook.targets import command_targets

    try:
        found = open_session(folder)
    except CockpitError:
        return None
    passed = {r.run for r in records.of_kind(found.events, records.StepFinished) if r.ok}
    lines = []
    for started in records.of_kind(found.events, records.StepStarted):
        targets = command_targets(started.command or "")
        if targets and targets[0] == "downgrade" and not targets[2] and started.run in passed:
            lines.append(f"step {started.step} ran `{started.command}` to a pass")
    return lines
