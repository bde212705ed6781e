"""A moment as each destination takes it: the plain JSON message (a webhook, a command's
stdin), a Slack Block Kit message, a Teams Adaptive Card. Step output may be in a moment (a
halt's line), so nothing in it may act: control bytes are made inert, and Slack's markup
(`<!channel>`, `<url|text>`) is escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cockpit.session.format import clip
from cockpit.session.inert import inert
from cockpit.session.moments import Moment

SLACK_HEADER_MAX = 150  # Block Kit: a header's plain text
SLACK_TEXT_MAX = 3000  # Block Kit: a section's text
SLACK_FIELDS_MAX = 10
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"  # what Teams' Workflows webhooks render
_COLOURS = {"halted": "Attention", "behind": "Warning", "retry": "Warning", "hold": "Warning",
            "countersign": "Warning"}


@dataclass(frozen=True)
class About:
    """What every message says of its session."""

    session: str
    runbook: str
    environment: str | None
    production: bool
    evidence: str  # the session's folder: where the evidence is


def message(moment: Moment, about: About) -> dict[str, Any]:
    """The plain message: a webhook's body and a command's stdin."""
    return {"id": moment.id, "seq": moment.seq, "moment": moment.kind,
            "title": inert(moment.title),
            "lines": [inert(line) for line in moment.lines],
            "facts": {inert(k): inert(v) for k, v in moment.facts.items()},
            "session": about.session, "runbook": about.runbook,
            "environment": about.environment, "production": about.production,
            "time": moment.at, "evidence": about.evidence, "test": moment.kind == "test"}


def body(kind: str, moment: Moment, about: About) -> bytes:
    """The bytes sent to a destination of `kind`."""
    plain = message(moment, about)
    shaped = slack(plain) if kind == "slack" else teams(plain) if kind == "teams" else plain
    return json.dumps(shaped, ensure_ascii=False).encode()


def _context(plain: dict[str, Any]) -> list[tuple[str, str]]:
    # which database it is about, plainly: a rehearsal's GO is not production's
    runbook = f"{plain['runbook']} ({'production' if plain['production'] else 'rehearsal'}"
    runbook += f" runbook, environment {plain['environment']})" if plain["environment"] \
        else " runbook)"
    return [("Session", plain["session"]), ("Runbook", runbook), ("Time (UTC)", plain["time"]),
            ("Evidence", plain["evidence"]), ("Message id", plain["id"])]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(plain: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming webhook's message: the title as its notification text and header,
    the lines, the facts and where it comes from."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": False,
                                    "text": clip(plain["title"], SLACK_HEADER_MAX)}}]
    said = [plain["title"]] if len(plain["title"]) > SLACK_HEADER_MAX else []
    said += plain["lines"]
    if said:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": clip(_slack_escape("\n".join(said)), SLACK_TEXT_MAX)}})
    pairs = [*plain["facts"].items(), *_context(plain)][:SLACK_FIELDS_MAX]
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": clip(f"*{_slack_escape(k)}*\n{_slack_escape(v)}", 2000)}
        for k, v in pairs]})
    return {"text": clip(_slack_escape(plain["title"]), SLACK_TEXT_MAX), "blocks": blocks}


def _card_text(text: str) -> str:
    # a card's TextBlock reads Markdown: a link in step output is not made a link
    return text.replace("](", "]\u200b(")


def teams(plain: dict[str, Any]) -> dict[str, Any]:
    """A Teams Workflows webhook's message: one Adaptive Card."""
    title: dict[str, Any] = {"type": "TextBlock", "text": _card_text(plain["title"]),
                             "weight": "Bolder", "size": "Medium", "wrap": True}
    if (colour := _COLOURS.get(plain["moment"])) is not None:
        title["color"] = colour
    body_: list[dict[str, Any]] = [title]
    body_ += [{"type": "TextBlock", "text": _card_text(line), "wrap": True}
              for line in plain["lines"]]
    body_.append({"type": "FactSet", "facts": [
        {"title": _card_text(k), "value": _card_text(v)}
        for k, v in [*plain["facts"].items(), *_context(plain)]]})
    card = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION,
            "body": body_}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}
