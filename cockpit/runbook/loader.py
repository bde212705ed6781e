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
from pydantic_core import ErrorDetails

from cockpit.errors import Problem, RunbookError
from cockpit.runbook.model import CheckStep, CodeBlock, Runbook, SetupScript, Text
from cockpit.runbook.render import item_children, item_text
from cockpit.runbook.validate import consistency_problems, walk_items

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
    problems += [Problem(name, place, message) for place, message in shown_problems(runbook)]
    if problems:
        raise RunbookError(problems)
    return runbook


def shown_problems(runbook: Runbook) -> list[tuple[str, str]]:
    """(place, message) for each value the transcript would show that the transcript's own
    models refuse (a listed value shown as a line of its own, with a line break in it): the
    loader refuses it here, naming its place, rather than `render` failing later."""
    problems: list[tuple[str, str]] = []
    for place, item in walk_items(runbook):
        if isinstance(item, CheckStep) and item.list_items and isinstance(item.expected, list):
            for index, value in enumerate(item.expected):
                if "\n" in value or "\r" in value:
                    problems.append((f"{place}.expected[{index}]", "expected one line of text "
                                     "(no line break): with list_items each value is shown as "
                                     f"a line of its own; got {_shown(value)}"))
            if problems:
                continue
        try:  # whatever else a line of the transcript is made of, made as render makes it
            if not isinstance(item, CodeBlock | SetupScript | Text):
                item_text(item, runbook)
            item_children(item, runbook)
        except ValidationError as exc:
            problems += [(place, f"cannot be shown in the checklist: {error['msg']}")
                         for error in exc.errors(include_url=False)]
    return problems


# ------------------------------------------------------------- pydantic errors, made readable


def _problems_from(exc: ValidationError, data: dict[str, Any], name: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        loc, owner, annotation = _resolve(error["loc"], data)
        place = _place(loc)
        message = _message(error, owner, annotation)
        if place in seen:  # a union reports one error per member; one line is enough
            continue
        seen.add(place)
        problems.append(Problem(name, place, message))
    return problems


_UNKNOWN = object()  # no annotation is known for a place


def _resolve(loc: tuple[Any, ...], data: Any) -> tuple[list[Any], type[BaseModel] | None, Any]:
    """Strip union tags from a pydantic location; find the model that owns its last key (for
    an unknown key) and the annotation of the value expected there (`_UNKNOWN` if none)."""
    clean: list[Any] = []
    node: Any = data
    annotation: Any = Runbook
    model: type[BaseModel] | None = Runbook
    owner: type[BaseModel] | None = None
    index = 0
    while index < len(loc):
        part = loc[index]
        if isinstance(part, int):
            clean.append(part)
            node = node[part] if isinstance(node, list) and part < len(node) else None
            annotation = _element(annotation)
            annotation, model = _pick(annotation, node)
            owner = None
            # A discriminated union inserts its tag after the index: skip it.
            tagged = isinstance(node, dict) and index + 1 < len(loc)
            if tagged and node.get("kind") == loc[index + 1]:
                index += 1
        elif model is not None and part in model.model_fields:
            clean.append(part)
            owner = model
            node = node.get(part) if isinstance(node, dict) else None
            annotation, model = _pick(model.model_fields[part].annotation, node)
        elif isinstance(node, dict) and part in node and _value_type(annotation) is not _UNKNOWN:
            clean.append(part)  # a key inside a free-form table (args, require)
            owner = None
            node = node[part]
            annotation, model = _pick(_value_type(annotation), node)
        else:
            if model is not None and isinstance(node, dict) and part not in _member_names():
                clean.append(part)  # an unknown key: its owner is the current model
                return clean, model, _UNKNOWN
            break  # a union member name: the place is already complete
        index += 1
    return clean, owner, annotation


def _member_names() -> set[str]:
    return {"str", "int", "bool", "list[str]", "none", "dict[str,union[str,int,bool,list[str]]]"}


def _element(annotation: Any) -> Any:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return annotation


def _value_type(annotation: Any) -> Any:
    """The type of the values of a free-form table (`dict[str, X]` gives X)."""
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1]
    return _UNKNOWN


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
        values = typing.get_args(annotation)
        return repr(values[0]) if len(values) == 1 else "one of " + ", ".join(map(repr, values))
    if origin is list:
        element = _describe(typing.get_args(annotation)[0])
        # "a table with kind = ..." -> "tables with kind = ...": plural, not "a list of a table"
        return "a list of " + (f"tables{element[7:]}" if element.startswith("a table") else element)
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
        names = [_describe(k) for k in kinds]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", or " + names[-1]
    return "a value"


def _message(error: ErrorDetails, owner: type[BaseModel] | None, annotation: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    expected = _describe(annotation) if annotation is not _UNKNOWN else None
    got = error.get("input")
    if kind == "missing":
        return f"missing; expected {expected}" if expected else "missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(owner.model_fields) if owner is not None else "?"
        return f"unknown key (allowed here: {allowed})"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "missing 'kind': every item says what it is"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        meaning = _PATTERN_MEANING.get(pattern, f"text matching {pattern}")
        return f"expected {meaning}; got {_shown(got)}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": "at least", "less_than_equal": "at most",
                 "greater_than": "more than", "less_than": "less than"}[kind]
        limit = next(iter(ctx.values()), "?")
        return f"expected {bound} {limit}; got {_shown(got)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}; got {_shown(got)}"
    if expected:
        return f"expected {expected}; got {type(got).__name__} {_shown(got)}"
    return error["msg"]


def _shown(value: Any, limit: int = 100) -> str:
    """The offending value, cut short: a wrongly typed section is not echoed whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
