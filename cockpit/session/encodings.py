"""How a secret may be written by the programs a step runs: regular expressions (bytes, in
the syntax RE2 and Python's `re` share; only the quick scan's loose forms use RE2's `\\C`)
that match it in every encoding, and the literal forms no such expression can hold.

One expression per secret covers the escaping families at once — each character raw, or
percent-encoded (`%C3%A9`, `%c3%a9`, `%%C3`, `+` for a space), or backslash-escaped as
Python, JSON, C, JavaScript or a shell write it (`\\xe9`, `\\u00e9`, `\\U000000e9`,
`\\u{e9}`, the UTF-8 bytes as `\\xc3\\xa9` or `\\303\\251`, `\\n`, `\\/`, `\\'`, `\\"`, up
to three levels deep as in JSON inside JSON), a quote doubled (SQL) or a control byte in
caret notation (`^[`). Hex digits match in either case. Beside it: the hex dump of the
UTF-8 bytes, UTF-16 (LE and BE), base64 fragments at any offset, and the secret's prefixes
that end a line or a quoted value (a cut another program made).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from math import isqrt

# A base64 fragment shorter than this would mask ordinary text by accident.
MIN_B64_FRAGMENT = 8
B64_TOKEN = rb"[A-Za-z0-9+/_=-]*"
# A secret's prefix this long (characters) that ends a line or a quoted value is masked: a
# cut another program made (`left(query, 200)`, `text[:1000]`). Shorter ones would mask
# ordinary words that happen to begin a password.
MIN_PREFIX = 6
# What may end a record at a cut: a line break or the closing quote of a value.
_RECORD_END = r"""[\r\n"'`]"""
# The start of an escape that a cut interrupted (`%C`, `\u00`): masked with the prefix.
_CUT_ESCAPE = r"(?:\\{1,4}(?:[xuU]\{?)?[0-9a-fA-F]{0,7}|%%?[0-9a-fA-F]?)?"
_CUT_ESCAPE_LONGEST = 13

# A secret longer than this is found by its first characters first (then matched whole).
LONG_SECRET = 64
_ESC = r"\\{1,4}"  # one backslash, or the two or four of an escape inside JSON inside JSON
_SHORT_ESCAPES = {"\n": "n", "\t": "t", "\r": "r", "\b": "b", "\f": "f", "\v": "v",
                  "\a": "a", "\0": "0", "\x1b": "[eE]"}


def _hex(value: int, width: int) -> str:
    """`value` as `width` hex digits, either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")


def _hex_any_width(value: int) -> str:
    """`value` in hex without its leading zeros, or with a few (JavaScript's `\\u{e9}`)."""
    return "0{0,4}" + _hex(value, 1 if value < 16 else len(f"{value:x}"))


@dataclass(frozen=True)
class Unit:
    """One character of a secret: the expression for its every encoding, and the most bytes
    it can take."""

    pattern: str
    longest: int


def char_unit(char: str) -> Unit:
    """Every way `char` may be written: raw, escaped, percent-encoded, quoted."""
    code = ord(char)
    raw = re.escape(char)
    utf8 = char.encode("utf-8")
    ways: list[tuple[str, int]] = []
    if char == "\\":
        ways.append((r"\\{1,8}", 8))
    elif char in "\"'/":
        ways.append((r"\\{0,7}" + raw, 8))
        if char == "'":
            ways.append(("''", 2))  # SQL's quote doubled
    else:
        ways.append((raw, len(utf8)))
    if char == " ":
        ways.append((r"\+", 1))  # quote_plus
    ways.append(("".join("%%?" + _hex(b, 2) for b in utf8), 4 * len(utf8)))
    if code < 0x100:  # Python's \xe9, JSON's \u00e9, Python's \U000000e9
        ways.append((_ESC + "(?:x|u00|U000000)" + _hex(code, 2), 13))
    elif code < 0x10000:
        ways.append((_ESC + "(?:u|U0000)" + _hex(code, 4), 13))
    else:  # JSON and JavaScript write it as a UTF-16 surrogate pair
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        ways.append((_ESC + "u" + _hex(high, 4) + _ESC + "u" + _hex(low, 4), 18))
        ways.append((_ESC + "U" + _hex(code, 8), 13))
    ways.append((_ESC + r"u\{" + _hex_any_width(code) + r"\}", 17))  # JavaScript's \u{e9}
    if code >= 0x80:  # its UTF-8 bytes, as a bytes repr (`\xc3\xa9`) or C's octal
        ways.append(("".join(_ESC + "x" + _hex(b, 2) for b in utf8), 7 * len(utf8)))
        ways.append(("".join(_ESC + f"{b:03o}" for b in utf8), 7 * len(utf8)))
    if code < 0x20 or code == 0x7F:
        if char in _SHORT_ESCAPES:
            ways.append((_ESC + _SHORT_ESCAPES[char], 6))
        ways.append((_ESC + "0{0,2}" + f"{code:o}", 7))
        ways.append((r"\^" + re.escape(chr(code ^ 0x40)), 2))  # caret notation: ^[ , ^?
    pattern = "|".join(way for way, _ in ways)
    return Unit(f"(?:{pattern})", max(n for _, n in ways))


def _nested(units: list[Unit]) -> str:
    """Any prefix of `units`, the empty one included."""
    out = ""
    for unit in reversed(units):
        out = f"(?:{unit.pattern}{out})?"
    return out


def _any_prefix(units: list[Unit]) -> str:
    """Any prefix of `units` (the empty one and the whole included), nested in chunks so
    that the depth stays near 2·sqrt(n) for a long secret (RE2 and `re` limit nesting)."""
    if not units:
        return ""
    size = max(1, isqrt(len(units)))
    chunks = [units[i : i + size] for i in range(0, len(units), size)]
    tail = _nested(chunks[-1])
    for chunk in reversed(chunks[:-1]):
        whole = "".join(u.pattern for u in chunk)
        tail = f"(?:{whole}{tail}|{_nested(chunk[:-1])})"
    return tail


@dataclass(frozen=True)
class SecretPatterns:
    """The expressions and literal forms for one secret."""

    whole: list[bytes]  # expressions matching the whole secret, most specific first
    binary: list[bytes]  # literal forms that are not UTF-8: no RE2 expression matches them
    fragments: list[bytes]  # base64 fragments: the whole base64 token around them goes
    prefix: bytes | None  # a cut prefix (MIN_PREFIX characters or more, not the whole)
    quick: list[bytes]  # what finds every match of the above (and maybe more), for one scan
    longest: int  # the most bytes one match (of `whole`, or a cut prefix) can take


def secret_patterns(secret: str) -> SecretPatterns:
    units = [char_unit(c) for c in secret]
    utf8 = secret.encode("utf-8")
    whole = ["".join(u.pattern for u in units).encode("utf-8"),
             "".join(_hex(b, 2) for b in utf8).encode("ascii")]
    utf16 = [secret.encode(codec) for codec in ("utf-16-le", "utf-16-be")]
    binary = [form for form in utf16 if not _is_utf8(form)]
    whole += [re.escape(form) for form in utf16 if _is_utf8(form)]
    fragments = sorted(base64_fragments(utf8), key=len, reverse=True)
    prefix = None
    if len(units) > MIN_PREFIX:
        head = "".join(u.pattern for u in units[:MIN_PREFIX])
        prefix = (head + _any_prefix(units[MIN_PREFIX:-1]) + _CUT_ESCAPE).encode("utf-8")
    if len(secret) <= LONG_SECRET:
        quick = [*whole, *map(re.escape, fragments)]
        if prefix is not None:
            quick.append(prefix + record_end(True, capture=False))
    else:  # its first characters in each form: a scan with every long form costs too much
        quick = ["".join(u.pattern for u in units[:MIN_PREFIX]).encode("utf-8"),
                 "".join(_hex(b, 2) for b in utf8[:MIN_PREFIX]).encode("ascii"),
                 *(loose(form[: 2 * MIN_PREFIX]) for form in utf16),
                 *(re.escape(f[:16]) for f in fragments)]
    if len(secret) <= LONG_SECRET:
        quick += map(loose, binary)
    # (a cut prefix may carry an interrupted escape and its record's end beyond its units)
    longest = max(sum(u.longest for u in units), 2 * len(utf8), *map(len, binary)) \
        + _CUT_ESCAPE_LONGEST + 1
    return SecretPatterns(whole=whole, binary=binary, fragments=fragments, prefix=prefix,
                          quick=quick, longest=longest)


def _is_utf8(form: bytes) -> bool:
    try:
        form.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def base64_fragments(secret: bytes) -> set[bytes]:
    """The base64 characters that encode `secret` alone, at byte offset 0, 1 or 2 of a
    longer encoded string (standard and URL-safe alphabets)."""
    forms: set[bytes] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(secret)
        forms |= {whole, whole.rstrip(b"=")}
        for offset in (1, 2):
            encoded = encode(b"\0" * offset + secret)
            start = 4  # the first group mixes prefix and secret bytes
            end = len(encoded) - (4 if (offset + len(secret)) % 3 else 0)
            fragment = encoded[start:end]
            if len(fragment) >= MIN_B64_FRAGMENT:
                forms.add(fragment)
        tail = whole[: len(whole) - (4 if len(secret) % 3 else 0)]
        if len(tail) >= MIN_B64_FRAGMENT:
            forms.add(tail)  # offset 0, followed by more bytes
    return forms


def loose(form: bytes) -> bytes:
    """An RE2 expression (UTF-8 mode) that matches the bytes `form`, and a little more:
    `\\C`, any byte, stands for each byte that is no part of a UTF-8 character."""
    text = form.decode("utf-8", errors="surrogateescape")
    return b"".join(rb"\C" if "\udc80" <= c <= "\udcff" else re.escape(c).encode("utf-8")
                    for c in text)


def record_end(at_end: bool, capture: bool = True) -> bytes:
    """What may follow a cut prefix: a line break or a closing quote, and the end of the
    data when nothing more of it can follow (captured as group 1, `capture`)."""
    ends = f"{_RECORD_END}|$" if at_end else _RECORD_END
    return (f"({ends})" if capture else f"(?:{ends})").encode()
