"""The runbook reference: `docs/` holds exactly what `cockpit schema` prints now, and the
Markdown names every kind, field, probe, argument, library rule, halt action and decision role
the code has — so a new one cannot be left out of it.

(The JSON Schema is not checked against the bundled runbooks here: that needs the
`jsonschema` package, which the project does not depend on.)
"""

from __future__ import annotations

import json
import re
import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from cockpit.cli import main
from cockpit.runbook import model as m
from cockpit.runbook.abort_library import LIBRARY
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.probes import PROBES
from cockpit.runbook.reference import (
    DECISION_ROLES,
    HALT_ACTIONS,
    example_runbook,
    reference_markdown,
)
from cockpit.runbook.schema import json_schema
from tests.conftest import REPO

DOCS = REPO / "docs"
MARKDOWN = reference_markdown()
ITEM_MODELS: list[type[BaseModel]] = list(typing.get_args(m.AnyItem))


def kind(cls: type[BaseModel]) -> str:
    return typing.get_args(cls.model_fields["kind"].annotation)[0]


def block(heading: str) -> str:
    """The Markdown under `heading` (a whole heading line), up to the next heading of its
    level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = MARKDOWN.split("\n")
    assert heading in lines, f"no heading {heading!r} in the reference"
    start = lines.index(heading) + 1
    in_code = False
    for end in range(start, len(lines)):
        if lines[end].startswith("```"):
            in_code = not in_code
        hashes = len(lines[end]) - len(lines[end].lstrip("#"))
        if not in_code and 0 < hashes <= level and lines[end][hashes:hashes + 1] == " ":
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def row(key: str) -> str:
    return f"| `{key}` |"


def models_in(hint: typing.Any) -> list[type[BaseModel]]:
    """Every model class an annotation names (through lists, unions and Annotated)."""
    found: list[type[BaseModel]] = []
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return [hint]
    for arg in typing.get_args(hint):
        found += [c for c in models_in(arg) if c not in found]
    return found


# ------------------------------------------------------------------- (a) docs are current


def _generated(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "out"
    assert main(["schema", *args, "-o", str(out)]) == 0
    return out.read_bytes().decode("utf-8")


def test_docs_runbook_md_is_what_the_code_generates(tmp_path) -> None:
    committed = (DOCS / "runbook.md").read_bytes().decode("utf-8")
    assert committed == _generated(tmp_path, "--markdown"), (
        "docs/runbook.md is out of date; run: uv run cockpit schema --markdown -o docs/runbook.md")


def test_docs_runbook_schema_is_what_the_code_generates(tmp_path) -> None:
    committed = (DOCS / "runbook.schema.json").read_bytes().decode("utf-8")
    assert committed == _generated(tmp_path), (
        "docs/runbook.schema.json is out of date; run: "
        "uv run cockpit schema -o docs/runbook.schema.json")


# ------------------------------------------------------------------- (b) nothing left out


def test_every_kind_is_documented_with_every_field() -> None:
    for cls in ITEM_MODELS:
        text = block(f"### `{kind(cls)}` item")
        for name in cls.model_fields:
            assert row(name) in text, f"kind '{kind(cls)}': field '{name}' is not in its table"


def test_every_kind_names_the_sections_that_accept_it() -> None:
    hints = typing.get_type_hints(m.Runbook, include_extras=True)
    for key in m.Runbook.model_fields:
        accepting: list[type[BaseModel]] = []
        for model in models_in(hints[key]):
            # items straight under the key (preface); an abort rule's `kind` is a field
            if "kind" in model.model_fields and model not in (m.AbortRule, m.Notify):
                accepting.append(model)
            elif issubclass(model, m._Section):
                section_hints = typing.get_type_hints(model, include_extras=True)
                for name in model.model_fields:
                    accepting += [c for c in models_in(section_hints[name])
                                  if "kind" in c.model_fields]
        for cls in accepting:
            accepted_in = next(line for line in block(f"### `{kind(cls)}` item").split("\n")
                               if line.startswith("Accepted in:"))
            assert f"`{key}`" in accepted_in, f"'{kind(cls)}' is accepted in '{key}'"
        if accepting:
            section = block(f"### `{key}` section")
            for cls in accepting:
                assert f"`{kind(cls)}`" in section, f"section '{key}' accepts '{kind(cls)}'"


def test_every_top_level_key_and_section_field_is_documented() -> None:
    top = block("## Top-level keys")
    for key in m.Runbook.model_fields:
        assert row(key) in top, f"top-level key '{key}' is missing"
    hints = typing.get_type_hints(m.Runbook, include_extras=True)
    for key in m.Runbook.model_fields:
        for model in models_in(hints[key]):
            if issubclass(model, m._Section):
                section = block(f"### `{key}` section")
                for name in model.model_fields:
                    assert row(name) in section, f"section '{key}': key '{name}' is missing"
    for model, heading in ((m.AbortRule, "## `[[abort_rules]]`"), (m.Script, "## `[[scripts]]`"),
                           (m.SubItem, "### Nested lines")):
        for name in model.model_fields:
            assert row(name) in block(heading), f"{model.__name__}.{name} is missing"


def test_every_field_has_a_description() -> None:
    """A field added without `description=` would reach the reference with an empty cell."""
    models = {m.Runbook, m.AbortRule, m.Script, m.SubItem, *ITEM_MODELS}
    hints = typing.get_type_hints(m.Runbook, include_extras=True)
    models |= {c for key in m.Runbook.model_fields for c in models_in(hints[key])}
    for model in models:
        for name, info in model.model_fields.items():
            if name != "kind":  # the reference says what a kind is itself
                assert info.description, f"{model.__name__}.{name} has no description"


def test_every_probe_and_argument_is_documented() -> None:
    for spec in PROBES.values():
        text = block(f"### {spec.name}")
        assert spec.summary in text
        for arg in spec.args:
            assert row(arg.name) in text, f"probe '{spec.name}': argument '{arg.name}'"
            assert arg.summary in text
        if spec.expected_optional:
            assert "may be left out" in text


def test_every_library_rule_is_shown_as_toml_that_loads_back() -> None:
    for rule in LIBRARY:
        text = block(f"#### {rule.id}")
        snippet = re.search(r"```toml\n(.*?)```", text, re.S)
        assert snippet is not None, f"library rule '{rule.id}' has no TOML block"
        table = tomllib.loads(snippet.group(1))["abort_rules"][0]
        assert m.AbortRule.model_validate(table) == rule


def test_every_halt_action_and_decision_role_is_explained() -> None:
    assert set(HALT_ACTIONS) == set(typing.get_args(m.HaltAction))
    assert set(DECISION_ROLES) == set(typing.get_args(m.DecisionRole))
    actions, roles = block("## Halt actions"), block("## Decision roles")
    for action in typing.get_args(m.HaltAction):
        assert row(action) in actions, f"halt action '{action}'"
    for role in typing.get_args(m.DecisionRole):
        assert row(role) in roles, f"decision role '{role}'"


def test_durations_list_every_unit() -> None:
    text = block("## Durations")
    for unit in ("ms", "s", "m", "min", "h"):
        assert row(unit) in text
        m.duration_seconds(f"1{unit}")


# ------------------------------------------------------------------- (c) the example


def test_the_example_validates_and_is_in_the_reference() -> None:
    example = example_runbook()
    runbook = parse_runbook(example, "runbooks/minimal-cutover.toml")
    assert runbook.production
    assert example.startswith("#:schema ../docs/runbook.schema.json\n")
    assert (REPO / "runbooks" / "minimal-cutover.toml").read_text() == example
    assert f"```toml\n{example}```" in MARKDOWN


# ------------------------------------------------------------------- the schema itself


def test_the_schema_is_for_toml_and_knows_every_kind() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert schema["$schema"].startswith("http://json-schema.org/")
    assert '"null"' not in text and '"$defs"' not in text and '"const"' not in text
    kinds = {d["properties"]["kind"]["enum"][0] for name, d in schema["definitions"].items()
             if "kind" in d.get("properties", {}) and name not in ("AbortRule", "Notify")}
    assert kinds == {kind(cls) for cls in ITEM_MODELS}
    assert set(schema["properties"]) == set(m.Runbook.model_fields)


# ------------------------------------------------------------------- (e) the command


@pytest.mark.parametrize("args", [[], ["--markdown"]], ids=["json", "markdown"])
def test_cockpit_schema_prints_to_stdout(args, capsys) -> None:
    assert main(["schema", *args]) == 0
    out = capsys.readouterr().out
    if args:
        assert out == MARKDOWN
    else:
        assert json.loads(out) == json_schema()
