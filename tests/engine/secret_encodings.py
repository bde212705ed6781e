"""The forms a secret may take in a program's output, computed here — by the tests' own code,
never the cockpit's — and the passwords the secrets tests draw (every class of character).

As a step's command (the password is the one in the libpq DSN held by the variable VAR):
    python secret_encodings.py print VAR   every form, one a line, as a step would leak them
    python secret_encodings.py hold VAR KEPT GLOB
                                           a query on VAR's database whose text holds the
                                           password across character 200 (KEPT before it),
                                           held until the lock radar's series (GLOB) shows it;
                                           then exit 1, a failed step (the session halts)
"""

from __future__ import annotations

import base64
import json
import re
import string
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

CUTS = (200, 1000)  # the length limits of the radar's and the probes' query texts


def encodings(secret: str) -> dict[str, bytes]:
    """Each form of `secret` as printed whole (JSON with its quotes, repr with its prefix)."""
    raw = secret.encode("utf-8")
    percent = quote(secret, safe="")
    forms = {
        "raw": raw,
        "%XX": percent.encode(),
        "%xx": re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), percent).encode(),
        "quote_plus": quote_plus(secret).encode(),
        "json": json.dumps(secret).encode(),
        "json, not ascii": json.dumps(secret, ensure_ascii=False).encode("utf-8"),
        "json, \\/": json.dumps(secret).replace("/", "\\/").encode(),
        "json, not ascii, \\/": json.dumps(secret, ensure_ascii=False)
        .replace("/", "\\/").encode("utf-8"),
        "repr": repr(secret).encode("utf-8"),
        "bytes repr": repr(raw).encode(),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "utf-16-le": secret.encode("utf-16-le"),
        "utf-16-be": secret.encode("utf-16-be"),
        "sql literal": ("'" + secret.replace("'", "''") + "'").encode("utf-8"),
        "libpq": ("password='" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'")
        .encode("utf-8"),
    }
    for offset in range(3):  # inside a longer base64 string, at each byte offset
        for name, encode in (("base64", base64.b64encode),
                             ("base64url", base64.urlsafe_b64encode)):
            forms[f"{name} at {offset}"] = encode(b"u" * offset + raw + b"!")
    return forms


def telltales(secret: str) -> dict[str, bytes]:
    """What no output may hold: the part of each form that only the secret makes (inside the
    quotes; the base64 characters that depend on the secret's bytes alone)."""
    found = encodings(secret)
    inner = {name: form for name, form in found.items() if not name.startswith("base64")}
    for name in ("json", "json, not ascii", "json, \\/", "json, not ascii, \\/", "repr",
                 "sql literal"):
        inner[name] = inner[name][1:-1]
    inner["bytes repr"] = inner["bytes repr"][2:-1]
    inner["libpq"] = inner["libpq"][len("password='"):-1]
    raw = secret.encode("utf-8")
    for offset in range(3):
        for name, encode in (("base64", base64.b64encode),
                             ("base64url", base64.urlsafe_b64encode)):
            whole = encode(b"u" * offset + raw + b"!")
            # the 4-character groups that encode the secret's bytes alone
            first = (offset + 2) // 3 * 4 if offset else 0
            last = (offset + len(raw)) // 3 * 4
            if last - first >= 8:
                inner[f"{name} at {offset}"] = whole[first:last]
    return {name: form for name, form in inner.items() if form}


def cut(secret: str, limit: int, kept: int, filler: str) -> str:
    """A line cut at `limit` characters by another program, keeping `kept` characters of the
    secret at its end."""
    return (filler * (limit - kept) + secret + filler * 3)[:limit]


def filler_for(secret: str) -> str:
    return next(c for c in "#~=_:;" if c not in secret)


def across(limit: int, kept: int, secret: str, start: str) -> tuple[str, str]:
    """An SQL query (`start` opens a string literal) whose text holds `secret` as an SQL
    literal across character `limit`, `kept` of its characters before it; and its text up to
    the secret."""
    head = start + filler_for(secret) * (limit - kept - len(start))
    return head, head + secret.replace("'", "''") + "'"


# Passwords of every class: at least 8 characters, each class alone and mixed.
ASCII = string.ascii_letters + string.digits + string.punctuation
QUOTES = "'\"\\"
CONTROL = "\t\x1b\x07\x7f\x9b\r\n\x01"
NON_ASCII = st.characters(min_codepoint=0x80, blacklist_categories=("Cs",))
CLASSES = {
    "ascii": st.sampled_from(ASCII),
    "space": st.sampled_from(" " + string.ascii_letters),
    "quotes": st.sampled_from(QUOTES + string.ascii_letters),
    "non-ascii": st.one_of(NON_ASCII, st.sampled_from(string.ascii_letters)),
    "control": st.sampled_from(CONTROL + string.ascii_letters),
    "mixed": st.one_of(st.sampled_from(ASCII + " " + QUOTES + CONTROL), NON_ASCII),
}


def passwords(distinct: int = 0) -> st.SearchStrategy[str]:
    """Passwords of at least 8 characters of every class; `distinct`: at least this many
    different characters (so that a password cannot be ordinary text of a session file)."""
    found = st.one_of(*(st.text(alphabet, min_size=8, max_size=24)
                        for alphabet in CLASSES.values()))
    return found.filter(lambda p: len(set(p)) >= distinct) if distinct else found


def leak(var: str) -> None:
    """Print every form of the password of the DSN in `var`, and lines cut through it."""
    import os

    from psycopg.conninfo import conninfo_to_dict

    from tests.waiting import let_time_pass

    secret = str(conninfo_to_dict(os.environ[var])["password"])
    out = sys.stdout.buffer
    for i, form in enumerate(encodings(secret).values()):
        out.write(f"leak {i:02d}: ".encode() + form + b"\n")
        out.flush()
    filler = filler_for(secret)
    for limit in CUTS:
        for kept in range(6, len(secret)):
            out.write(cut(secret, limit, kept, filler).encode("utf-8") + b"\n")
    out.write(b"straddle: " + secret[:4].encode())
    out.flush()
    let_time_pass(0.2)  # the password in two writes: one read must not see it whole
    out.write(secret[4:].encode() + b" end\n")
    out.write(os.environ[var].encode() + b"\n")
    out.flush()


def hold(var: str, kept: int, series: str) -> int:
    """Run a query holding the password across character 200 and keep its session open
    until the radar has sampled it; then fail."""
    import glob
    import os

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from tests.waiting import within

    secret = str(conninfo_to_dict(os.environ[var])["password"])
    _, query = across(CUTS[0], kept, secret, RADAR_START)

    def sampled() -> bool:
        seen = b"".join(Path(p).read_bytes() for p in glob.glob(series))
        return RADAR_START.encode() in seen

    with psycopg.connect(os.environ[var], autocommit=True) as conn:
        conn.execute(query.encode())
        saw = within(sampled, deadline_s=60, every_s=0.1)
    print("the radar saw the query" if saw else "the radar never saw the query", flush=True)
    return 1


RADAR_START = "SELECT 'held for the radar' AS s, '"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.waiting, run as a step
    if sys.argv[1] == "print":
        leak(sys.argv[2])
    else:
        sys.exit(hold(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
