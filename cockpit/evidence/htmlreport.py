"""`cockpit report SESSION --html`: the session as one self-contained page — its timeline
(inline SVG), then the filled checklist and the decision record. No script, no stylesheet or
font fetched from anywhere: it opens the same on an air-gapped machine and in an archive."""

from __future__ import annotations

from html import escape

from cockpit.evidence.report import render_report
from cockpit.evidence.timeline import timeline_svg
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
"""


def html_report(found: SessionSnapshot) -> str:
    """The page; what it shows was redacted when the session wrote it."""
    state = found.state
    decision = state.decision.status if state.decision else "no decision yet"
    facts = [f"session {escape(state.session_id)}", f"runbook {escape(state.runbook_id)}",
             f"operator {escape(state.operator)}@{escape(state.host)}",
             f"started {escape(state.started_at)}"]
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
    checklist = escape(render_report(found.runbook, state))
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(found.runbook.title)} — {escape(state.session_id)}</title>"
            f"<style>{_STYLE}</style></head><body>\n"
            f"<h1>{escape(found.runbook.title)}</h1>\n"
            f"<p class=\"facts\">{' · '.join(facts)} · decision "
            f"<span class=\"verdict-{escape(decision)}\">{escape(decision)}</span></p>\n"
            f"{halted}\n{legend}\n{svg}\n"
            f"<h2>The filled checklist and the decision record</h2>\n<pre>{checklist}</pre>\n"
            "</body></html>\n")
