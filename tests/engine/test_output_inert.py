"""Invariant 11, output is data: the one function every display path calls (inert.py), for any
text; and the reports and `status`, which show a step's output (a halt's line, a decision's
errors) to a person. The screens, headless and the plain mirror have theirs beside their own
tests (test_headless.py, tests/mirror/test_plain.py, tests/tui/test_output_log.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cockpit.session.inert import inert, inert_bytes

# what no shown text may hold: controls but TAB and LF, surrogates (not text), and the
# characters that reorder or break a line while printing nothing
OVERRIDES = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]))


def obeyed(char: str) -> bool:
    return (unicodedata.category(char) in ("Cc", "Cs") and char not in "\t\n") \
        or char in OVERRIDES


ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and controls too
PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=OVERRIDES)


@given(st.text(ANY_CHAR))
@example("\x1b]2;PWNED\x07\x9b2J\r\x7f\u202e\udc9b\r")
def test_inert_text_holds_no_control_but_tab_and_line_feed(text: str) -> None:
    shown = inert(text)
    assert not [c for c in shown if obeyed(c)]
    assert inert(shown) == shown  # shown twice (a pane fed by a follower): the same
    shown.encode("utf-8")  # printable as it is: no lone surrogate left


@given(st.text(st.one_of(PRINTABLE, st.sampled_from("\t\n"))))
@example("tab\there, ^[ and <U+202E> as typed, 日本語, e\u0301, 👩\u200d💻\n")
def test_inert_is_the_identity_on_printable_text(text: str) -> None:
    assert inert(text) == text


@given(st.binary())
def test_inert_bytes_shows_any_bytes_as_text_without_controls(data: bytes) -> None:
    assert not [c for c in inert_bytes(data) if obeyed(c)]


@pytest.mark.parametrize(("printed", "shown"), [
    ("\x1b]2;T\x07", "^[]2;T^G"),  # OSC 2: ESC and BEL in caret notation
    ("\x08\x00\x1f\x7f", "^H^@^_^?"),
    ("\x9b2J \x9d52;c;x\x9c", "^[[2J ^[]52;c;x^[\\"),  # C1: ESC and its Fe letter
    ("a\rb", "a^Mb"),  # a lone CR would overwrite the line's start
    ("a\r\nb\r", "a\nb"),  # a CR before LF (or cut from it by a line split) is the break
    ("a\r\r\n", "a^M\n"),
    ("\u202eevil\u2066\u2028", "<U+202E>evil<U+2066><U+2028>"),
    ("\udc80\udcff\ud800", "^[@\ufffd\ufffd"),  # undecodable bytes (surrogateescape)
    ("tab\tand\nline", "tab\tand\nline"),
])
def test_inert_shows_each_control_in_one_notation(printed: str, shown: str) -> None:
    assert inert(printed) == shown


def test_a_raw_c1_byte_shows_as_its_control_and_other_bad_bytes_as_replacement() -> None:
    # a cut sequence: its lead byte replaced, its 0x82 shown as the C1 control it is alone
    assert inert_bytes(b"\x9b2J\xc2\x9b1A\xff\xe2\x82") == "^[[2J^[[1A\ufffd\ufffd^[B"
