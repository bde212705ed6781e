"""Loads a runbook TOML file into the model, turning every fault into a `Problem` that names
the file, the place (`phases[2].steps[0].log`) and what is expected there.
"""

from __future__ import annotations

import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cockpit.errors import Problem, RunbookError
from cockpit.runbook.model import Runbook
from cockpit.runbook.validate import consistency_problems

_PATTERN_MEANING = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$": "an id: a letter or digit, then letters, digits, "
    "'-', '_' or '.', at most 80 characters",
    r"^[^\r\n]*$": "one line of text (no line break)",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name",
    r"^[0-9a-f]{64}$": "a sha256: 64 lowercase hex digits",
    r"^[^`\r\n]*$": "one line without backticks",
    r"^[^`\r\n/\\]*$": "a bare file name (no folder, no backticks)",
    r"^[^:\r\n]*$": "a label without ':' (the colon is added when rendered)",
}


def load_runbook(path: str | Path) -> Runbook:
    """The runbook at `path`, or a `RunbookError` listing every problem in it."""
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RunbookError([Problem(name, "", "no such file")]) from None
    except OSError as exc:
        raise RunbookError([Problem(name, "", f"cannot be read ({exc.strerror})")]) from None
    return parse_runbook(raw, name)


def parse_runbook(raw: bytes | str, name: str = "<runbook>") -> Runbook:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise RunbookError([Problem(name, f"byte {exc.start}", "not UTF-8 text")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunbookError([Problem(name, "", f"not valid TOML: {exc}")]) from None
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        raise RunbookError(_problems_from(exc, data, name)) from None
    problems = [Problem(name, place, message) for place, message in consistency_problems(runbook)]
    if problems:
        raise RunbookError(problems)
    return runbook


# ------------------------------------------------------------- pydantic errors, made readable


def _problems_from(exc: ValidationError, data: dict[str, Any], name: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        loc, model, field = _resolve(error["loc"], data)
        place = _place(loc)
        message = _message(error, model, field)
        if place in seen:  # a union reports one error per member; one line is enough
            continue
        seen.add(place)
        problems.append(Problem(name, place, message))
    return problems


def _resolve(
    loc: tuple[Any, ...], data: Any
) -> tuple[list[Any], type[BaseModel] | None, str | None]:
    """Strip union tags from a pydantic location and find the model that owns its last key."""
    clean: list[Any] = []
    node: Any = data
    annotation: Any = Runbook
    model: type[BaseModel] | None = Runbook
    field: str | None = None
    index = 0
    while index < len(loc):
        part = loc[index]
        if isinstance(part, int):
            clean.append(part)
            node = node[part] if isinstance(node, list) and part < len(node) else None
            annotation = _element(annotation)
            annotation, model = _pick(annotation, node)
            # A discriminated union inserts its tag after the index: skip it.
            if index + 1 < len(loc) and isinstance(node, dict) and node.get("kind") == loc[index + 1]:
                index += 1
        elif model is not None and part in model.model_fields:
            clean.append(part)
            field = part
            annotation = model.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
            annotation, sub = _pick(annotation, node)
            parent = model
            model = sub
            if index == len(loc) - 1:
                return clean, parent, field
        elif isinstance(node, dict) and part in node:
            clean.append(part)  # a key inside a free-form table (args, require)
            field = None
            node = node[part]
        else:
            if model is not None and isinstance(node, dict) and part not in _member_names():
                clean.append(part)  # an unknown key: its owner is the current model
                return clean, model, None
            break  # a union member name: the place is already complete
        index += 1
    return clean, model, field


def _member_names() -> set[str]:
    return {"str", "int", "bool", "list[str]", "none", "dict[str,union[str,int,bool,list[str]]]"}


def _element(annotation: Any) -> Any:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return annotation


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _pick(annotation: Any, node: Any) -> tuple[Any, type[BaseModel] | None]:
    """The model class an annotation stands for, given the data (for tagged unions)."""
    annotation = _unwrap(annotation)
    candidates = [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        candidates = [_unwrap(a) for a in typing.get_args(annotation)]
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) > 1 and isinstance(node, dict):
        for candidate in models:
            tag = candidate.model_fields.get("kind")
            if tag is not None and node.get("kind") in typing.get_args(tag.annotation):
                return candidate, candidate
        return annotation, None
    if len(models) == 1 and all(c is type(None) or c is models[0] for c in candidates):
        return models[0], models[0]
    return annotation, None


def _place(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if annotation is str:
        return "text"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "a whole number"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"a list of {_describe(typing.get_args(annotation)[0])}"
    if origin is dict:
        return "a table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a table"
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        tags = [
            typing.get_args(k.model_fields["kind"].annotation)[0]
            for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)
            and "kind" in k.model_fields
        ]
        if tags:
            return "a table with kind = " + " | ".join(repr(t) for t in tags)
        return " or ".join(_describe(k) for k in kinds)
    return "a value"


def _message(error: dict[str, Any], model: type[BaseModel] | None, field: str | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    info = model.model_fields.get(field) if model is not None and field else None
    expected = _describe(info.annotation) if info is not None else None
    got = error.get("input")
    if kind == "missing":
        return f"missing; expected {expected}" if expected else "missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None else "?"
        return f"unknown key (allowed here: {allowed})"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "missing 'kind': every item says what it is"
    if kind == "string_pattern_mismatch":
        meaning = _PATTERN_MEANING.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
        return f"expected {meaning}; got {got!r}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}; got {got!r}"
    if expected:
        return f"expected {expected}; got {type(got).__name__} {got!r}"
    return error["msg"]
