"""The controller, gate evaluation, the step supervisor, redaction and abort rules."""
