"""Reads what a checklist asks to stop on — "Stop on:" with a list, "Cancel the run if ... or
..." in a sentence — into abort rules the cockpit can watch: a library rule where its words
name one, a `lock_queue` rule where it names sessions queued behind the migration, a literal
pattern only for text the checklist quotes. Anything else is no rule (the importer keeps it
as a confirmation): a pattern built from a condition's own description would never fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cockpit.runbook.abort_library import library_rule_for, literal_rule
from cockpit.runbook.model import AbortRule

# The verbs a lead line starts with, an adverb allowed before them ("Immediately stop if").
_VERB = r"^(?:(?:immediately|at once)\s+)?(?:abort|stop|halt|cancel|no-go)\b"
# "Stop on any of:", and without its colon: "Stop at once on any of the following".
_LIST_LEAD = re.compile(_VERB + r"(?:.*:|.*\b(?:any|all|one|each) of(?: the following| these)?"
                        r"|.*\bthe following|.*\b(?:on|if|when))\s*[-—–]?$", re.I)
_SENTENCE = re.compile(_VERB + r"(?P<middle>.*?)\b(?:if|on|when|upon|should)\s+(?P<conds>.+?)"
                       r"[.!]?$", re.I)
# "Abort if any unchecked", "No-Go if anything above is open": what the gates already do.
# Only such wholes: "replica lag is above 1 s" or "any preflight shows X" are conditions.
_CLOSING = re.compile(r"\b(?:unchecked|not (?:checked|ticked))\b|^anything above\b"
                      r"|^any (?:of the )?(?:\w+ )?(?:items?|gates?|criteri(?:on|a)|"
                      r"preconditions?|prerequisites?|checks?)(?: above)?(?: (?:is|are) "
                      r"(?:open|red|missing|not met)| fails?| failed)?$", re.I)
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|(?<![\w])'([^']+)'(?![\w])")
# A quoted word a tool prints, not an object's name: a message, an exception or SQLSTATE name.
_OUTPUT_LIKE = re.compile(r"\s|[a-z][A-Z]|^[A-Z][A-Z_]{2,}$|^[0-9A-Z]{5}$|(?:Error|Exception|"
                          r"Violation|Timeout)$")
_PRINTS = re.compile(r"\b(?:prints?|printed|shows?|outputs?|says|raises?|"
                     r"returns?|throws?|fails? with|errors? with)\b", re.I)
_SPLIT = re.compile(r"\s*(?:,\s*(?:or\s+)?|;\s*|\s+or\s+)", re.I)

_QUEUE = re.compile(r"\b(?:queue[ds]?|queuing|queueing|waiting|wait|blocked|stuck|behind|"
                    r"pil(?:e|ing) up)\b", re.I)
_WHO = r"(?:sessions?|connections?|queries|query|backends?|clients?|transactions?|requests?|" \
       r"writers?|statements?|processes|waiters?)"
_MORE_THAN = re.compile(rf"(?:\bmore than|\bover|\babove|\bexceed(?:s|ing)?|>)\s*(\d+)\s+"
                        rf"(?:[\w-]+\s+){{0,3}}?{_WHO}\b", re.I)
_AT_LEAST = re.compile(rf"(?:\bat least\s+(\d+)|\b(\d+)\s*(?:\+|or more))\s+"
                       rf"(?:[\w-]+\s+){{0,3}}?{_WHO}\b", re.I)
_WAITED = re.compile(r"\b(?:for|longer than|more than|over|>)\s*(?:more than\s+|longer than\s+)?"
                     r"(\d+)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
                     re.I)


@dataclass
class Condition:
    """One condition as the checklist wrote it, and the rule that watches it (None: the
    cockpit cannot watch it; it stays a confirmation)."""

    text: str
    rule: AbortRule | None


def is_abort_list(text: str) -> bool:
    """A lead line of a list of conditions: "Stop at once on any of:", "Halt on:"."""
    return bool(_LIST_LEAD.match(text))


def sentence_conditions(text: str) -> list[str] | None:
    """The conditions of an abort sentence ("Cancel the run if A or B." -> [A, B]); None for
    a line that is no abort sentence, [] for a closing line the gates already enforce."""
    m = _SENTENCE.match(text)
    if m is None or m["conds"].endswith(":"):
        return None
    conditions = split_conditions(m["conds"])
    if _CLOSING.search(m["conds"].strip(" .!")) and not any(condition(c).rule
                                                            for c in conditions):
        return []
    return conditions


def split_conditions(text: str) -> list[str]:
    """A sentence's conditions, split at "or", commas and semicolons outside quotes."""
    spans: list[str] = []

    def hide(m: re.Match[str]) -> str:
        spans.append(m[0])
        return f"\x00{len(spans) - 1}\x00"

    hidden = _QUOTED.sub(hide, text)
    parts = [re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m[1])], part)
             for part in _SPLIT.split(hidden)]
    cleaned = [re.sub(r"^(?:on|if|when|upon)\s+", "", part.strip(" .")) for part in parts]
    return [part for part in cleaned if part]


def condition(text: str) -> Condition:
    """The rule for one condition (its id is the importer's to choose)."""
    queue = lock_queue_rule(text)
    if queue is not None:
        return Condition(text, queue)
    # "the backfill prints `X`": X is the condition, not the words of its subject.
    printed = _PRINTS.search(text)
    known = library_rule_for(text[printed.end():] if printed else text)
    if known is not None:
        return Condition(text, known)
    literals = printed_literals(text)
    if literals:
        return Condition(text, literal_rule("rule", text, literals))
    return Condition(text, None)


def printed_literals(text: str) -> list[str]:
    """The quoted parts of a condition that are output to watch for: all of it quoted, quoted
    after "prints"/"shows", or shaped like a message or an error's name; not the subject of
    "`alembic heads` shows ..." nor an object's name ("on `contacts_chk`")."""
    whole = _QUOTED.sub("", text).strip(" .,:;()-") == ""
    found: list[str] = []
    for m in _QUOTED.finditer(text):
        literal = next(group for group in m.groups() if group)
        if len(literal.strip()) < 3:  # `q` or `—` would halt on half the output
            continue
        printed = _PRINTS.search(text[:m.start()])
        subject = _PRINTS.search(text[m.end():])
        if whole or printed or (not subject and _OUTPUT_LIKE.search(literal)):
            found.append(literal)
    return found


def lock_queue_rule(text: str) -> AbortRule | None:
    """A `lock_queue` rule for "More than 3 app sessions queued behind the migration" (more
    than 3 waiting) or "... waiting longer than 30 s" (the oldest waits over 30 s)."""
    if not _QUEUE.search(text) or not re.search(rf"\b{_WHO}\b", text, re.I):
        return None
    max_waiting: int | None = None
    if (m := _MORE_THAN.search(text)) and int(m[1]) >= 1:  # "more than 0": no such limit
        max_waiting = int(m[1])
    elif (m := _AT_LEAST.search(text)) and int(m[1] or m[2]) >= 2:
        max_waiting = int(m[1] or m[2]) - 1
    max_wait: str | None = None
    queue = _QUEUE.search(text)
    if queue is not None and (w := _WAITED.search(text, queue.start())) \
            and 0 < int(w[1]) < 10_000_000:  # what a runbook's duration can say
        max_wait = f"{int(w[1])}{_unit(w[2].lower())}"
    if max_waiting is None and max_wait is None:
        return None
    return AbortRule(id="lock-queue", label=text, kind="lock_queue", max_waiting=max_waiting,
                     max_wait=max_wait)


def _unit(word: str) -> str:
    """The runbook's duration unit for "seconds", "min", "ms", "hours"."""
    if word == "ms" or word.startswith("milli"):
        return "ms"
    return {"s": "s", "m": "min", "h": "h"}[word[0]]


def is_closing_line(text: str) -> bool:
    """"No-Go if anything above is unchecked": what the gates already enforce."""
    return sentence_conditions(text) == []
