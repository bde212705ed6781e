"""The migration risk gate's findings as the record shows them: read from the report the gate
kept in the session (`evidence/probes/…-migration-risk.json`), then said in full — every
waiver (the finding, the reason, who approved it), the lock findings apart from the style
ones, and whether the upgrade runs as one transaction with the locks it holds to its end."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cockpit.runbook.model import Runbook
from cockpit.runbook.validate import walk_items
from cockpit.session.inert import inert
from cockpit.session.state import SessionState

RISK_PROBE = "migration.risk"
_REPORT_SUFFIX = "-migration-risk.json"
# squawk rules about a column's type or a table's keys, not about what waits on a lock: read
# as style where the gate's report does not say (its findings' `category`, when it does)
STYLE_RULES = ("prefer-text-field", "prefer-bigint-over-int", "prefer-bigint-over-smallint",
               "prefer-identity", "prefer-timestamp-tz", "prefer-timestamptz", "ban-char-field")
Category = Literal["lock", "style"]


@dataclass(frozen=True)
class RiskRecord:
    """One risk check's kept report: `report` as the gate wrote it, or `problem` (why it
    cannot be read)."""

    item: str  # the gate (or check step) that ran the probe
    file: str  # its report, relative to the session folder
    report: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def findings(self) -> list[dict[str, Any]]:
        found = self.report.get("findings")
        return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


def risk_records(runbook: Runbook, state: SessionState, folder: Path | None
                 ) -> list[RiskRecord]:
    """The report each `migration.risk` gate or check kept at its latest evaluation, in the
    runbook's order; none without a session folder to read them from."""
    if folder is None:
        return []
    found = []
    for _place, item in walk_items(runbook):
        if getattr(item, "probe", None) != RISK_PROBE:
            continue
        recorded = state.gates.get(item.id) or state.steps.get(item.id)
        observed = getattr(recorded, "observed", None)
        kept = observed.get("files") if isinstance(observed, dict) else None
        for entry in kept if isinstance(kept, list) else []:
            name = str(entry.get("captured", "")) if isinstance(entry, dict) else ""
            if name.endswith(_REPORT_SUFFIX):
                found.append(_read(item.id, folder, name))
    return found


def _read(item: str, folder: Path, name: str) -> RiskRecord:
    try:
        report = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return RiskRecord(item, name, problem=f"{name} cannot be read ({exc})")
    if not isinstance(report, dict):
        return RiskRecord(item, name, problem=f"{name} holds no risk report")
    return RiskRecord(item, name, report)


def category(finding: dict[str, Any]) -> Category:
    """`lock` or `style`: the gate's own word where its report gives one; else a squawk rule
    of STYLE_RULES that blocks nothing is style, and everything else is a lock finding."""
    given = finding.get("kind", finding.get("category"))
    if given in ("lock", "style"):
        return given  # type: ignore[no-any-return]
    style = finding.get("source") == "squawk" and finding.get("rule") in STYLE_RULES
    return "style" if style and finding.get("severity") != "error" else "lock"


def _one_line(text: Any) -> str:
    """A statement or message on one line of the record, whole, and inert (squawk quotes
    the revision's SQL)."""
    return inert(" ".join(str(text or "").split()))


def size_text(finding: dict[str, Any]) -> str:
    if finding.get("bytes") is None:
        return ""
    rows = finding.get("rows")
    counted = f"{rows:,} rows" if isinstance(rows, int) else "rows unknown"
    return f"{counted}, {finding['bytes'] / 1048576:.1f} MB"


def _where(finding: dict[str, Any]) -> str:
    """"r2 `index-without-concurrently` (line 2) — SHARE on public.accounts (120,000 rows,
    5.2 MB)": the finding, named as a waiver names it, and what it falls on."""
    said = f"{finding.get('revision', '?')} `{finding.get('rule', '?')}`"
    if finding.get("line"):
        said += f" (line {finding['line']})"
    on = " ".join(filter(None, [str(finding.get("lock") or ""),
                                f"on {finding['table']}" if finding.get("table") else ""]))
    size = size_text(finding)
    return f"{said} — {on}" + (f" ({size})" if size else "") if on else said


def waived(records: Iterable[RiskRecord]) -> list[dict[str, Any]]:
    """Every waived finding of every kept report, in the order the revisions run."""
    return [f for record in records for f in record.findings
            if isinstance(f.get("waived"), dict)]


def waiver_lines(records: Sequence[RiskRecord]) -> list[str]:
    """The decision record's lines on accepted risk: each waived finding with its reason and
    approver, whole; a report that cannot be read is said, never passed over."""
    lines = [f"Risk report of {r.item} NOT READ: {r.problem}" for r in records if r.problem]
    found = waived(records)
    if not records:
        return lines
    if not found:
        return [*lines, "Waived risk findings: none"]
    lines.append(f"Waived risk findings ({len(found)}):")
    for finding in found:
        waiver = finding["waived"]
        lines.append(f"- {_where(finding)}: {_one_line(finding.get('message'))} — waived: "
                     f"{_one_line(waiver.get('reason'))} (approved by "
                     f"{_one_line(waiver.get('approved_by')) or '?'})")
    return lines


def waivers_said(records: Sequence[RiskRecord]) -> str:
    """The waiver lines as the decision record's paragraph after its fields ("" without a
    risk check)."""
    lines = waiver_lines(records)
    return "\n" + "".join(f"{line}\n" for line in lines) if lines else ""


def unmatched_waivers(runbook: Runbook, records: Sequence[RiskRecord]) -> list[str]:
    """The runbook's waivers no finding took (a revision or rule misspelt, or a risk that
    went away): said, so an approval that covers nothing is seen."""
    taken = {(f.get("revision", ""), f.get("rule"), f["waived"].get("reason"))
             for f in waived(records)}
    return [f"{w.revision} `{w.rule}` ({w.reason}; {w.approved_by})" for w in runbook.waivers
            if not any(rule == w.rule and reason == w.reason and (
                rev == w.revision or str(rev).startswith(f"{w.revision}_"))
                for rev, rule, reason in taken)]


def transaction_lines(report: dict[str, Any]) -> list[str]:
    """Whether the upgrade runs as one transaction and, then, the locks it holds to its end
    (what the gate's report says; nothing where it does not say)."""
    said = report.get("transaction")
    said = said if isinstance(said, dict) else report  # the gate's `transaction` section
    one = said.get("one_transaction")
    if one is None:
        return []
    if not one:
        return ["The upgrade commits each revision on its own: a revision's locks are "
                "released at its end."]
    held = said.get("held_to_end") or []
    lines = ["The upgrade runs as ONE transaction: every lock a revision takes is held until "
             "the last revision commits."]
    if held:
        lines.append("Locks held to its end:")
        for lock in held:
            if isinstance(lock, dict):
                since = f" (from revision {lock['revision']})" if lock.get("revision") else ""
                if lock.get("revisions_held"):
                    since += f", held through {lock['revisions_held']} revisions"
                lines.append(f"- {lock.get('lock', '?')} on {lock.get('table', '?')}{since}")
            else:
                lines.append(f"- {lock}")
    return lines


def risk_markdown(runbook: Runbook, records: Sequence[RiskRecord]) -> str:
    """The report's appendix: per risk check, its totals, the transaction, the waivers, the
    lock findings each in full, then the style findings apart (by rule, where they fell)."""
    out: list[str] = []
    for record in records:
        out += [f"## Migration risk (gate {record.item})", ""]
        if record.problem:
            out += [f"NOT READ: {record.problem}", ""]
            continue
        out += [*summary_lines(record), ""]
        out += [*transaction_lines(record.report), ""] if transaction_lines(record.report) \
            else []
        lines = waiver_lines([record])
        out += [*lines, ""]
        lock = [f for f in record.findings if category(f) == "lock"]
        out += [f"### Lock findings ({len(lock)})", ""]
        out += [line for f in lock for line in _lock_lines(f)] or ["None."]
        out.append("")
        style = style_groups(record)
        total = sum(len(at) for _rule, _message, at in style)
        out += [f"### Style findings ({total}), apart: a column's type or a key, not a lock", ""]
        for rule, message, at in style:
            out.append(f"- `{rule}` ({len(at)}): {message} — at {', '.join(at)}")
        out += [""] if style else ["None.", ""]
    unmatched = unmatched_waivers(runbook, records)
    if records and unmatched:
        out += [f"Waivers that matched no finding: {'; '.join(unmatched)}", ""]
    return "\n".join(out)


def summary_lines(record: RiskRecord) -> list[str]:
    report, totals = record.report, record.report.get("totals") or {}
    path = report.get("path") or []
    return [f"{report.get('from', '?')} → {report.get('to', '?')}: {len(path)} revision(s); "
            f"{totals.get('blocking', '?')} blocking, {totals.get('errors', '?')} error(s), "
            f"{totals.get('warnings', '?')} warning(s), {totals.get('waived', '?')} waived "
            f"(report {record.file})."]


def _lock_lines(finding: dict[str, Any]) -> list[str]:
    mark = " · WAIVED" if isinstance(finding.get("waived"), dict) else ""
    lines = [f"- {finding.get('severity', '?')}{mark} · {_where(finding)}: "
             f"{_one_line(finding.get('message'))}"]
    if finding.get("statement"):
        lines.append(f"  `{_one_line(finding['statement'])}`")
    return lines


def style_groups(record: RiskRecord) -> list[tuple[str, str, list[str]]]:
    """The style findings by rule and message: (rule, message, where: "r3 line 4", …), in
    the order each is first met — one line for 200 `prefer-text-field`, each place named."""
    groups: dict[tuple[str, str], list[str]] = {}
    for finding in record.findings:
        if category(finding) != "style":
            continue
        key = (str(finding.get("rule", "?")), _one_line(finding.get("message")))
        line = f" line {finding['line']}" if finding.get("line") else ""
        groups.setdefault(key, []).append(f"{finding.get('revision', '?')}{line}")
    return [(rule, message, at) for (rule, message), at in groups.items()]
