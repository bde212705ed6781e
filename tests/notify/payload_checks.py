"""What a payload must be for Slack and for Teams: Slack's by slack-sdk's Block Kit models;
the Teams card by the Adaptive Cards 1.5 JSON schema (tests/fixtures: its source named)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
from slack_sdk.models.blocks import Block

from tests.conftest import REPO

SCHEMA = REPO / "tests" / "fixtures" / "adaptive-card-1.5.0.schema.json"


def check_slack(payload: dict[str, Any]) -> None:
    """Every block parses as its Block Kit model and passes its own validation (lengths,
    required parts), and parses back to what was sent."""
    assert set(payload) == {"text", "blocks"} and payload["text"]
    for raw in payload["blocks"]:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError
        assert block.to_dict() == raw, (block.to_dict(), raw)


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def check_teams(payload: dict[str, Any]) -> dict[str, Any]:
    """The Workflows envelope with one Adaptive Card that the schema accepts; the card."""
    assert payload["type"] == "message" and len(payload["attachments"]) == 1
    attachment = payload["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    errors = sorted(_validator().iter_errors(card), key=str)
    assert not errors, [e.message for e in errors]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    return card  # type: ignore[no-any-return]
