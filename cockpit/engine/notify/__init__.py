"""Telling the people who wait: the cutover's moments (session/moments.py) sent to each
`[[notify]]` destination of the runbook by the cockpit that holds the session's lock, on
threads of their own, each attempt an event (notifier.py); the bodies (payloads.py) and the
one attempt (transport.py)."""
