"""The Redactor alone, over many passwords: every encoding the tests compute themselves
(secret_encodings.py) is masked, and a password cut at a line's end by another program too.
The forms that once escaped it (issue #26) each have a test of their own."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.engine.launcher import launch, write_spec
from cockpit.session.redact import Redactor
from cockpit.session.runfiles import RunFiles
from tests.engine.secret_encodings import (
    CUTS,
    cut,
    encodings,
    filler_for,
    passwords,
    telltales,
)

# What a cut must leave of a password for the cockpit to take it for one (the cockpit's
# choice, encodings.MIN_PREFIX: a shorter prefix is ordinary text as often as not).
MIN_PREFIX = 6


def _leaks(password: str, data: bytes) -> list[str]:
    return [name for name, form in telltales(password).items() if form in data]


def _lines(password: str) -> list[bytes]:
    # labels are numbers: no word of a label can be taken for a password
    return [f"leak {i:02d}: ".encode() + form + b"\n"
            for i, form in enumerate(encodings(password).values())]


def _every_encoding_masked(password: str) -> None:
    redactor = Redactor([password])
    lines = _lines(password)
    one_by_one = b"".join(redactor.redact(line) for line in lines)
    at_once = redactor.redact(b"".join(lines))
    assert _leaks(password, one_by_one) == [], one_by_one
    assert _leaks(password, at_once) == [], at_once
    assert one_by_one.count(b"leak ") == len(lines)  # masking took no line with it


def _cut_masked(password: str, data: st.DataObject) -> None:
    redactor = Redactor([password])
    kept = data.draw(st.integers(MIN_PREFIX, len(password) - 1), label="kept")
    end = data.draw(st.sampled_from(["\n", "\r\n", '"', "'", ""]), label="end")
    for limit in CUTS:
        line = cut(password, limit, kept, filler_for(password)) + end
        out = redactor.redact(line.encode())
        assert password[:kept].encode() not in out
        # the filler, the mask, then what is left of the end (the password's own next
        # characters, when the end begins with them, went with it)
        head = line[: limit - kept].encode()
        assert out.startswith(head + b"***") and end.encode().endswith(out[len(head) + 3:]), out


@settings(max_examples=100, deadline=None)
@given(password=passwords())
def test_every_encoding_of_any_password_is_masked(password: str) -> None:
    _every_encoding_masked(password)


@settings(max_examples=60, deadline=None)
@given(password=passwords(), data=st.data())
def test_a_password_cut_at_a_lines_end_is_masked(password: str, data: st.DataObject) -> None:
    """Another program cut the line (`left(query, 200)`, `text[:1000]`): MIN_PREFIX or more
    characters of the password end it."""
    _cut_masked(password, data)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(password=passwords())
def test_every_encoding_of_any_password_is_masked_sweep(password: str) -> None:
    _every_encoding_masked(password)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(password=passwords(), data=st.data())
def test_a_password_cut_at_a_lines_end_is_masked_sweep(password: str,
                                                       data: st.DataObject) -> None:
    _cut_masked(password, data)


def test_a_short_word_that_begins_the_password_is_not_masked() -> None:
    """Fewer than MIN_PREFIX characters at a line's end are ordinary text: the evidence
    keeps them (a line ending in "post" is no leak of "postgres-Adm1n")."""
    redactor = Redactor(["postgres-Adm1n"])
    assert redactor.redact(b"connecting as post\n") == b"connecting as post\n"
    assert redactor.redact(b"connecting as postgr\n") == b"connecting as ***\n"


def test_a_partial_line_keeps_its_end_until_the_line_goes_on() -> None:
    """The supervisor redacts a partial line with `more`: its end is no cut yet."""
    redactor = Redactor(["Kv-S3cret-xyz"])
    assert redactor.redact(b"straddle: Kv-S3cr", more=True) == b"straddle: Kv-S3cr"
    assert redactor.redact(b"straddle: Kv-S3cr") == b"straddle: ***"


# ------------------------------------------------------------ the forms that escaped (#26)

NON_ASCII = "Kv-S3crét/€xyz"


def test_hex_upper_and_lower_case_is_masked() -> None:
    redactor = Redactor([NON_ASCII])
    raw = NON_ASCII.encode()
    for form in (raw.hex(), raw.hex().upper()):
        assert redactor.redact(f"dump {form} end".encode()) == b"dump *** end"


def test_lower_case_percent_encoding_is_masked() -> None:
    redactor = Redactor([NON_ASCII])
    lower = "Kv-S3cr%c3%a9t%2f%e2%82%acxyz"
    assert redactor.redact(f"url=postgresql://app:{lower}@db/x".encode()) == \
        b"url=postgresql://app:***@db/x"


def test_json_with_escaped_slashes_is_masked() -> None:
    redactor = Redactor([NON_ASCII])
    for ensure_ascii in (True, False):
        text = json.dumps({"password": NON_ASCII}, ensure_ascii=ensure_ascii)
        out = redactor.redact(text.replace("/", "\\/").encode())
        assert out == b'{"password": "***"}'


def test_utf16_le_and_be_are_masked() -> None:
    redactor = Redactor([NON_ASCII])
    for codec in ("utf-16-le", "utf-16-be"):
        data = "x ".encode(codec) + NON_ASCII.encode(codec) + " y".encode(codec)
        assert NON_ASCII.encode(codec) not in redactor.redact(data)
    # an ASCII password's UTF-16 is found by the streaming path's single RE2 search too
    ascii_only = Redactor(["Kv-S3cret-xyz"])
    assert ascii_only.redact("Kv-S3cret-xyz".encode("utf-16-le")) == b"***"


def test_bytes_repr_of_a_non_ascii_password_is_masked() -> None:
    redactor = Redactor([NON_ASCII])
    assert redactor.redact(f"got {NON_ASCII.encode()!r}".encode()) == b"got b'***'"


def test_a_control_character_inside_the_password_is_masked_in_every_notation() -> None:
    """ESC inside the password, as programs print it: raw, caret (`cat -v`), bash's `\\E`
    (printf %q), C's octal, JSON's upper-case `\\u001B`, Python's bytes repr of a C1 byte."""
    redactor = Redactor(["Kv-\x1b[31m-x\x9by"])
    for form in ("Kv-\x1b[31m-x\x9by", "Kv-^[[31m-x\x9by", "$'Kv-\\E[31m-x\\302\\233y'",
                 "Kv-\\033[31m-x\\u009by", '"Kv-\\u001B[31m-x\\u009By"',
                 repr("Kv-\x1b[31m-x\x9by".encode())):
        out = redactor.redact(form.encode())
        assert b"[31m" not in out, (form, out)


def test_an_sql_literal_with_its_quote_doubled_is_masked() -> None:
    redactor = Redactor(["it's-a-s3cret!"])
    assert redactor.redact(b"ALTER ROLE app PASSWORD 'it''s-a-s3cret!';") == \
        b"ALTER ROLE app PASSWORD '***';"
    assert redactor.redact(b"host=db password='it\\'s-a-s3cret!' dbname=x") == \
        b"host=db password='***' dbname=x"


def test_a_long_secret_is_masked_and_costs_the_stream_nothing_until_it_appears() -> None:
    """A secret may be a long token (a whole variable's value): ordinary output streams
    past it at RE2 speed (a 256-character secret once made that 1.8 s per MB), and where it
    appears it is masked, whole or cut."""
    token = "".join(f"{i:04x}Tk/" for i in range(125))  # 1,000 characters
    redactor = Redactor([token])
    ordinary = b"INFO  [alembic.runtime.migration] batch 0000001 of 1000000: rows=1000 ok\n"
    stream = ordinary * (4_000_000 // len(ordinary))
    started = time.perf_counter()
    assert redactor.redact(stream) is stream
    assert time.perf_counter() - started < 2.0  # ~0.05 s; 8 s before
    assert redactor.redact(f"key={token}\n".encode()) == b"key=***\n"
    assert redactor.redact(f"{json.dumps({'key': token[:700]})}\n".encode()) == \
        b'{"key": "***"}\n'


def test_a_prefix_that_waits_for_the_rest_of_its_line_is_not_taken_for_a_cut(
        tmp_path: Path) -> None:
    """The supervisor writes a partial line after 50 ms: eight characters of the password
    at its end are the start of the password still arriving, not a cut — the whole is
    masked once it has come, and nothing of it is written before."""
    password = "Kv-S3cret-xyz-Tail"
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, time\n"
        # longer than what the supervisor holds back of a partial line: the rest is written
        f"sys.stdout.write('split: ' + 'x' * 4000 + {password[:8]!r}); sys.stdout.flush()\n"
        "time.sleep(0.5)\n"
        f"sys.stdout.write({password[8:]!r} + ' tail\\n')\n"
        f"sys.stdout.write('cut: ' + {password[:8]!r} + '\\n')\n")
    files = RunFiles(tmp_path, "step.1")
    write_spec(files, {"step": "step", "command": shlex.join([sys.executable, str(script)]),
                       "cwd": str(tmp_path), "log": str(tmp_path / "step.log"), "rules": [],
                       "grace": 5.0})
    launch(files, dict(os.environ), [password]).wait(60)
    assert (tmp_path / "step.log").read_bytes() == \
        b"split: " + b"x" * 4000 + b"*** tail\ncut: ***\n"
