"""Reads a checklist's setup block, in the shell its team wrote it for — sh/bash (`cd`, `export`),
PowerShell (`Set-Location`, `$env:X = "..."`) or cmd (`cd /d`, `set X=...`) — into what the
cockpit checks: the working directory the block enters, and the variables it sets.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cockpit.runbook.paths import path_name

_POWERSHELL_LANGS = {"powershell", "pwsh", "ps1", "ps"}
_CD = re.compile(r"^(?:cd|chdir|pushd|set-location|sl|push-location)(?:\s+/d)?"
                 r"(?:\s+-(?:literal)?path)?(?:\s+(?P<arg>.+?))?\s*;?$", re.I)
_SH_ENV = re.compile(r"^(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*?);?$")
_PS_ENV = re.compile(r"^\$env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.+?);?$", re.I)
_CMD_ENV = re.compile(r'^set\s+(?P<q>"?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*?)(?P=q)$',
                      re.I)
_COMMENT = re.compile(r"^(?:#|rem\b|::|@echo\b)", re.I)
_HOME = re.compile(r"^(?:\$HOME|\$\{HOME\}|\$env:USERPROFILE|\$env:HOME|%USERPROFILE%)(?=$|[\\/])",
                   re.I)
# A DSN's password written as a placeholder: what the setup's `password_placeholder` names.
_PASSWORD = re.compile(r"^([^:]+://[^:@/]+:)(<[^>]+>|\$\{[^}]+\}|\{\{[^}]+\}\})@")
# What a shell would compute when it runs: the importer cannot know it.
_COMPUTED = re.compile(r"\$\(|`|%[A-Za-z_]+%|\$\{?[A-Za-z_]")
# A URL's password written as a placeholder (`${DB_PASSWORD}`, `<PASSWORD>`): the template's.
_PASSWORD_PLACEHOLDER = re.compile(r"(://[^:/@]+:)(?:\$\{[A-Za-z_]\w*\}|<[^>]+>|\{\{[^}]+\}\})@")


@dataclass
class ShellSetup:
    """What the setup blocks do: the shell to render a derived block in, the directory they
    end in (None: none, or one the importer cannot follow — `why` says which), and each
    variable they set (None: a value only the shell computes)."""

    shell: str = "sh"
    workdir: str | None = None
    why_no_workdir: str = "no setup block enters a directory (`cd`, `Set-Location`)"
    env: dict[str, str | None] = field(default_factory=dict)


def read_setup(blocks: list[tuple[str, list[str]]]) -> ShellSetup:
    """The setup that (lang, lines) code blocks perform: the blocks of one shell in order;
    a bash and a PowerShell block are alternatives (a folder each would enter `ledger`, not
    `ledger/ledger`), taken together where they agree."""
    families: dict[str, list[tuple[str, list[str]]]] = {}
    for block in blocks:
        families.setdefault(_in_order([block]).shell, []).append(block)
    reads = [_in_order(group) for group in families.values()]
    if len(reads) <= 1:
        return reads[0] if reads else ShellSetup()
    out = reads[0]
    for other in reads[1:]:
        if other.workdir is not None and out.workdir is not None and \
                other.workdir.replace("\\", "/") != out.workdir.replace("\\", "/"):
            out.workdir, out.why_no_workdir = None, (
                f"the setup's blocks enter different folders (`{out.workdir}`, "
                f"`{other.workdir}`)")
        elif out.workdir is None and out.why_no_workdir == ShellSetup().why_no_workdir:
            out.workdir, out.why_no_workdir = other.workdir, other.why_no_workdir  # no cd
        for name, value in other.env.items():
            out.env.setdefault(name, value)
    return out


def _in_order(blocks: list[tuple[str, list[str]]]) -> ShellSetup:
    out = ShellSetup()
    for lang, lines in blocks:
        if lang.lower() in _POWERSHELL_LANGS:
            out.shell = "powershell"
        for raw in lines:
            _read_line(raw.strip(), out)
    return out


def _read_line(line: str, out: ShellSetup) -> None:
    if not line or _COMMENT.match(line):
        return
    if m := _PS_ENV.match(line):
        out.shell = "powershell"
        out.env[m["name"]] = _value(m["value"])
    elif m := _CMD_ENV.match(line):
        out.env[m["name"]] = _value(m["value"]) if not m["q"] else m["value"]
    elif m := _CD.match(line):
        if line.lower().startswith(("set-location", "push-location", "sl ")):
            out.shell = "powershell"
        _enter(out, _value(m["arg"] or ""))
    elif m := _SH_ENV.match(line):
        out.env[m["name"]] = _value(m["value"])


def _value(text: str) -> str | None:
    """A shell word as the shell would read it, or None if only the shell can compute it."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    home = _HOME.sub("~", text)
    # A password placeholder such as ${DB_PASSWORD} stays: the template names it.
    return None if _COMPUTED.search(_PASSWORD_PLACEHOLDER.sub(r"\1@", home)) else home


def _enter(out: ShellSetup, path: str | None) -> None:
    if not path or path == "-":
        out.workdir, out.why_no_workdir = None, "the setup block's `cd` goes where only the " \
            "shell knows"
        return
    if is_absolute(path) or out.workdir is None:
        out.workdir = path
        return
    windows = "\\" in out.workdir and "/" not in out.workdir
    joined = (ntpath if windows else posixpath).join(out.workdir, path)
    out.workdir = (ntpath if windows else posixpath).normpath(joined)


def is_absolute(path: str) -> bool:
    """A path that does not depend on the folder it is read from (`~` included)."""
    return path.startswith(("/", "~", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", path))


def workdir_problem(text: str, shell: ShellSetup) -> str:
    """Why a working-directory line cannot be typed from the block ("" if it can)."""
    if shell.workdir is None:
        return shell.why_no_workdir
    if path_name(shell.workdir) not in text:
        return (f"the setup block enters `{shell.workdir}`, and the line does not name "
                f"`{path_name(shell.workdir)}`")
    if shell.shell == "powershell" and '"' in shell.workdir:
        return 'a PowerShell path cannot contain `"`'
    return ""


def dsn_problem(ticks: list[str], value: str | None, out: dict[str, Any]) -> str:
    """Why a DSN line cannot become an `env` item ("" if it can); sets the password
    placeholder the block uses."""
    name = ticks[0]
    if value is None:
        return (f"the setup block computes `{name}` (a command or another variable); write "
                "the postgresql:// URL itself, its password as a placeholder")
    if "'" in value:
        return "a DSN template cannot contain a single quote"
    password = _PASSWORD.search(value)
    parts = urlsplit(_PASSWORD.sub(r"\1x@", value))
    if not parts.scheme.startswith("postgres") or not parts.hostname:
        return f"the setup block sets `{name}` to no postgresql:// URL with a host"
    if parts.password is not None and password is None:
        return (f"`{name}` holds a clear-text password; write a placeholder such as "
                "<PASSWORD> instead (secrets never touch disk)")
    if password:
        if out.get("password_placeholder", password[2]) != password[2]:
            return (f"`{name}` writes its password as {password[2]}, another DSN as "
                    f"{out['password_placeholder']}: use one placeholder")
        out["password_placeholder"] = password[2]
    database = unquote(parts.path.lstrip("/"))
    if database not in ticks[1:]:
        return (f"the block's URL names the database `{database}`, which the line does not "
                "show in backticks")
    query = dict(parse_qsl(parts.query))
    for tick in ticks[1:]:
        key, _, wanted = tick.partition("=")
        if wanted and query.get(key) != wanted:
            return f"the line asks for `{tick}`; the block's URL does not set it"
    return ""


def dsn_parts(value: str) -> tuple[str, dict[str, str]]:
    """The database a DSN URL names and its query parameters."""
    parts = urlsplit(_PASSWORD.sub(r"\1x@", value))
    return unquote(parts.path.lstrip("/")), dict(parse_qsl(parts.query))
