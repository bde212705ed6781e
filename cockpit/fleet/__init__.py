"""Fleets: one approved runbook across many databases, in waves with a canary. Each target
is a cockpit session of its own; the fleet is a session too, whose events are its ledger.
Above the engine: nothing below knows of fleets."""
