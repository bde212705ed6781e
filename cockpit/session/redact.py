"""Redaction of secrets in every form a program may print them (encodings.py says which),
before a byte is written anywhere.

One RE2 search finds "nothing to do" on the streaming path (the usual case); only data that
holds a secret pays for the replacement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from cockpit.session.encodings import B64_TOKEN, loose, record_end, secret_patterns
from cockpit.session.fastre import compile_any, compile_fast

MASK = b"***"


class Redactor:
    """Replaces every form of every registered secret with `***`; a secret's prefix that
    ends a line or a quoted value (cut by another program) too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.secrets = found
        every = [secret_patterns(s) for s in found]
        # Longest secret first, so a secret that holds another is replaced whole.
        whole = [p for s in every for p in s.whole]
        whole += [B64_TOKEN + re.escape(f) + B64_TOKEN for s in every for f in s.fragments]
        self.binary = sorted({f for s in every for f in s.binary}, key=len, reverse=True)
        prefixes = [s.prefix for s in every if s.prefix]
        self.longest = max((s.longest for s in every), default=0)
        self._whole: Any = compile_any(b"|".join(whole)) if whole else None
        self._cut: dict[bool, Any] = {}
        quick = list(whole)
        if prefixes:
            alternatives = b"(?:" + b"|".join(prefixes) + b")"
            self._cut = {at_end: compile_any(alternatives + record_end(at_end))
                         for at_end in (True, False)}
            quick.append(alternatives + record_end(True))
        # One RE2 expression that finds anything to do, for a caller's single scan (a form
        # that is not UTF-8, UTF-16 of a non-ASCII secret, is in it loosely: `\C`).
        exact = b"|".join(quick) if quick else None
        self.pattern: bytes | None = b"|".join([*quick, *map(loose, self.binary)]) \
            if exact or self.binary else None
        self._any: Any = None
        if self.pattern is not None:
            # without RE2, Python's `re` and a look for each binary form
            self._any = compile_fast(self.pattern) or (compile_any(exact) if exact else None)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def redact(self, data: bytes, more: bool = False) -> bytes:
        """`data` with every secret masked. `more`: more bytes of the same line may follow
        (a partial line), so the end of `data` is not taken for the end of a record."""
        if self.pattern is None:
            return data
        binary = [f for f in self.binary if f in data]
        if not binary and (self._any is None or self._any.search(data) is None):
            return data
        for form in binary:
            data = data.replace(form, MASK)
        if self._whole is not None:
            data = self._whole.sub(MASK, data)
        if self._cut:
            data = self._cut[not more].sub(MASK + rb"\g<end>", data)
        return data

    def describe(self, error: BaseException) -> str:
        """An error as the operator reads it — its kind and message — with secrets masked."""
        return self.redact_text(f"{type(error).__name__}: {error}")

    def redact_text(self, text: str) -> str:
        if not self.secrets:
            return text
        return self.redact(text.encode("utf-8")).decode("utf-8", errors="replace")


def secret_forms(secret: str) -> set[bytes]:
    """Some literal forms of `secret` (raw, percent-encoded, JSON, repr, hex), for a check
    that a text holds none of them."""
    texts = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             repr(secret)[1:-1], secret.encode("utf-8").hex()}
    return {t.encode("utf-8") for t in texts if t}
