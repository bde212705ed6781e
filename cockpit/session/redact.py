"""Redaction of secrets in every form a program may print them (encodings.py says which),
before a byte is written anywhere.

One RE2 search finds "nothing to do" on the streaming path (the usual case); only data that
holds a secret pays for the replacement, and the expressions that replace are compiled the
first time one is needed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from cockpit.session.encodings import B64_TOKEN, record_end, secret_patterns
from cockpit.session.fastre import compile_any, compile_fast

MASK = b"***"
# RE2's memory for the expressions that replace (a long secret's are large); its default,
# 8 MiB, would leave their DFA too little and the search would crawl.
_REPLACE_MEM = 64 << 20


class Redactor:
    """Replaces every form of every registered secret with `***`; a secret's prefix that
    ends a line or a quoted value (cut by another program) too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.secrets = found
        every = [secret_patterns(s) for s in found]
        # Longest secret first, so a secret that holds another is replaced whole.
        self._whole_pattern = b"|".join(
            [p for s in every for p in s.whole]
            + [B64_TOKEN + re.escape(f) + B64_TOKEN for s in every for f in s.fragments])
        prefixes = [s.prefix for s in every if s.prefix]
        self._cut_pattern = b"(?:" + b"|".join(prefixes) + b")" + record_end(True) \
            if prefixes else b""
        self._replacers: tuple[Any, Any] | None = None
        self.binary = sorted({f for s in every for f in s.binary}, key=len, reverse=True)
        self.longest = max((s.longest for s in every), default=0)
        # A secret one of whose forms holds a line break (raw, or UTF-16 of U+0Axx): a
        # line-by-line reader must mask it before it cuts at a line break.
        self.spans_lines = any("\n" in s or 0x0A in s.encode("utf-16-le") for s in found)
        # One RE2 expression that finds anything to do (and may find a little more), for a
        # caller's single scan: RE2 syntax (`\C`, any byte, stands in for UTF-16's).
        quick = [q for s in every for q in s.quick]
        self.pattern: bytes | None = b"|".join(quick) if quick else None
        self._any: Any = compile_fast(self.pattern) if self.pattern else None

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def _replace(self) -> tuple[Any, Any]:
        if self._replacers is None:
            whole = compile_any(self._whole_pattern, max_mem=_REPLACE_MEM)
            cut = compile_any(self._cut_pattern, max_mem=_REPLACE_MEM) \
                if self._cut_pattern else None
            self._replacers = (whole, cut)
        return self._replacers

    def redact(self, data: bytes, more: bool = False) -> bytes:
        """`data` with every secret masked. `more`: more bytes of the same line may follow
        (a partial line), so the end of `data` is not taken for the end of a record."""
        if not self.secrets:
            return data
        binary = [f for f in self.binary if f in data]
        # without RE2 (never in practice: it is a dependency), every look replaces
        if not binary and self._any is not None and self._any.search(data) is None:
            return data
        for form in binary:
            data = data.replace(form, MASK)
        whole, cut = self._replace()
        data = whole.sub(MASK, data)
        if cut is not None:
            end = len(data)

            def masked(match: Any) -> bytes:
                # a prefix at the very end of a partial line may go on in the next bytes
                kept: bytes = match.group(0) if more and match.end() == end else \
                    MASK + match.group(1)
                return kept

            data = cut.sub(masked, data)
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
