"""The three formats: Slack Block Kit (slack-sdk's models), a Teams Adaptive Card (the 1.5
schema), the plain JSON message; hostile step output in a moment stays text."""

from __future__ import annotations

import json

import pytest

from cockpit.engine.notify.payloads import SLACK_HEADER_MAX, About, body
from cockpit.session.moments import Moment
from tests.notify.payload_checks import check_slack, check_teams

ABOUT = About(session="20261206T101500Z-demo-ab12", runbook="demo-cutover",
              environment="production", production=True, evidence="/srv/sessions/x")
HOSTILE = ("HALTED at step upgrade by rule duplicate-table: <!channel> <https://evil.example|"
           "click> [link](https://evil.example) \x1b]2;PWNED\x07 & \u202e done")


def _moment(kind: str, title: str, **more: object) -> Moment:
    return Moment(id="20261206T101500Z-demo-ab12#42", seq=42, kind=kind, title=title,
                  at="2026-12-06T10:20:00.000Z", **more)  # type: ignore[arg-type]


MOMENTS = [
    _moment("gates", "GO: every hard gate passed"),
    _moment("halted", HOSTILE, lines=["the line: ERROR: relation \"x\" already exists"],
            facts={"step": "upgrade", "rule": "duplicate-table", "by": "abort"}),
    _moment("decision", "DECISION: PASS", lines=["manifest sha256: " + "a" * 64],
            facts={"manifest sha256": "a" * 64, "decision record (JSON) sha256": "b" * 64}),
    _moment("phase", "PHASE P3 started: " + "x" * 400),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.kind)
def test_slack_payload_is_block_kit(moment: Moment) -> None:
    payload = json.loads(body("slack", moment, ABOUT))
    check_slack(payload)
    header = payload["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= SLACK_HEADER_MAX
    fields = [f["text"] for b in payload["blocks"] for f in b.get("fields", [])]
    assert any(ABOUT.session in f for f in fields) and any(moment.id in f for f in fields)


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.kind)
def test_teams_card_meets_the_schema(moment: Moment) -> None:
    card = check_teams(json.loads(body("teams", moment, ABOUT)))
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert texts[0].startswith(moment.title.split(":")[0])
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet"
             for f in b["facts"]}
    assert facts["Session"] == ABOUT.session and facts["Message id"] == moment.id
    assert facts["Time (UTC)"] == moment.at and facts["Evidence"] == ABOUT.evidence


def test_the_schema_refuses_what_teams_would() -> None:
    """The check can fail: a card element the schema does not know is refused."""
    payload = json.loads(body("teams", MOMENTS[0], ABOUT))
    payload["attachments"][0]["content"]["body"].append({"type": "TextBlok", "text": "x"})
    with pytest.raises(AssertionError):
        check_teams(payload)


def test_hostile_text_stays_text() -> None:
    """Step output in a halt: Slack's mentions and links are escaped, a card's Markdown link
    is broken, and no control byte or bidi override reaches anyone."""
    moment = MOMENTS[1]
    sent = json.loads(body("slack", moment, ABOUT))
    # mrkdwn (the notification text, sections, fields) would act on them; plain_text not
    marked = [sent["text"]] + [t for b in sent["blocks"] for t in
                               ([b["text"]["text"]] if b.get("text", {}).get("type") == "mrkdwn"
                                else []) + [f["text"] for f in b.get("fields", [])]]
    assert all("<!channel>" not in t and "<https://evil" not in t for t in marked)
    assert "&lt;!channel&gt;" in sent["text"]
    for kind in ("slack", "teams", "webhook"):
        sent = json.loads(body(kind, moment, ABOUT))
        text = json.dumps(sent, ensure_ascii=False)
        assert "\x1b" not in text and "\\u001b" not in text and "\u202e" not in text, kind
        assert "^[]2;PWNED^G" in text and "<U+202E>" in text, kind
    teams = json.dumps(json.loads(body("teams", moment, ABOUT)))
    assert "](https://evil" not in teams


def test_plain_message_carries_the_identity() -> None:
    sent = json.loads(body("webhook", MOMENTS[2], ABOUT))
    assert sent["id"] == "20261206T101500Z-demo-ab12#42" and sent["moment"] == "decision"
    assert (sent["session"], sent["runbook"], sent["environment"]) == (
        ABOUT.session, "demo-cutover", "production")
    assert sent["time"] == "2026-12-06T10:20:00.000Z" and sent["evidence"] == ABOUT.evidence
    assert sent["facts"]["manifest sha256"] == "a" * 64
