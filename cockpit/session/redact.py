"""Redaction of secrets in every form a program may print them.

A password can reach output raw, percent-encoded (`quote`, `quote_plus`, SQLAlchemy's URL
form), with `%` doubled (ini files), JSON- or repr-escaped, or base64-encoded — alone, or
inside a longer base64 string at any byte offset. Every form is replaced before a byte is
written anywhere.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from cockpit.session.fastre import compile_any

MASK = b"***"
# A base64 fragment shorter than this would mask ordinary text by accident.
_MIN_B64_FRAGMENT = 8
_B64_CHARS = rb"[A-Za-z0-9+/_=-]*"


def _base64_forms(secret: bytes) -> set[bytes]:
    forms: set[bytes] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(secret)
        forms |= {whole, whole.rstrip(b"=")}
        # Inside a longer string the secret starts at byte offset 0, 1 or 2 of a 3-byte
        # group; keep only the characters that depend on the secret's bytes alone.
        for offset in (1, 2):
            encoded = encode(b"\0" * offset + secret)
            start = 4  # the first group mixes prefix and secret bytes
            end = len(encoded) - (4 if (offset + len(secret)) % 3 else 0)
            fragment = encoded[start:end]
            if len(fragment) >= _MIN_B64_FRAGMENT:
                forms.add(fragment)
        tail = whole[: len(whole) - (4 if len(secret) % 3 else 0)]
        if len(tail) >= _MIN_B64_FRAGMENT:
            forms.add(tail)  # offset 0, followed by more bytes
    return forms


def secret_forms(secret: str) -> set[bytes]:
    """Every byte string under which `secret` may appear in output."""
    texts = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe=" +"),  # SQLAlchemy's URL rendering
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
    }
    texts |= {t.replace("%", "%%") for t in texts if "%" in t}  # configparser escaping
    return {t.encode("utf-8") for t in texts if t}


class Redactor:
    """Replaces every form of every registered secret with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[bytes] = set()
        fragments: set[bytes] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
                fragments |= _base64_forms(secret.encode("utf-8"))
        # Longest first, so a form containing another is replaced whole.
        self.forms = sorted(forms, key=len, reverse=True)
        self.fragments = sorted(fragments, key=len, reverse=True)
        self.longest = max((len(f) for f in [*self.forms, *self.fragments]), default=0)
        # One alternation finds "nothing to do" at RE2 speed (the usual case).
        every = sorted({*self.forms, *self.fragments}, key=len, reverse=True)
        self.pattern: bytes | None = b"|".join(re.escape(f) for f in every) if every else None
        self._any = compile_any(self.pattern) if self.pattern else None

    def __bool__(self) -> bool:
        return bool(self.forms)

    def redact(self, data: bytes) -> bytes:
        if self._any is None or self._any.search(data) is None:
            return data
        for form in self.forms:
            if form in data:
                data = data.replace(form, MASK)
        for fragment in self.fragments:
            if fragment in data:
                # Mask the whole base64 token: its edges still encode bytes of the secret.
                data = re.sub(_B64_CHARS + re.escape(fragment) + _B64_CHARS, MASK, data)
        return data

    def describe(self, error: BaseException) -> str:
        """An error as the operator reads it — its kind and message — with secrets masked."""
        return self.redact_text(f"{type(error).__name__}: {error}")

    def redact_text(self, text: str) -> str:
        if not self.forms:
            return text
        return self.redact(text.encode("utf-8")).decode("utf-8", errors="replace")
