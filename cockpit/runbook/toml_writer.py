"""Writes a runbook as TOML an author can read and edit: one `[[...]]` table per item,
literal strings for Windows paths, multi-line strings for code blocks, defaults left out.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from cockpit.runbook.model import Phase, Runbook

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def toml_string(value: str) -> str:
    """A TOML string for `value`: literal where that reads better and is allowed."""
    if "\n" in value and "'''" not in value and not _CONTROL.search(value.replace("\n", "")):
        return "'''\n" + value + "'''"
    if ("\\" in value or '"' in value) and "'" not in value and not _CONTROL.search(value):
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """A TOML value (inline) for `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _dump(model: BaseModel) -> dict[str, Any]:
    # `kind` is required, so it survives exclude_defaults; empty children are left out.
    return model.model_dump(mode="python", exclude_defaults=True)


def _table(header: str, data: dict[str, Any]) -> list[str]:
    lines = [header] if header else []
    lines += [f"{_key(k)} = {toml_value(v)}" for k, v in data.items()]
    return lines


def _said(why: str | None) -> list[str]:
    """A comment's lines, wrapped as the file's lines are."""
    return [f"# {line}" for line in textwrap.wrap(why, 90)] if why else []


def runbook_to_toml(runbook: Runbook, comment: str = "",
                    why: Mapping[str, str] | None = None) -> str:
    """The runbook as TOML; loading it gives back an equal runbook. `why`: a comment to
    write above a section (by place name: `setup`), an item or an abort rule (by id)."""
    why = why or {}
    out: list[str] = [f"# {line}" if line else "#" for line in comment.splitlines()]
    top = {k: getattr(runbook, k) for k in ("format", "id", "title", "production")}
    if runbook.order:
        top["order"] = runbook.order
    out += _table("", top)
    for item in runbook.preface:
        out += ["", *_table("[[preface]]", _dump(item))]
    for place, section in runbook.sections():
        name = "phases" if isinstance(section, Phase) else place
        data = _dump(section)
        key = "steps" if isinstance(section, Phase) else "items"
        items = data.pop(key, [])
        out += ["", *_said(why.get(place)),
                *_table(f"[[{name}]]" if name == "phases" else f"[{name}]", data)]
        for item in items:
            out += ["", *_said(why.get(str(item.get("id")))),
                    *_table(f"[[{name}.{key}]]", item)]
    for rule in runbook.abort_rules:
        out += ["", *_said(why.get(rule.id)), *_table("[[abort_rules]]", _dump(rule))]
    for script in runbook.scripts:
        out += ["", *_table("[[scripts]]", _dump(script))]
    for waiver in runbook.waivers:
        out += ["", *_table("[[waivers]]", _dump(waiver))]
    for name, environment in runbook.environments.items():
        out += ["", *_said(why.get(f"environments.{name}")),
                *_table(f"[environments.{_key(name)}]", _dump(environment))]
    return "\n".join(out) + "\n"
