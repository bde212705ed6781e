"""The runbook reference, made from the code: the JSON Schema of a runbook TOML file (for
editors: Taplo, Even Better TOML) and the Markdown reference of the runbook language.

Everything either says about keys, kinds, types, defaults, probes and abort rules is read
from the model, the probe catalogue and the abort library, so a change there changes the
reference; `cockpit schema` prints both, and a test keeps `docs/` equal to what it prints.
Prose the code cannot give (what a halt action does, what a decision role means, how paths
resolve) is kept here, and a missing entry for a new action or role is an error.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cockpit.resources import bundled_runbook
from cockpit.runbook import model as m
from cockpit.runbook.abort_library import LIBRARY
from cockpit.runbook.notify import Notify
from cockpit.runbook.probes import PROBES, ProbeSpec
from cockpit.runbook.schema import SCHEMA_FILE
from cockpit.runbook.toml_writer import toml_string, toml_value

EXAMPLE_FILE = "minimal-cutover.toml"

# ------------------------------------------------------------------------ what the model is


def _doc(cls: type) -> str:
    """A class's docstring as one paragraph."""
    return " ".join((cls.__doc__ or "").split())


def _hints(cls: type[BaseModel]) -> dict[str, Any]:
    """Each field's annotation as written (named aliases such as `Id` kept)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {name: hints[name] for name in cls.model_fields}


def _unwrap(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _members(hint: Any) -> list[Any]:
    """The members of a union (itself if it is none), `None` left out."""
    hint = _unwrap(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return [_unwrap(a) for a in typing.get_args(hint) if a is not type(None)]
    return [hint]


def _item_models(hint: Any) -> list[type[BaseModel]]:
    """The item models a `list[...]` of items accepts (empty if it is no list of items)."""
    hint = _unwrap(hint)
    if typing.get_origin(hint) is not list:
        return []
    return [c for c in _members(typing.get_args(hint)[0])
            if isinstance(c, type) and issubclass(c, BaseModel) and _is_item(c)]


def _is_item(cls: type[BaseModel]) -> bool:
    """A checklist item, which its `kind` names; an abort rule's and a notify destination's
    `kind` is a field like any."""
    return "kind" in cls.model_fields and cls not in (m.AbortRule, Notify)


def kind_of(cls: type[BaseModel]) -> str:
    kind: str = typing.get_args(cls.model_fields["kind"].annotation)[0]  # Literal["..."]
    return kind


def item_models() -> list[type[BaseModel]]:
    """Every item model, in the model's order (`AnyItem`)."""
    return list(typing.get_args(m.AnyItem))


def _section_models(hint: Any) -> list[type[BaseModel]]:
    """The section model(s) a top-level key holds (`[[phases]]` holds `Phase`)."""
    hint = _unwrap(hint)
    if typing.get_origin(hint) is list:
        hint = typing.get_args(hint)[0]
    return [c for c in _members(hint) if isinstance(c, type) and issubclass(c, m._Section)]


def _items_key(section: type[BaseModel]) -> str:
    """The key a section keeps its items under (`steps` for a phase)."""
    hints = _hints(section)
    return next(name for name in section.model_fields if _item_models(hints[name]))


def section_kinds() -> dict[str, list[str]]:
    """For each top-level key that holds items (directly, like `preface`, or in a section):
    the kinds it accepts, in the model's order."""
    found: dict[str, list[str]] = {}
    for key, hint in _hints(m.Runbook).items():
        direct = _item_models(hint)
        if direct:
            found[key] = [kind_of(c) for c in direct]
        for section in _section_models(hint):
            found[key] = [kind_of(c) for c in _item_models(_hints(section)[_items_key(section)])]
    return found


# ------------------------------------------------------------------------------- wording

# Named types of the model, by the alias a field is written with.
_NAMED: list[tuple[Any, str, str]] = [
    (m.Id, "id", "a letter or digit, then letters, digits, `-`, `_` or `.`; at most 80 "
     "characters"),
    (m.Line, "line", "one line of text: not empty, no line break"),
    (m.Duration, "duration", "a whole number and a unit; see [Durations](#durations)"),
    (m.EnvName, "variable name", "an environment variable's name: a letter or `_`, then "
     "letters, digits or `_`"),
    (m.Sha256, "sha256", "64 lowercase hex digits"),
    (m.HaltAction, "halt action", "see [Halt actions](#halt-actions)"),
    (m.DecisionRole, "decision role", "see [Decision roles](#decision-roles)"),
]

# What a pattern on a single field says, in words; any other pattern is shown as it is.
_PATTERN_WORDS = {
    r"^[^\r\n]*$": "one line",
    r"^[^`\r\n]*$": "one line, no backticks",
    r"^[^`\r\n/\\]*$": "a bare file name: no folder, no backticks",
    r"^[^:\r\n]*$": "one line, no `:`",
    r"^\S+$": "one word, no spaces",
}

_SHAPES = {"text": "text", "integer": "integer", "list": "list of text", "boolean": "boolean",
           "duration": "duration",
           "none": "none"}

# What each halt action does. Every value of `HaltAction` needs one (`_halt_actions` says so).
HALT_ACTIONS: dict[str, str] = {
    "stop": "Done by the cockpit at the halt: the running step's command is stopped and no "
            "step may start.",
    "preserve": "Done by the cockpit at the halt: it deletes and rewrites nothing; every log "
                "and record is kept.",
    "no_further_commands": "Done by the cockpit at the halt: every command step is refused "
                           "from then on, by any path.",
    "record_blocker": "Done when the decision is recorded as BLOCKER: the root-cause "
                      "classification is its note. It cannot be ticked by hand.",
    "escalate": "The operator completes it after the halt with a note or reference (who was "
                "told, the ticket).",
    "manual": "The operator completes it after the halt with a note or reference.",
}

# What each decision role means to the cockpit. Every value of `DecisionRole` needs one.
DECISION_ROLES: dict[str, str] = {
    "status": "The outcome: `PASS` or `BLOCKER` (the field must allow both). PASS only when "
              "every gate passed, every phase completed, nothing halted and the evidence pack "
              "is complete. Pre-filled `BLOCKER` after a halt or a failure. Where no field has "
              "this role the cockpit adds one.",
    "final_revision": "The database's revision at the end: pre-filled from the last "
                      "`alembic.current_equals` check, or from the halt's own look; `not "
                      "checked` when neither ran.",
    "heads_state": "The migration heads: pre-filled from the last `alembic.single_head` check "
                   "(`single head R`), or from the halt's own look; `not checked` when neither "
                   "ran.",
    "errors": "What went wrong: pre-filled with the halt and every failed or interrupted step, "
              "else `none` (`not checked` when no step ran). A BLOCKER needs it. Where no field "
              "has this role the cockpit adds one.",
    "drift": "Schema drift: pre-filled from the last `db.structural_parity` check (`none`, or "
             "what differs); `not checked` when no such check ran — never `none`.",
    "root_cause": "The root-cause classification: pre-filled when the cockpit halted (the "
                  "abort rule, or the failed step or gate); an operator's halt is classified by "
                  "the operator. A BLOCKER needs it, and it is the note of `record_blocker` "
                  "items. Where no field has this role the cockpit adds one.",
    "risk_tier": "The change's risk tier, as the operator records it; not pre-filled.",
    "authorization": "The authorization the outcome rests on, as the operator records it; not "
                     "pre-filled.",
    "operator": "The operator who signs the decision: filled from the identity of their SSH "
                "signing key (`--sign-key`), else from the operator's name.",
    "reviewer": "The reviewer(s) who countersigned the decision: filled from their "
                "countersignatures as they are attached (the report shows them).",
}

_DURATION_EXAMPLES = ["500ms", "30s", "10m", "10min", "2h"]


def _halt_actions() -> dict[str, str]:
    values = typing.get_args(m.HaltAction)
    missing = [v for v in values if v not in HALT_ACTIONS]
    if missing or set(HALT_ACTIONS) - set(values):
        raise LookupError(f"reference.HALT_ACTIONS must describe exactly {values}")
    return {v: HALT_ACTIONS[v] for v in values}


def _decision_roles() -> dict[str, str]:
    values = typing.get_args(m.DecisionRole)
    if set(values) != set(DECISION_ROLES):
        raise LookupError(f"reference.DECISION_ROLES must describe exactly {values}")
    return {v: DECISION_ROLES[v] for v in values}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return "#" + text.replace(" ", "-")


def _kind_heading(kind: str) -> str:
    return f"`{kind}` item"


def _section_heading(key: str) -> str:
    return f"`{key}` section"


def _kind_link(kind: str) -> str:
    return f"[`{kind}`]({_anchor(_kind_heading(kind))})"


def _code(text: str) -> str:
    """`text` as a code span, whatever backticks it holds."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _constraints(metadata: list[Any], is_list: bool) -> list[str]:
    words: list[str] = []
    for meta in metadata:
        low = getattr(meta, "min_length", None)
        if low:
            words.append(("at least one" if low == 1 else f"at least {low}") if is_list
                         else ("not empty" if low == 1 else f"at least {low} characters"))
        pattern = getattr(meta, "pattern", None)
        if pattern:
            words.append(_PATTERN_WORDS.get(pattern, f"matching {_code(pattern)}"))
    return words


def _model_link(cls: type[BaseModel]) -> str:
    if _is_item(cls):
        return _kind_link(kind_of(cls))
    names = {m.SubItem: ("nested line", "Nested lines"),
             m.AbortRule: ("abort rule", "`[[abort_rules]]`"),
             m.Script: ("script", "`[[scripts]]`"),
             m.Waiver: ("waiver", "`[[waivers]]`"),
             Notify: ("notify destination", "`[[notify]]`"),
             m.Environment: ("environment", "`[environments.NAME]`")}
    if cls in names:
        word, heading = names[cls]
        return f"[{word}]({_anchor(heading)})"
    return "table"


def type_words(hint: Any) -> str:
    """A field's type in words, for the reference's tables."""
    if typing.get_origin(hint) is typing.Annotated:  # a description is no part of the type
        base, *metadata = typing.get_args(hint)
        kept = [meta for meta in metadata if not isinstance(meta, FieldInfo)]
        if len(kept) < len(metadata):
            hint = typing.Annotated[(base, *kept)] if kept else base
    for alias, name, _meaning in _NAMED:
        if hint == alias:
            return name
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        inner = type_words(base)
        words = _constraints(metadata, typing.get_origin(_unwrap(base)) is list)
        return f"{inner} ({', '.join(words)})" if words else inner
    if origin is typing.Literal:
        return " | ".join(_code(json.dumps(v)) for v in typing.get_args(hint))
    if origin is list:
        element = typing.get_args(hint)[0]
        if _item_models(hint):
            return "list of items (see the kinds it accepts)"
        named = type_words(element)
        return f"list of {named}s" if named.endswith(" table") else f"list of {named}"
    if origin is dict:
        return f"table of {type_words(typing.get_args(hint)[1])}"
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        words = [type_words(a) for a in members]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    if isinstance(hint, type) and issubclass(hint, m._Section):
        return "section table"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return f"{_model_link(hint)} table"
    return {str: "text", int: "integer", bool: "boolean"}.get(hint, getattr(hint, "__name__",
                                                                             str(hint)))


def _field_row(cls: type[BaseModel], name: str, hint: Any, info: FieldInfo) -> str:
    own = typing.get_args(hint)[1:] if typing.get_origin(hint) is typing.Annotated else ()
    extra = [meta for meta in info.metadata if meta not in own]
    typ = type_words(hint)
    if cls is m.Runbook and (_section_models(hint) or _item_models(hint)):
        link = f"[section]({_anchor(_section_heading(name))})"
        many = typing.get_origin(_unwrap(hint)) is list
        typ = (f"list of items ({link})" if _item_models(hint)
               else f"list of {link} tables" if many else f"{link} table")
    words = _constraints(extra, typing.get_origin(_unwrap(hint)) is list)
    if words:
        typ += f"; {', '.join(words)}" if typ.endswith(")") else f" ({', '.join(words)})"
    required = info.is_required()
    if required:
        default = "—"
    elif info.default is None:
        default = "absent"
    else:
        default = _code(toml_value(info.default))
    if name == "kind" and _is_item(cls):
        description = f"Says what the item is: {_code(json.dumps(kind_of(cls)))}."
    else:
        description = " ".join((info.description or "").split())
    return (f"| {_code(name)} | {_cell(typ)} | {'yes' if required else 'no'} | "
            f"{_cell(default)} | {_cell(description)} |")


def _fields_table(cls: type[BaseModel]) -> list[str]:
    rows = ["| Key | Type | Required | Default | Description |",
            "| --- | --- | --- | --- | --- |"]
    hints = _hints(cls)
    rows += [_field_row(cls, name, hints[name], info) for name, info in cls.model_fields.items()]
    return rows


# ------------------------------------------------------------------------------ the pages

INTRO = """\
# Runbook reference

A runbook is one TOML file: the typed form of a one-page cutover checklist. Each item says
what it is (`kind`); items that run (commands) or are checked (probes) carry their meaning in
typed fields, and their checklist line is made from those fields, so the text the approver
signed and what runs cannot drift apart. `cockpit render RUNBOOK` prints the checklist;
`cockpit validate RUNBOOK` checks the runbook and prints its two sha256 hashes; `cockpit
import CHECKLIST.md` turns an existing checklist into a runbook.

Unknown keys are errors everywhere, and no value is coerced (`"1"` is not `1`).

This page is generated from the code (`cockpit schema --markdown`); do not edit it by hand.
"""


def _editor_support() -> list[str]:
    return [
        "## Editor support (Taplo, Even Better TOML)",
        "",
        f"`cockpit schema` prints the JSON Schema of a runbook (`docs/{SCHEMA_FILE}` is a "
        "copy). Name it in the runbook's first line, a comment that Taplo — the TOML "
        "language server behind the Even Better TOML extension for VS Code — reads; a "
        "relative path is taken from the runbook file's folder, and a URL works too:",
        "",
        "```toml",
        f"#:schema ../docs/{SCHEMA_FILE}",
        "",
        "format = 1",
        'id = "orders-add-status-index"',
        "```",
        "",
        "The editor then completes keys and `kind` values, shows each key's description and "
        "marks unknown keys and wrong types as you type. On the command line, `taplo lint "
        "runbooks/*.toml` checks each runbook against the schema its line names (`taplo lint "
        f"--schema file://$PWD/docs/{SCHEMA_FILE} FILE` gives it to a runbook without the "
        "line). Or name it once for a whole repository, in `.taplo.toml`:",
        "",
        "```toml",
        "[[rule]]",
        'include = ["runbooks/**/*.toml"]',
        "",
        "[rule.schema]",
        f'path = "./docs/{SCHEMA_FILE}"',
        "```",
        "",
        "The schema checks shape: keys, kinds and value types. `cockpit validate` checks "
        "more — ids are unique, every reference resolves, every evidence file has a "
        "producer, each line shows the value the machine acts on — so run it before a runbook "
        "goes for approval. The `#:schema` line is a comment: the cockpit ignores it, but it "
        "is part of the file, so adding it changes the runbook's sha256 (not its transcript's).",
    ]


def _top_level() -> list[str]:
    lines = ["## Top-level keys", "", _doc(m.Runbook), "", *_fields_table(m.Runbook)]
    return lines


def _sections() -> list[str]:
    lines = ["## Sections", "",
             "Each section is optional except `phases`; on the page they appear in the order "
             "below unless `order` says otherwise. A section is a table with a `heading` and "
             "its items, each item a table whose `kind` says what it is."]
    hints = _hints(m.Runbook)
    kinds = section_kinds()
    for key, hint in hints.items():
        sections = _section_models(hint)
        direct = _item_models(hint)
        if not sections and not direct:
            continue
        lines += ["", f"### {_section_heading(key)}", ""]
        described = " ".join((m.Runbook.model_fields[key].description or "").split())
        accepted = ", ".join(_kind_link(k) for k in kinds[key])
        if direct:
            lines += [described, "", f"Each `[[{key}]]` table is an item: {accepted}."]
            continue
        section = sections[0]
        shared = sum(section in _section_models(h) for h in hints.values()) > 1
        many = typing.get_origin(_unwrap(hint)) is list
        table = f"[[{key}]]" if many else f"[{key}]"
        lines += [f"`{table}`: {described if shared else _doc(section)}", "",
                  f"Items (`[[{key}.{_items_key(section)}]]`): {accepted}.", "",
                  *_fields_table(section)]
    return lines


def _kinds() -> list[str]:
    lines = ["## Item kinds", "",
             "Every item has a `kind` and an `id` (unique in the runbook: answers files and "
             "reports name items by it)."]
    accepts = section_kinds()
    for cls in item_models():
        kind = kind_of(cls)
        where = [key for key, kinds in accepts.items() if kind in kinds]
        lines += ["", f"### {_kind_heading(kind)}", "", _doc(cls), "",
                  "Accepted in: " + ", ".join(f"[`{key}`]({_anchor(_section_heading(key))})"
                                              for key in where) + ".", "",
                  *_fields_table(cls)]
    lines += ["", "### Nested lines", "", f"{_doc(m.SubItem)} (`children` of `statement`, "
              "`manual` and `halt` items: a list of tables such as `{ text = \"...\" }`.)", "",
              *_fields_table(m.SubItem)]
    return lines


def _value_types() -> list[str]:
    lines = ["## Value types", "",
             "Named types the tables above use (the pattern is the one the model checks):", "",
             "| Type | Meaning | Pattern |", "| --- | --- | --- |"]
    for alias, name, meaning in _NAMED:
        metadata = typing.get_args(alias)[1:] if typing.get_origin(alias) is typing.Annotated \
            else ()
        patterns = [p for meta in metadata if (p := getattr(meta, "pattern", None))]
        if typing.get_origin(alias) is typing.Literal:
            shown = " | ".join(_code(json.dumps(v)) for v in typing.get_args(alias))
        else:
            shown = ", ".join(_code(p) for p in patterns) or "—"
        lines.append(f"| {name} | {_cell(meaning)} | {_cell(shown)} |")
    return lines


def _durations() -> list[str]:
    pattern = next(meta.pattern for meta in typing.get_args(m.Duration)[1:]
                   if getattr(meta, "pattern", None))
    units = re.search(r"\(\?:([^)]*)\)", pattern)
    assert units is not None, pattern
    lines = ["## Durations", "",
             f"A duration (`timeout`, `lock_timeout`, `statement_timeout`, a probe argument "
             f"of shape duration) is a text: a whole "
             f"number without a leading zero, then a unit, nothing between them; the model "
             f"checks it against {_code(pattern)}.", "",
             "| Unit | Seconds |", "| --- | --- |"]
    for unit in units.group(1).split("|"):
        lines.append(f"| `{unit}` | {m.duration_seconds('1' + unit):g} |")
    for example in _DURATION_EXAMPLES:
        if not re.fullmatch(pattern, example):
            raise LookupError(f"duration example {example!r} no longer matches {pattern}")
    lines += ["", "Examples: " + ", ".join(f'`"{e}"`' for e in _DURATION_EXAMPLES) + "."]
    return lines


def _probe(spec: ProbeSpec) -> list[str]:
    lines = ["", f"### {spec.name}", "", f"Checks that {spec.summary}.", ""]
    if spec.expected == "none":
        lines.append("Expected: none — leave `expected` out.")
    else:
        lines.append(f"Expected: {_SHAPES[spec.expected]}."
                     + (" In a `probe` gate it may be left out: the operator gives the value "
                        "at the gate (asked with the gate's `prompt`)."
                        if spec.expected_optional else ""))
    if spec.args:
        lines += ["", "| Argument | Shape | Default | Meaning |", "| --- | --- | --- | --- |"]
        for arg in spec.args:
            default = "required" if arg.default is None else arg.default
            lines.append(f"| {_code(arg.name)} | {_SHAPES[arg.shape]} | {_cell(default)} | "
                         f"{_cell(arg.summary)} |")
    else:
        lines += ["", "Arguments: none."]
    return lines


def _probes() -> list[str]:
    lines = ["## Probes", "",
             "What a `probe` gate or a `check` step names in `probe`, with its `args` and the "
             "shape of its `expected` value: text (`\"R\"`), integer (`32`), list of text "
             "(`[\"a\", \"b\"]`), boolean (`true`), or none; in the summaries, R or N stands "
             "for it. A line must show the expected value(s) it checks, unless they are a "
             "boolean. Arguments go in the item's `args` table, e.g. `args = { schema = "
             "\"public\" }`; an argument without a default is required."]
    for spec in PROBES.values():
        lines += _probe(spec)
    return lines


def _abort_rules() -> list[str]:
    lines = ["## `[[abort_rules]]`", "",
             f"{_doc(m.AbortRule)} A runbook names only rules it defines in `[[abort_rules]]`; "
             "a command is watched by its own `abort_rules` and by its phase's `abort_watch` "
             "items. A match stops the command and halts the session; so does a step's "
             f"`timeout`, recorded as the rule `{m.TIMEOUT_RULE}`, and a log that cannot be "
             f"written (a full disk), recorded as `{m.LOG_RULE}` (ids no runbook rule may "
             "have).", "", *_fields_table(m.AbortRule), "",
             "### The abort rule library", "",
             "Rules written against what PostgreSQL and psycopg really print. `cockpit "
             "import` uses them where a checklist names the condition; copy one into a runbook "
             "as it stands:"]
    for rule in LIBRARY:
        lines += ["", f"#### {rule.id}", "", f"Label: {rule.label}", "", "```toml",
                  "[[abort_rules]]", f"id = {toml_string(rule.id)}",
                  f"label = {toml_string(rule.label)}", "patterns = ["]
        lines += [f"  {toml_string(pattern)}," for pattern in rule.patterns]
        lines += ["]", "```"]
    return lines


def _scripts() -> list[str]:
    return ["## `[[scripts]]`", "",
            f"{_doc(m.Script)} When the gates are evaluated each script's sha256 is compared "
            "with its pin. A script a command runs that `[[scripts]]` does not list is noted by "
            "`cockpit validate`; in a production runbook it keeps the gates closed (it has no "
            "approved sha256 to match), in a rehearsal it runs unpinned.", "",
            *_fields_table(m.Script)]


def _waivers() -> list[str]:
    return ["## `[[waivers]]`", "",
            f"{_doc(m.Waiver)} The `migration.risk` probe marks each finding a waiver names "
            "(by revision and rule) as waived, with the reason and the approver, in its report; "
            "an error or a finding the cockpit cannot vouch for (`not-analysable-offline`, "
            "`non-atomic-revision`) that no waiver names keeps the gate closed.", "",
            *_fields_table(m.Waiver), "", "```toml", "[[waivers]]",
            'revision = "0021"', 'rule = "index-without-concurrently"',
            'reason = "built in the window; the table is read-only during it"',
            'approved_by = "DBA lead (CHG-4821)"', "```"]


def _notify() -> list[str]:
    return ["## `[[notify]]`", "",
            f"{_doc(Notify)} Each moment's message has a stable id (the session and the "
            "event's seq), the session, the runbook, the environment and the time in UTC; "
            "every attempt is a `notice_sent` event ([notify.md](notify.md)).", "",
            *_fields_table(Notify), "", "```toml", "[[notify]]", 'name = "governance"',
            'kind = "slack"', 'url_env = "SLACK_WEBHOOK_URL"',
            'moments = ["gates", "halted", "countersign", "decision"]', "```"]


def _environments() -> list[str]:
    return ["## `[environments.NAME]`", "",
            f"{_doc(m.Environment)} One approved runbook runs on the clone and in production: "
            "`cockpit run --environment NAME` (required when the runbook declares several) "
            "checks the setup against that environment's values, records the environment in "
            "the session and names it in the header, the mirror, `status`, the report and the "
            "decision record. The runbook's sha256 covers every environment; a rehearsal's "
            "proof (`rehearsal.pass`) compares everything but their values.", "",
            *_fields_table(m.Environment), "", "```toml", "[environments.clone]",
            'database = "ledger_clone"', 'host = "clone.db.internal:5432"',
            "", "[environments.production]  # the setup's values as written", "```"]


def _halt_actions_section() -> list[str]:
    default = m.HaltItem.model_fields["action"].default
    lines = ["## Halt actions", "",
             f"The `action` of a `halt` item (default `{default}`): who does the protocol "
             "step after a halt, and how it is ticked. What is \"done by the cockpit at the "
             "halt\" is done for the items of the `halt` section.", "",
             "| Action | What happens |", "| --- | --- |"]
    lines += [f"| `{action}` | {_cell(meaning)} |" for action, meaning in _halt_actions().items()]
    return lines


def _decision_roles_section() -> list[str]:
    lines = ["## Decision roles", "",
             "The `role` of a decision `field`: what it means to the cockpit, whatever its id or "
             f"label says. The cockpit pre-fills fields by role and judges `{m.PASS}` and "
             f"`{m.BLOCKER}` by them; a field without a role is free for the operator. Ids "
             f"starting with `{m.IMPLICIT_FIELD_PREFIX}` are the cockpit's own (the fields it "
             "adds).", "",
             "| Role | Meaning |", "| --- | --- |"]
    lines += [f"| `{role}` | {_cell(meaning)} |" for role, meaning in _decision_roles().items()]
    return lines


PATHS = """\
## Paths

- **Working directory.** Commands run in it, and every other relative path of a runbook is
  taken from it. It is the `path` of the `working_directory` item in `setup`: a relative path
  is taken from the folder of the runbook file (not from where `cockpit` was started), an
  absolute one is used as it is; with no such item it is the runbook file's folder.
  `cockpit run --workdir DIR` runs in DIR instead; where a production runbook approves a
  directory, another one also needs `--override-workdir`, and the session records the
  override. A resumed session keeps the directory it started in. The directory must exist
  when the gates are evaluated.
- **`log` of a `command` step.** The command's output is kept in the session as its evidence
  (`steps/<step id>.<attempt>.log` in the session folder); `log` says where a copy is
  published while it runs, relative to the working directory. A file already there (another
  session's, or anyone's) is first moved into the session's `displaced/<step id>.<attempt>/`,
  and the move is recorded. The file name of `log` is the name `evidence` lists.
- **`path` of an `attestation_file` gate.** Relative to the working directory. When the gates
  are evaluated the file must exist and not be empty (and have a line holding `must_contain`,
  if given). The session copies it as it is at that moment to
  `evidence/inputs/<first 16 hex digits of its sha256>-<file name>` and judges that copy; a
  file holding a password the cockpit redacts fails the gate and is not copied.
- **`path` of a `[[scripts]]` entry.** Relative to the working directory, written as the
  commands name it (some command must contain it). When the gates are evaluated its sha256
  is compared with the pin, and it is copied into `evidence/inputs/` like an attestation file.
- **Probe arguments that name files** (`reference` of `db.structural_parity`, `repo` of
  `git.commit_matches` and `rehearsal.pass`) are relative to the working directory.
- **No links below the working directory.** The working directory is trusted as it is
  (resolved once: a link on its own path is fine). The files a runbook names (an
  attestation, a script, a reference snapshot, a published log) and the folders between the
  working directory and them are opened without following symbolic links, and only a regular
  file is read: a link there, a FIFO, a device, a folder or a socket fails its gate or check,
  or refuses its step, naming the path. `../` goes up from where the working directory really
  is.
- **File modes.** Nothing a session writes is more readable than its folder: a session made
  in a private folder (0700) keeps private files (0600); one open to a group (0750) gives its
  files to the group to read (0640). A new session folder takes the mode of the folder it is
  made in (or of the empty folder `--session` names). The pack `cockpit export` writes and
  `cockpit report --html -o` are no more readable than the session.
- **Either platform.** A relative path written with backslashes only (`..\\tmp\\x.log`) is
  read with `/` on POSIX. A drive or network path (`d:\\...`, `\\\\server\\share`) cannot work
  there: `cockpit validate` notes it and `cockpit run` refuses the runbook (a Windows working
  directory is accepted with `--workdir`); so does a backslash path inside a command.
- **Sessions.** `cockpit run` makes a new session folder `sessions/<session id>`, relative to
  the directory `cockpit` is started in, where the id is
  `<UTC time as YYYYMMDDTHHMMSSZ>-<runbook id>-<4 hex digits>`; `--session DIR` names another
  folder (it must not exist or be empty). It holds the event log (`events.jsonl`), the
  approved copy of the runbook (`runbook.toml`), `steps/` and `evidence/`. `cockpit demo`
  makes `sessions/<UTC time>-demo-<4 hex digits>` (with `-<fault>` after `demo` for a fault)
  and builds its rehearsal world beside it, in the same name followed by `-world`.
"""

def example_runbook() -> str:
    """The complete example the reference shows: `runbooks/minimal-cutover.toml`."""
    return bundled_runbook(EXAMPLE_FILE).read_text(encoding="utf-8")


def _example() -> list[str]:
    return ["## A complete example", "",
            f"A small production runbook that `cockpit validate` accepts (`runbooks/"
            f"{EXAMPLE_FILE}`, checked by the tests). Its `#:schema` line finds the schema "
            "from `runbooks/`.", "", "```toml", *example_runbook().rstrip("\n").split("\n"),
            "```"]


def reference_markdown() -> str:
    """The Markdown reference of the runbook language (`docs/runbook.md`)."""
    parts = [
        INTRO.rstrip("\n").split("\n"),
        _editor_support(),
        _top_level(),
        _sections(),
        _kinds(),
        _probes(),
        _abort_rules(),
        _scripts(),
        _waivers(),
        _notify(),
        _environments(),
        _halt_actions_section(),
        _decision_roles_section(),
        _value_types(),
        _durations(),
        PATHS.rstrip("\n").split("\n"),
        _example(),
    ]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"
