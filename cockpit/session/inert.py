"""Step output made inert for a person's eyes (invariant 11): every character a terminal could
act on is shown as caret text, so a reviewer sees what a step printed, never what a terminal
would make of it. Only what is shown goes through here; the log keeps the bytes as printed.

The notation, the same on every screen, stream and report:
  C0 controls (but TAB and LF) as `^@`..`^_` (ESC `^[`, BEL `^G`, BS `^H`, a lone CR `^M`);
  DEL as `^?`; a C1 control (U+0080-U+009F, or a raw 0x80-0x9F byte that is not UTF-8) as
  its 7-bit form, `^[` and its Fe letter (CSI `^[[`, OSC `^[]`, ST `^[\\`); a bidi override or
  isolate and the Unicode line and paragraph separators as `<U+202E>`; any other lone
  surrogate (an undecodable byte) as U+FFFD. A CR just before a LF, or ending the text, is
  part of the line break and is dropped. Colour is not interpreted: SGR shows as `^[[31m`.
"""

from __future__ import annotations

import re

# Reorder or break a line while printing nothing: shown by name, never obeyed.
_INVISIBLE = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]


def _table() -> dict[str, str]:
    table = {chr(c): "^" + chr(c + 0x40) for c in range(0x20) if c not in (0x09, 0x0A)}
    table["\x7f"] = "^?"
    table |= {chr(c): "^[" + chr(c - 0x40) for c in range(0x80, 0xA0)}
    table |= {chr(c): f"<U+{c:04X}>" for c in _INVISIBLE}
    table |= {chr(c): "\ufffd" for c in range(0xD800, 0xE000)}  # not text: cannot be shown
    # a raw 0x80-0x9F byte that was not UTF-8 (decoded with surrogateescape): its C1 control
    table |= {chr(0xDC00 + c): "^[" + chr(c - 0x40) for c in range(0x80, 0xA0)}
    return table


_SHOWN_AS = _table()
# ASCII a terminal obeys but TAB, LF and CR (a CR is looked at apart: before LF it is the break)
_OBEYED_ASCII = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# how a C1 control, a bidi override or isolate, U+2028/9 begin in UTF-8 (a cheap first look)
_UTF8_LEADS = (b"\xc2", b"\xe2\x80", b"\xe2\x81")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")  # the table's keys, as ranges


def _shown(match: re.Match[str]) -> str:
    found = match.group()
    if found == "\r":  # part of the line break before a LF, or where a line split cut it
        after = match.string[match.end():match.end() + 1]
        if after in ("\n", ""):
            return ""
    return _SHOWN_AS[found]


def inert(text: str) -> str:
    """`text` as it may be shown: no control character but TAB and LF survives, and text
    without any comes back unchanged (a printable line costs one scan, in C)."""
    if text.isprintable() or _CONTROL.search(text) is None:  # almost every line a step prints
        return text
    return _CONTROL.sub(_shown, text)


def inert_lines(block: bytes) -> list[str]:
    """The lines of `block` (each ending in LF) as `inert_bytes` shows each. A follower takes
    lines in thousands, so they are looked at together, in C: a block with no control but
    ESC (colour: its caret text put in at once) and no CR but before a LF is only decoded
    and split — as cheap as decoding it was before inert.py."""
    plain = block.replace(b"\x1b", b"^[") if b"\x1b" in block else block
    if len(plain.translate(None, _OBEYED_ASCII)) == len(plain) \
            and (b"\r" not in plain or plain.count(b"\r") == plain.count(b"\r\n")) \
            and (plain.isascii() or not any(lead in plain for lead in _UTF8_LEADS)):
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            pass  # a byte that is not UTF-8: each line as inert_bytes shows it
        else:
            return (text.replace("\r\n", "\n") if "\r" in text else text).split("\n")[:-1]
    return [inert_bytes(line) for line in block.split(b"\n")[:-1]]


def inert_bytes(data: bytes) -> str:
    """Bytes a step printed, decoded for showing: a byte that is not UTF-8 is shown as
    `inert` shows its code point's C1 control (0x80-0x9F) or as U+FFFD."""
    return inert(data.decode("utf-8", errors="surrogateescape"))
