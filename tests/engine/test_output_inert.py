"""Invariant 11, output is data: the one function every display path calls (inert.py), for any
text; and the reports and `status`, which show a step's output (a halt's line, a decision's
errors) to a person. The screens, headless and the plain mirror have theirs beside their own
tests (test_headless.py, tests/mirror/test_plain.py, tests/tui/test_output_log.py)."""

from __future__ import annotations

import subprocess
import tempfile
import unicodedata
from html import escape
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cockpit.engine.controller import Controller
from cockpit.session.inert import inert, inert_bytes, inert_lines
from cockpit.session.logtail import LINE_BYTES_GUESS, LogTail
from tests.engine.helpers import (
    HOSTILE_OUTPUT,
    HOSTILE_SHOWN,
    assert_inert,
    hostile_world,
    run_hostile,
)
from tests.run import cockpit

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


LINE = st.one_of(st.binary(), st.text(ANY_CHAR).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.text(PRINTABLE).map(str.encode)).map(lambda b: b.replace(b"\n", b""))
PLAIN = [b"a", b" ", b"\t", "\u00e9".encode(), "\u2014".encode(), "\u2713".encode(),
         b"\x1b[31m"]
ODD = [b"", b"\r", b"\x1b", b"\x00", b"\x08", b"\x1f", b"\x7f", b"\x9b", b"\xff", b"\xe2\x82",
       "\x85".encode(), "\u202e".encode(), "\u2069".encode(), "\u2028".encode()]


@st.composite
def one_odd_piece(draw: st.DrawFn) -> list[bytes]:
    """Plain lines, one of which holds one odd piece (or none): the batches that a look over
    them all must not take for plain."""
    lines = draw(st.lists(st.lists(st.sampled_from(PLAIN)).map(b"".join), min_size=1))
    index = draw(st.integers(0, len(lines) - 1))
    at = draw(st.integers(0, len(lines[index])))
    lines[index] = lines[index][:at] + draw(st.sampled_from(ODD)) + lines[index][at:]
    return lines


@given(st.one_of(one_odd_piece(), st.lists(LINE)), st.booleans())
@example([b"plain", b"crlf\r", "caf\u00e9 \u2014 ok".encode()], False)
def test_many_lines_at_once_show_as_each_alone(lines: list[bytes], crlf: bool) -> None:
    """The follower's batch (one look over all its lines first) shows what inert_bytes shows
    of each line."""
    lines = [line + b"\r" for line in lines] if crlf else lines
    assert inert_lines(b"".join(line + b"\n" for line in lines)) == \
        [inert_bytes(line) for line in lines]


@pytest.mark.parametrize("odd", ODD, ids=[repr(odd) for odd in ODD])
def test_a_batch_with_one_odd_piece_is_not_taken_for_plain(odd: bytes) -> None:
    lines = [b"plain \xe2\x80\x94 \x1b[1mbold\x1b[0m", b"x" + odd + b"y", b"crlf\r"]
    assert inert_lines(b"".join(line + b"\n" for line in lines)) == \
        [inert_bytes(line) for line in lines]


@given(st.lists(LINE, max_size=20), st.binary(max_size=8).map(lambda b: b.replace(b"\n", b"")))
def test_the_follower_shows_each_line_of_a_log_as_inert_bytes_does(lines: list[bytes],
                                                                    partial: bytes) -> None:
    """LogTail, which every follower reads through: each line, the last one without its LF
    too, as inert_bytes shows it; its bounded tail (`last`) the same."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "step.log"
        log.write_bytes(b"".join(line + b"\n" for line in lines) + partial)
        whole = [inert_bytes(line) for line in [*lines, *([partial] if partial else [])]]
        tail = LogTail(log)
        assert tail.read(keep=1 << 30) + tail.flush() == whole
        if all(len(line) < 300 for line in lines[-3:]):  # in a window of 3 * 400 bytes
            assert LogTail(log).read(keep=3) == whole[:len(lines)][-3:]
        if log.stat().st_size <= 5 * LINE_BYTES_GUESS:  # else its first line is cut off
            assert LogTail(log).last(5) == whole[-5:]


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
    assert inert_bytes(HOSTILE_OUTPUT).splitlines() == HOSTILE_SHOWN


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    done = cockpit(*args, timeout=60, text=False)
    assert done.returncode == 0, done.stderr
    return done


def test_step_output_escape_sequences_are_inert_in_the_reports(tmp_path: Path) -> None:
    """The halt's line and the decision's errors quote the hostile step's last line: the
    Markdown report, the HTML page and the evidence's checklist and decision record show it
    as caret text, and hold no control character."""
    _done, session = run_hostile(tmp_path)
    line = HOSTILE_SHOWN[-1]
    markdown = assert_inert(_run("report", str(session)).stdout, "report")
    assert f"\n    {line}\n" in markdown and f"abort rule duplicate-table: {line}" in markdown
    page = assert_inert(_run("report", str(session), "--html").stdout, "report --html")
    assert escape(f"abort rule duplicate-table: {line}") in page
    for name in ("checklist.md", "decision.md"):
        kept = assert_inert((session / "evidence" / name).read_bytes(), name)
        assert line in kept


def test_a_halt_reason_quoting_output_is_inert_in_status(tmp_path: Path) -> None:
    """An operator who pastes the offending line into the halt's reason: `status` shows it
    as caret text (the event keeps it as given)."""
    ctl = Controller.start(hostile_world(tmp_path), folder=tmp_path / "s", env={},
                           halt_hooks=[])
    pasted = HOSTILE_OUTPUT.decode("utf-8", errors="replace").splitlines()[0]
    try:
        ctl.halt(f"stopped: the step printed {pasted}", by="operator")
        assert ctl.state.halt is not None and pasted in ctl.state.halt.reason
    finally:
        ctl.close()
    shown = assert_inert(_run("status", str(tmp_path / "s")).stdout, "status")
    assert f"stopped: the step printed {HOSTILE_SHOWN[0]}" in shown
