"""The risk gate's report as Markdown, kept in the session beside its JSON: one table per
revision, every reason whole, and what one transaction holds to its end."""

from __future__ import annotations

from typing import Any


def size_text(rows: int | None, size: int | None, table: str | None) -> str:
    """A table's size as the report and the gate's line show it."""
    if size is None:
        return "new" if table else ""
    counted = f"{rows:,} rows" if rows is not None else "rows unknown"
    return f"{counted}, {size / 1048576:.1f} MB"


def report_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Migration risk: {report['from']} → {report['to']}", "",
             f"{len(report['path'])} revision(s) on the path; tables of "
             f"{report['limits']['rows']:,} rows or {report['limits']['megabytes']} MB make a "
             "blocking lock an error. squawk rules left out: "
             f"{', '.join(report['excluded_rules'])} (the runbook sets the timeouts).", "",
             f"**{report['totals']['blocking']} blocking**, {report['totals']['errors']} "
             f"error(s), {report['totals']['warnings']} warning(s), "
             f"{report['totals']['waived']} waived; {report['totals']['style']} of them "
             "style (the schema's shape, blocking nobody).", "",
             *_transaction_lines(report["transaction"])]
    by_revision: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_revision.setdefault(finding["revision"], []).append(finding)
    retry = {r["revision"]: r for r in report.get("retryable", [])}
    undo = {r["revision"]: r for r in report.get("reversal", [])}
    for revision in [*report["path"], *[r for r in by_revision if r not in report["path"]]]:
        found = by_revision.get(revision, [])
        lines += [f"## {revision}", ""]
        if (told := retry.get(revision)) is not None:
            lines += [f"Retryable on a lock timeout: {'yes' if told['retryable'] else 'no'} "
                      f"({told['why']}).", ""]
        if (undone := undo.get(revision)) is not None:
            lines += [f"Reversal: {undone['said']}.", ""]
        if not found:
            lines += ["No finding.", ""]
            continue
        lines += ["| severity | kind | rule | line | statement | why | lock | table | size "
                  "| waived |", "|---|---|---|---|---|---|---|---|---|---|"]
        for f in found:
            waived = (f"{f['waived']['reason']} ({f['waived']['approved_by']})"
                      if f["waived"] else "")
            statement = f"`{f['statement']}`" if f["statement"] else ""
            cells = [f["severity"], f["kind"], f["rule"], str(f["line"] or ""), statement,
                     f["message"], f["lock"] or "", f["table"] or "",
                     size_text(f['rows'], f['bytes'], f['table']), waived]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _transaction_lines(transaction: dict[str, Any]) -> list[str]:
    if transaction["one_transaction"] is None:
        return []
    if not transaction["one_transaction"]:
        return ["The upgrade commits each revision on its own "
                "(`transaction_per_migration`): a lock is released when its revision ends.", ""]
    held = transaction["held_to_end"]
    lines = ["**The upgrade runs as one transaction**: every lock it takes is held until its "
             f"last revision commits. Held to the end: {len(held) or 'no'} table lock(s).", ""]
    for h in held:
        lines.append(f"- {h['lock']} on {h['table']} from {h['revision']} through "
                     f"{h['through']} ({h['revisions_held']} revision(s))")
    return [*lines, ""] if held else lines
