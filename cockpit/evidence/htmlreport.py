"""`cockpit report SESSION --html`: the session as one self-contained page — its timeline
(inline SVG), then the filled checklist and the decision record. No script, no stylesheet or
font fetched from anywhere: it opens the same on an air-gapped machine and in an archive."""

from __future__ import annotations

from html import escape

from cockpit.evidence.report import render_report
from cockpit.evidence.riskrecord import (
    RiskRecord,
    category,
    risk_records,
    size_text,
    style_groups,
    summary_lines,
    transaction_lines,
    unmatched_waivers,
    waiver_lines,
)
from cockpit.evidence.timeline import timeline_svg
from cockpit.runbook.model import Runbook
from cockpit.session import rules
from cockpit.session.inert import inert
from cockpit.session.reader import SessionSnapshot
from cockpit.session.timing import rehearsed_durations

_STYLE = """
body { font-family: sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
.facts { color: #616161; margin-bottom: 16px; }
.verdict-PASS { color: #2e7d32; font-weight: bold; }
.verdict-BLOCKER, .halted { color: #c62828; font-weight: bold; }
.legend span { margin-right: 14px; }
pre { background: #fafafa; border: 1px solid #e0e0e0; padding: 12px; white-space: pre-wrap; }
table.risk { border-collapse: collapse; font-size: 13px; }
table.risk td, table.risk th { border: 1px solid #e0e0e0; padding: 3px 6px; vertical-align: top; }
table.risk code { white-space: pre-wrap; }
details.style { color: #616161; margin: 8px 0; }
"""
_RISK_COLUMNS = ("severity", "revision", "rule", "line", "lock", "table", "size", "finding",
                 "waived")


def html_report(found: SessionSnapshot) -> str:
    """The page; what it shows was redacted when the session wrote it."""
    state = found.state
    decision = state.decision.status if state.decision else "no decision yet"
    facts = [f"session {escape(state.session_id)}", f"runbook {escape(state.runbook_id)}",
             f"operator {escape(state.operator)}@{escape(state.host)}",
             f"started {escape(state.started_at)}"]
    if state.environment:
        facts.insert(2, f"environment {escape(state.environment)}")
    if state.rehearsal is not None:
        said = ("proved by" if rules.rehearsal_proved(found.runbook, state)
                else "linked to (not proved by)")
        facts.append(f"{said} rehearsal {escape(state.rehearsal.session_id)} (last hash "
                     f"{escape(state.rehearsal.last_hash[:16])})")
    halted = (f'<p class="halted">HALTED: {escape(inert(state.halt.reason))}</p>'
              if state.halt is not None else "")
    svg = timeline_svg(found.runbook, found.events, found.folder, rehearsed_durations(state))
    legend = ('<p class="legend"><span style="color:#2e7d32">■ passed</span>'
              '<span style="color:#c62828">■ failed</span>'
              '<span style="color:#7e57c2">▭ rehearsal</span>'
              '<span style="color:#2e7d32">▬◆ gate (its check\'s time, then its verdict)</span>'
              '<span style="color:#1565c0">● confirmation</span>'
              '<span style="color:#c62828">| halt</span></p>')
    risk = risk_records(found.runbook, state, found.folder)
    checklist = escape(render_report(found.runbook, state, folder=found.folder,
                                     appendix=False))
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(found.runbook.title)} — {escape(state.session_id)}</title>"
            f"<style>{_STYLE}</style></head><body>\n"
            f"<h1>{escape(found.runbook.title)}</h1>\n"
            f"<p class=\"facts\">{' · '.join(facts)} · decision "
            f"<span class=\"verdict-{escape(decision)}\">{escape(decision)}</span></p>\n"
            f"{halted}\n{legend}\n{svg}\n"
            f"<h2>The filled checklist and the decision record</h2>\n<pre>{checklist}</pre>\n"
            f"{risk_html(found.runbook, risk)}</body></html>\n")


def risk_html(runbook: Runbook, records: list[RiskRecord]) -> str:
    """Each risk check's findings: its waivers, the lock findings in a table, every word
    whole; the style findings apart, folded away (they block nothing)."""
    out: list[str] = []
    for record in records:
        out.append(f"<h2>Migration risk (gate {escape(record.item)})</h2>")
        if record.problem:
            out.append(f'<p class="halted">NOT READ: {escape(inert(record.problem))}</p>')
            continue
        out += _paragraphs([*summary_lines(record), *transaction_lines(record.report)])
        waivers = waiver_lines([record])
        out.append(f"<h3>{escape(waivers[0])}</h3>")
        out += _paragraphs(waivers[1:])
        lock = [f for f in record.findings if category(f) == "lock"]
        out.append(f"<h3>Lock findings ({len(lock)})</h3>")
        if lock:
            out.append('<table class="risk"><tr>' + "".join(
                f"<th>{c}</th>" for c in _RISK_COLUMNS) + "</tr>")
            out += [_risk_row(f) for f in lock]
            out.append("</table>")
        style = style_groups(record)
        total = sum(len(at) for _rule, _message, at in style)
        out.append(f'<details class="style"><summary>Style findings ({total}), apart: a '
                   "column's type or a key, not a lock</summary><ul>")
        out += [f"<li><code>{escape(rule)}</code> ({len(at)}): {escape(message)} — at "
                f"{escape(', '.join(at))}</li>" for rule, message, at in style]
        out.append("</ul></details>")
    unmatched = unmatched_waivers(runbook, records)
    if records and unmatched:
        out.append(f"<p>Waivers that matched no finding: {escape('; '.join(unmatched))}</p>")
    return "".join(f"{line}\n" for line in out)


def _paragraphs(lines: list[str]) -> list[str]:
    """Lines as paragraphs, a run of "- " lines as one list."""
    out: list[str] = []
    for line in lines:
        if line.startswith("- "):
            if not out or out[-1] != "</ul>":
                out.append("<ul>")
            else:
                out.pop()
            out += [f"<li>{escape(inert(line[2:]))}</li>", "</ul>"]
        else:
            out.append(f"<p>{escape(inert(line))}</p>")
    return out


def _risk_row(finding: dict[str, object]) -> str:
    waived = finding.get("waived")
    cells = [finding.get("severity"), finding.get("revision"), finding.get("rule"),
             finding.get("line"), finding.get("lock"), finding.get("table"), size_text(finding)]
    text = " ".join(str(finding.get("message") or "").split())
    statement = str(finding.get("statement") or "")
    said = escape(inert(text)) + (f"<br><code>{escape(inert(statement))}</code>"
                                  if statement else "")
    by = (f"{escape(inert(str(waived.get('reason'))))} (approved by "
          f"{escape(inert(str(waived.get('approved_by'))))})" if isinstance(waived, dict) else "")
    return ("<tr>" + "".join(f"<td>{escape(inert(str(c or '')))}</td>" for c in cells)
            + f"<td>{said}</td><td>{by}</td></tr>")
