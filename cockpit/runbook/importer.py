"""Turns a checklist in the one-page dialect into a runbook that renders back to the same bytes.

Each item's meaning is inferred from its words and shape (`command` -> `log` is a command step,
`current == R` a check, ...). What cannot be inferred becomes a manual confirmation, and a note
says so, by line, so the author can type it more precisely. The import ends by rendering the
result and comparing it with the input: it never hands back a runbook that would show the
approver something else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cockpit.errors import Problem, RunbookError
from cockpit.runbook.abort_conditions import (
    Condition,
    condition,
    is_abort_list,
    is_closing_line,
    sentence_conditions,
)
from cockpit.runbook.commands import confirm_word, is_read_only, script_paths
from cockpit.runbook.loader import parse_runbook
from cockpit.runbook.markdown import (
    Block,
    MdChecklist,
    MdCode,
    MdItem,
    MdSection,
    MdText,
    parse_checklist,
)
from cockpit.runbook.model import COCKPIT_RULES, AbortRule, Runbook, SetupSection
from cockpit.runbook.paths import path_name
from cockpit.runbook.preflight_lines import preflight_gate
from cockpit.runbook.render import render_markdown, setup_script_lines
from cockpit.runbook.roles import role_for_label
from cockpit.runbook.shell_setup import (
    ShellSetup,
    dsn_parts,
    dsn_problem,
    is_absolute,
    read_setup,
    workdir_problem,
)
from cockpit.runbook.toml_writer import runbook_to_toml

# The usual order of a runbook's sections; a checklist may put them in any other.
ORDER = ("boundary", "gates", "setup", "phase", "halt", "rollback", "evidence", "decision")
# Words in a heading that say what a section is, most specific first: "Phase 6: Sign-off"
# is the decision, "Phase 1: Entry Criteria" a phase.
_HEADING_WORDS: list[tuple[str, tuple[str, ...]]] = [
    # What stops the work is no protocol for after it: its conditions watch every command.
    ("boundary", ("stop condition", "stop criteria", "halt condition", "halt criteria",
                  "when to stop", "when to halt", "when to abort", "stop rules", "abort rules",
                  "cancel condition", "cancel criteria")),
    ("halt", ("halt", "contain", "stop protocol", "rollback protocol", "abort protocol",
              "goes wrong", "if it fails")),
    ("rollback", ("rollback", "roll back", "roll-back", "back-out", "backout", "back out",
                  "revert", "fallback", "fall back", "fall-back")),
    ("evidence", ("evidence", "artifact", "artefact")),
    ("decision", ("decision", "sign-off", "signoff", "sign off", "outcome")),
    ("phase", ("phase",)),
    ("boundary", ("abort criteria", "abort conditions", "boundary", "control", "scope")),
    ("gates", ("gate", "go criteria", "go / no-go", "go/no-go", "go-no-go", "no-go", "precondition",
               "prerequisite", "entry criteria", "readiness", "approval", "before you start",
               "before starting", "before we start", "before we begin")),
    ("setup", ("setup", "set-up", "set up", "session", "environment", "shell")),
]
_FIELD_LINE = re.compile(r"^[^:`]+:(?: .+)?$")
_COMMAND = re.compile(r"^`(?P<command>[^`]+)`(?: -> `(?P<log>[^`]+)`)?$")
_TICKS = re.compile(r"`([^`]+)`")


@dataclass
class ImportResult:
    runbook: Runbook
    toml: str
    notes: list[str]


@dataclass
class _Builder:
    name: str
    production: bool = True
    notes: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    rules: list[dict[str, Any]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    # Where every command's log goes, if they share one folder: attestations likely live there.
    log_folder: str = ""
    roles: set[str] = field(default_factory=set)  # decision roles already given
    logs: set[str] = field(default_factory=set)  # the logs commands write: one command each
    # Abort rules for the changing commands of the phase being built, and of every phase (a
    # section of abort conditions that holds no command of its own).
    phase_rules: list[str] = field(default_factory=list)
    everywhere: list[str] = field(default_factory=list)
    standalone: bool = False  # the section being built holds no command
    reads_too: bool = False  # the phase being built has a read-only command
    section_kind: str = ""  # what the section being built is

    def note(self, line: int, message: str) -> None:
        self.notes.append(f"{self.name}: line {line}: {message}")

    def new_id(self, hint: str, fallback: str, sep: str = "-") -> str:
        words = re.sub(r"[^a-z0-9_]+", " ", hint.lower()).split()
        base = ""
        for word in words:  # whole words, about 40 characters: readable ids
            if base and len(base) + len(word) > 40:
                break
            base = f"{base}{sep}{word}" if base else word
        return self.claim(base[:60] or fallback)

    def claim(self, wanted: str) -> str:
        """`wanted` itself if free, else `wanted-2`, `wanted-3`, ..."""
        candidate, n = wanted, 2
        while candidate in self.ids:
            candidate, n = f"{wanted}-{n}", n + 1
        self.ids.add(candidate)
        return candidate


# What a section makes of each checklist item (its code blocks and text are kept as they are).
_Infer = Callable[[MdItem, _Builder], dict[str, Any]]


def import_checklist(text: str, name: str = "<checklist>",
                     production: bool = True) -> ImportResult:
    """The runbook a checklist encodes, its TOML, and the notes for its author. A production
    runbook (the default) asks for a typed confirmation before every changing command."""
    checklist = parse_checklist(text, name)
    builder = _Builder(name, production=production)
    data = _build(checklist, builder)
    try:
        Runbook.model_validate(data)
    except ValidationError as exc:  # the inference made something the model refuses
        raise RunbookError([Problem(name, "", f"cannot be encoded: {exc}")]) from None
    toml_text = runbook_to_toml(Runbook.model_validate(data), comment=_header(name))
    runbook = parse_runbook(toml_text, name)  # consistency rules, as any load applies them
    rendered = render_markdown(runbook)
    if rendered != text:
        raise RunbookError([_first_difference(name, text, rendered)])
    return ImportResult(runbook, toml_text, builder.notes)


def _header(name: str) -> str:
    return (
        f"Imported from {path_name(name)} by `cockpit import`.\n"
        "Review every item's kind, each changing command's `confirm` word and each\n"
        "read-only one, pin each script's sha256, then `cockpit validate` it."
    )


def _first_difference(name: str, text: str, rendered: str) -> Problem:
    want, got = text.split("\n"), rendered.split("\n")
    for number, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if a != b and not b and a.strip():
            return Problem(name, f"line {number}", "a blank line is needed before this line "
                           "(blocks — a list, a paragraph, a code block — are separated by one "
                           "blank line, as Markdown formatters write them)")
        if a != b:
            return Problem(
                name, f"line {number}",
                f"layout outside the dialect: the transcript would read {b!r} here, not {a!r}",
            )
    number = min(len(want), len(got))
    if not text.endswith("\n"):
        return Problem(name, f"line {number}", "the file must end with a newline")
    return Problem(name, f"line {number}", "layout outside the dialect: blank lines differ "
                   "(one blank line between sections and around code blocks, none inside lists)")


# ------------------------------------------------------------------------ sections


def _section_kind(section: MdSection) -> str:
    heading = section.heading.lower()
    named = next((k for k, words in _HEADING_WORDS if any(w in heading for w in words)), None)
    items = section.items()
    if named in ("boundary", "gates", "setup") and any(
            (m := _COMMAND.match(item.text)) and m["log"] for item in items):
        return "phase"  # commands with logs run: they are work, whatever the heading says
    if named is None and not items:
        return "boundary"  # prose only (contacts, notes): read, never confirmed
    if named is None and all(_FIELD_LINE.match(i.text) and not i.children for i in items):
        return "decision"  # nothing but `Label:` lines: a record to fill in
    return named or "phase"


def _build(checklist: MdChecklist, b: _Builder) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": 1,
        "id": b.new_id(checklist.title, "runbook"),
        "title": checklist.title,
        "production": b.production,
        "phases": [],
    }
    b.ids.clear()  # the runbook id lives in its own namespace
    b.log_folder = _common_log_folder(checklist)
    if checklist.preface:
        # Text and code only: the parser refuses an item before the first section.
        data["preface"] = [_block(block, b, _statement) for block in checklist.preface]
    order: list[str] = []
    for section in checklist.sections:
        kind = _section_kind(section)
        if kind != "phase" and kind in data:
            b.note(section.line, f"a second {kind} section: '{section.heading}' is imported as "
                   "a phase (its items become confirmations); merge it into the first to type it")
            kind = "phase"
        b.section_kind = kind
        if kind == "phase":
            if not section.blocks:
                raise RunbookError([Problem(b.name, f"line {section.line}",
                                            f"section '{section.heading}' is empty: a phase "
                                            "needs at least one item")])
            order.append(f"phases[{len(data['phases'])}]")
            data["phases"].append(_phase(section, b, len(data["phases"])))
        else:
            order.append(kind)
            data[kind] = _SECTION_BUILDERS[kind](section, b)
        built = data["phases"][-1] if kind == "phase" else data[kind]
        if section.spaced:
            built["spaced"] = True
    if not data["phases"]:
        raise RunbookError([Problem(b.name, "", "no phase: a runbook needs at least one section "
                                    "of work (a heading with 'Phase', or command items)")])
    usual = sorted(order, key=lambda place: ORDER.index(
        "phase" if place.startswith("phases[") else place))  # stable: phases keep their order
    if order != usual:
        data["order"] = order
    _watch(b, [step for phase in data["phases"] for step in phase["steps"]
               if step["kind"] == "command" and not step.get("read_only")], b.everywhere)
    _evidence_from_producers(data, b)
    data["abort_rules"] = b.rules
    data["scripts"] = [{"path": path} for path in b.scripts]
    for path in b.scripts:
        b.notes.append(f"{b.name}: script {path}: pin the sha256 it was approved with")
    return data


def _evidence_from_producers(data: dict[str, Any], b: _Builder) -> None:
    """An evidence file no step writes and no gate names (a rollback's log, a screenshot)
    cannot be checked by the cockpit: it stays on the page as a statement."""
    evidence = data.get("evidence")
    if evidence is None:
        return
    known = {path_name(step["log"]) for phase in data["phases"] for step in phase["steps"]
             if step["kind"] == "command" and step.get("log")}
    known |= {path_name(item["path"]) for item in data.get("gates", {}).get("items", [])
              if item["kind"] == "attestation_file"}
    for index, item in enumerate(evidence["items"]):
        if item["kind"] == "file" and item["name"] not in known:
            b.note(item.pop("_line"), f"`{item['name']}` is produced by no step and named by "
                   "no gate: kept as a statement (the operator keeps it by hand)")
            evidence["items"][index] = {"kind": "statement", "id": item["id"],
                                        "text": f"`{item['name']}`"}
        item.pop("_line", None)


def _common_log_folder(checklist: MdChecklist) -> str:
    folders = set()
    for section in checklist.sections:
        for item in section.items():
            if (m := _COMMAND.match(item.text)) and m["log"]:
                folders.add(m["log"][: len(m["log"]) - len(path_name(m["log"]))])
    return folders.pop() if len(folders) == 1 else ""


def _code(block: MdCode, b: _Builder) -> dict[str, Any]:
    text = "".join(line + "\n" for line in block.lines)
    return {"kind": "code", "id": b.new_id("code", "code"), "lang": block.lang, "text": text}


def _statement(item: MdItem, b: _Builder, kind: str = "statement") -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "id": b.new_id(item.text.replace("`", ""), kind),
                           "text": item.text}
    if item.children:
        out["children"] = [_sub(child) for child in item.children]
    return out


def _sub(item: MdItem) -> dict[str, Any]:
    return {"text": item.text, "children": [_sub(child) for child in item.children]}


def _text(block: MdText, b: _Builder) -> dict[str, Any]:
    b.note(block.line, "kept as text (no checklist item): "
           f"'{block.lines[0][:60]}'" + (f" and {len(block.lines) - 1} more lines"
                                         if len(block.lines) > 1 else ""))
    return {"kind": "text", "id": b.new_id("text", "text"), "text": "\n".join(block.lines)}


def _block(block: Block, b: _Builder, infer: _Infer) -> dict[str, Any]:
    if isinstance(block, MdCode):
        return _code(block, b)
    if isinstance(block, MdText):
        return _text(block, b)
    return infer(block, b)


def _items(section: MdSection, b: _Builder, infer: _Infer) -> list[dict[str, Any]]:
    return [_block(block, b, infer) for block in section.blocks]


def _boundary_item(item: MdItem, b: _Builder) -> dict[str, Any]:
    return _abort_item(item, b) or _statement(item, b)


def _boundary(section: MdSection, b: _Builder) -> dict[str, Any]:
    b.standalone = True  # its abort conditions watch every changing command
    return {"heading": section.heading, "items": _items(section, b, _boundary_item)}


def _gate(item: MdItem, b: _Builder) -> dict[str, Any]:
    words, ticks = item.text.lower(), _TICKS.findall(item.text)
    if item.children or words.startswith("abort"):
        return _statement(item, b)
    base = {"id": b.new_id(item.text.replace("`", ""), "gate"), "text": item.text}
    # A file name: an extension that starts with a letter (`release-1.4` is no file).
    files = [t for t in ticks if re.search(r"\.[A-Za-z][A-Za-z0-9]{0,4}$", t) and " " not in t]
    if files:
        if re.search(r"[/\\]", files[0]):  # a path of its own: taken as written
            b.note(item.line, f"attestation file `{files[0]}` is looked for there, relative "
                   "to the working directory; check its real path")
            return {"kind": "attestation_file", **base, "path": files[0]}
        where = b.log_folder or "the working directory"
        b.note(item.line, f"attestation file `{files[0]}` is looked for in {where} (where the "
               "logs go); check its real path")
        return {"kind": "attestation_file", **base, "path": b.log_folder + files[0]}
    if "single" in words and "head" in words and ticks:
        return {"kind": "probe", **base, "probe": "alembic.single_head", "expected": ticks[-1]}
    if (preflight := preflight_gate(item.text)) is not None:
        limits = ", ".join(f"{k} = {v}" for k, v in preflight.args.items()) or "its defaults"
        b.note(item.line, f"'{item.text}' became a {preflight.probe} gate ({limits}); check "
               "the limits against the line")
        return {"kind": "probe", **base, "probe": preflight.probe, "args": preflight.args}
    if "commit" in words or re.search(r"\btag\b", words):
        return {"kind": "probe", **base, "probe": "rehearsal.pass",
                "prompt": "Commit or tag that passed the rehearsal"}
    b.note(item.line, f"'{item.text}' became an operator attestation (asks for a reference)")
    return {"kind": "attestation", **base}


def _gate_or_closing(item: MdItem, b: _Builder) -> dict[str, Any]:
    # A closing line is what the gates already do: its text stays, it attests nothing.
    if not item.children and is_closing_line(item.text):
        return _statement(item, b)
    return _gate(item, b)


def _gates(section: MdSection, b: _Builder) -> dict[str, Any]:
    return {"heading": section.heading, "items": _items(section, b, _gate_or_closing)}


def _setup(section: MdSection, b: _Builder) -> dict[str, Any]:
    out: dict[str, Any] = {"heading": section.heading}
    codes = [block for block in section.blocks if isinstance(block, MdCode)]
    shell = read_setup([(code.lang, code.lines) for code in codes])
    out["shell"] = shell.shell
    items: list[dict[str, Any]] = []
    for block in section.blocks:
        if isinstance(block, MdCode):
            items.append({"kind": "script", "id": b.new_id("setup-script", "script")}
                         if len(codes) == 1 else _code(block, b))
            continue
        items.append(_text(block, b) if isinstance(block, MdText)
                     else _setup_item(block, b, shell, out))
    derived = _derived_script({**out, "items": items})
    if len(codes) == 1 and (derived != codes[0].lines or codes[0].lang != shell.shell or not any(
            item["kind"] == "working_directory" for item in items)):
        # The block says more (or in another order, or another shell) than the items: kept
        # verbatim, and the items are still checked.
        items = [_code(codes[0], b) if item["kind"] == "script" else item for item in items]
    out["items"] = items
    return out


def _derived_script(setup: dict[str, Any]) -> list[str] | None:
    try:
        return setup_script_lines(SetupSection.model_validate(setup))
    except ValidationError:
        return None


def _setup_item(item: MdItem, b: _Builder, shell: ShellSetup,
                out: dict[str, Any]) -> dict[str, Any]:
    """A working directory or DSN line, typed from what the setup block does; any other line
    stays a confirmation, its note saying why."""
    ticks = _TICKS.findall(item.text)
    words = item.text.lower()
    base = {"id": b.new_id(item.text.replace("`", ""), "setup"), "text": item.text}
    if item.children:
        reason = "it has nested items"
    elif "working directory" in words or "working folder" in words:
        reason = workdir_problem(item.text, shell)
        if not reason:
            assert shell.workdir is not None
            if not is_absolute(shell.workdir):
                b.note(item.line, f"working directory `{shell.workdir}` is relative: it is "
                       "taken from the runbook file's folder (write the TOML beside the "
                       "checklist, or give the block an absolute path)")
            return {"kind": "working_directory", **base, "path": shell.workdir}
    elif ticks and ticks[0] in shell.env:
        value = shell.env[ticks[0]]
        reason = dsn_problem(ticks, value, out)
        if not reason:
            assert value is not None
            database, query = dsn_parts(value)
            require = {k: v for t in ticks[1:] if "=" in t
                       for k, v in [t.split("=", 1)] if query.get(k) == v}
            return {"kind": "env", **base, "name": ticks[0], "template": value,
                    "database": database, "require": require}
    elif ticks and re.fullmatch(r"[A-Z_][A-Z0-9_]*", ticks[0]):
        reason = f"no setup block sets `{ticks[0]}`"
    else:
        reason = "not a working directory line, nor a `VARIABLE` set to `database` line"
    b.note(item.line, f"'{item.text}' became a manual confirmation: {reason}")
    return _statement(item, b, "manual")


def _phase(section: MdSection, b: _Builder, index: int) -> dict[str, Any]:
    token = (re.search(r"\bphase\s+([A-Za-z0-9][A-Za-z0-9_.-]*)", section.heading, re.I)
             or re.search(r"\b(P\d+[A-Za-z]?)\b", section.heading))
    phase_id = b.claim(token[1] if token else f"P{index}")  # the author's spelling: P0
    commands_here = [m["command"] for item in section.items()
                     if (m := _COMMAND.match(item.text)) and m["log"]]
    b.phase_rules, b.standalone = [], not commands_here
    b.reads_too = any(is_read_only(command) for command in commands_here)
    steps = _items(section, b, _step)
    commands = [step for step in steps if step["kind"] == "command"]
    _watch(b, [step for step in commands if not step.get("read_only")] or commands,
           b.phase_rules)
    return {"id": phase_id, "heading": section.heading, "steps": steps}


def _watch(b: _Builder, commands: list[dict[str, Any]], rule_ids: list[str]) -> None:
    """Name the rules on each command (a lock_queue rule only on a changing one: a read-only
    step has no lock radar)."""
    queue = {rule["id"] for rule in b.rules if rule.get("kind") == "lock_queue"}
    for step in commands:
        own = step.setdefault("abort_rules", [])
        own += [r for r in rule_ids if r not in own and not (r in queue and step.get("read_only"))]
        if not own:
            del step["abort_rules"]


def _step(item: MdItem, b: _Builder) -> dict[str, Any]:
    text, words, ticks = item.text, item.text.lower(), _TICKS.findall(item.text)
    base = {"id": "", "text": text}
    # Only `command` -> `log` runs, and that shape is a command whatever its words say
    # (`head single` -> `x.log` must not become a check whose log nobody writes).
    if not item.children and (m := _COMMAND.match(text)) and m["log"]:
        if m["log"] not in b.logs:
            return _command(m["command"], m["log"], b)
        # a second command writing the same log would overwrite the first's evidence
        b.note(item.line, f"'{text}' writes the log `{m['log']}` an earlier command writes; "
               "it became a manual confirmation")
        return _statement(item, b, "manual")
    # A backticked line without a log is no command: `current == R` is a check.
    check = _check(item, words, ticks) if not item.children or _all_ticked(item) else None
    if check is not None:
        base["id"] = b.new_id(text.replace("`", ""), "check")
        return {"kind": "check", **base, **check}
    abort = _abort_item(item, b)
    if abort is not None:
        return abort
    dsn_line = len(ticks) >= 2 and " set to " in text and re.fullmatch(r"[A-Z_][A-Z0-9_]*",
                                                                         ticks[0])
    if not item.children and ("working directory" in words or dsn_line):
        b.note(item.line, f"'{text}' became a manual confirmation: a setup line is typed in a "
               "setup section only (a heading with 'Setup', 'Session' or 'Environment', with "
               "its shell block)")
        return _statement(item, b, "manual")
    b.note(item.line, f"'{text}' became a manual confirmation; if a probe can answer it, "
           "type it as a check" + ("; if it is a command, give it a `-> `log``"
                                  if _COMMAND.match(text) else ""))
    return _statement(item, b, "manual")


def _all_ticked(item: MdItem) -> bool:
    return all(not c.children and re.fullmatch(r"`[^`]+`", c.text) for c in item.children)


def _check(item: MdItem, words: str, ticks: list[str]) -> dict[str, Any] | None:
    if item.children:
        if "present" in words:
            names = [child.text.strip("`") for child in item.children]
            return {"probe": "db.objects_present", "expected": names, "list_items": True}
        return None
    if m := re.fullmatch(r"`current == ([^`\s]+)`", item.text):
        return {"probe": "alembic.current_equals", "expected": m[1]}
    if "single" in words and "head" in words and ticks:
        return {"probe": "alembic.single_head", "expected": ticks[-1]}
    if (m := re.search(r"version_num`? (?:length|width) = (\d+)$", item.text)) is not None:
        return {"probe": "alembic.version_width", "expected": int(m[1])}
    if words.startswith("upgrade path includes") and ticks:
        return {"probe": "alembic.upgrade_path_includes", "expected": ticks}
    return None


def _command(command: str, log: str | None, b: _Builder) -> dict[str, Any]:
    hint = re.sub(r"\.[A-Za-z0-9]+$", "", path_name(log)) if log else command
    step: dict[str, Any] = {"kind": "command", "id": b.new_id(hint, "command"), "command": command}
    if log:
        step["log"] = log
        b.logs.add(log)
    if is_read_only(command):
        step["read_only"] = True
    elif b.production:  # the operator types the target (or the script's name) to start it
        step["confirm"] = confirm_word(command)
    for path in script_paths(command):
        if path not in b.scripts:
            b.scripts.append(path)
    return step


def _abort_item(item: MdItem, b: _Builder) -> dict[str, Any] | None:
    """A list or sentence asking to stop on conditions, or None. Watchable conditions become
    rules: a list of them all, in a phase whose commands all change, is its abort watch (the
    reference's shape); otherwise they watch the phase's changing commands (a section without
    commands: every changing command), and the item is a confirmation of what the cockpit
    cannot watch."""
    if item.children and is_abort_list(item.text):
        found = [(condition(child.text), child.line) for child in item.children]
    elif not item.children and (texts := sentence_conditions(item.text)) is not None:
        if not texts:  # a closing line: what the gates already do
            return _statement(item, b)
        found = [(condition(text), item.line) for text in texts]
    else:
        return None
    for cond, line in found:
        if cond.rule is None:
            b.note(line, f"'{cond.text}' is not a condition the cockpit can watch; kept as a "
                   + ("confirmation" if not _in_boundary(b) else
                      "statement (write it in the phase it guards to have it confirmed)"))
    watchable = [cond for cond, _ in found if cond.rule is not None]
    flat = all(not child.children for child in item.children)
    # An abort watch guards every command of its phase: the shape only where all change.
    if item.children and flat and len(watchable) == len(found) and not b.standalone \
            and not b.reads_too:
        return {"kind": "abort_watch", "id": b.new_id(item.text, "abort-watch"),
                "text": item.text, "rules": [_rule(cond, b, shown=True) for cond in watchable]}
    ids = list(dict.fromkeys(_rule(cond, b, shown=False) for cond in watchable))
    target = b.everywhere if b.standalone else b.phase_rules
    target += [rule_id for rule_id in ids if rule_id not in target]
    if ids:
        where = "every phase" if b.standalone else "its phase"
        b.note(item.line, f"abort rules {', '.join(ids)} watch the changing commands of {where}")
    confirm = len(watchable) < len(found) and not _in_boundary(b)
    return _statement(item, b, "manual" if confirm else "statement")


def _in_boundary(b: _Builder) -> bool:
    return b.section_kind == "boundary"


def _rule(cond: Condition, b: _Builder, shown: bool) -> str:
    """The id of the rule for a condition: one already made that watches the same (with the
    same label, where an abort watch shows it), or a new one."""
    assert cond.rule is not None
    rule: AbortRule = cond.rule.model_copy(update={"label": cond.text})
    same = ("kind", "patterns", "max_waiting", "max_wait", "samples") + (("label",) if shown
                                                                          else ())
    dumped = rule.model_dump()
    for known in b.rules:
        if all(known.get(key) == dumped.get(key) for key in same):
            return str(known["id"])
    taken = {known["id"] for known in b.rules} | set(COCKPIT_RULES)  # those are the cockpit's
    # Rule ids have their own namespace (not the steps'), with the same readable shape;
    # a label of punctuation only ("—") still needs a valid id.
    base = rule.id if rule.id != "rule" else re.sub(
        r"[^a-z0-9]+", "-", cond.text.lower()).strip("-")[:60]
    base = base.strip("-") or "rule"
    rule_id, n = base, 2
    while rule_id in taken:
        rule_id, n = f"{base}-{n}", n + 1
    b.rules.append(rule.model_copy(update={"id": rule_id}).model_dump())
    return rule_id


def _halt_item(item: MdItem, b: _Builder) -> dict[str, Any]:
    words = item.text.lower()
    actions = [
        ("no_further_commands", ("do not continue", "no further", "no additional")),
        ("stop", ("stop",)),
        ("preserve", ("preserve", "keep all")),
        ("record_blocker", ("blocker", "root-cause", "root cause")),
        ("escalate", ("escalat",)),
    ]
    action = next((a for a, keys in actions if any(k in words for k in keys)), "manual")
    if action == "manual" or item.children:
        b.note(item.line, f"'{item.text}' became a manual step of the halt protocol")
        action = "manual"
    out: dict[str, Any] = {"kind": "halt", "id": b.new_id(item.text, "halt"),
                           "text": item.text, "action": action}
    if item.children:
        out["children"] = [_sub(child) for child in item.children]
    return out


def _halt(section: MdSection, b: _Builder) -> dict[str, Any]:
    return {"heading": section.heading, "items": _items(section, b, _halt_item)}


def _rollback_item(item: MdItem, b: _Builder) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "halt", "id": b.new_id("rollback " + item.text.replace("`", ""), "rollback"),
        "text": item.text, "action": "manual"}
    if item.children:
        out["children"] = [_sub(child) for child in item.children]
    return out


def _rollback(section: MdSection, b: _Builder) -> dict[str, Any]:
    b.note(section.line, f"'{section.heading}': each item is confirmed by the operator after a "
           "halt, with a note (done, or why not); the cockpit never runs a command after a halt")
    return {"heading": section.heading, "items": _items(section, b, _rollback_item)}


def _evidence_item(item: MdItem, b: _Builder) -> dict[str, Any]:
    m = re.fullmatch(r"`([^`/\\]+)`", item.text)
    if m and not item.children:
        return {"kind": "file", "id": b.new_id("ev-" + m[1].rsplit(".", 1)[0], "ev"),
                "name": m[1], "_line": item.line}
    b.note(item.line, f"'{item.text}' is not a `file name`; kept as a statement")
    return _statement(item, b)


def _evidence(section: MdSection, b: _Builder) -> dict[str, Any]:
    return {"heading": section.heading, "items": _items(section, b, _evidence_item)}


# The fields that are a sign-off: required for a PASS. (`reviewer` is not: countersignatures
# come after the decision.)
SIGN_OFF_ROLES = ("risk_tier", "authorization")
_SIGN_OFF_LABEL = re.compile(
    r"\bapprov|\bsign(?:ed)?[- ]?(?:off|by)\b|\bauthori[sz]|\bchecker\b|\breviewed by\b", re.I)


def _decision_item(item: MdItem, b: _Builder) -> dict[str, Any]:
    m = re.fullmatch(r"(?P<label>[^:]+):(?: (?P<allowed>.+))?", item.text)
    if m and not item.children and not m["label"].endswith(" "):
        allowed = m["allowed"].split(" / ") if m["allowed"] else []
        if all(a and a == a.strip() for a in allowed):
            field_id = b.new_id(m["label"], "field", sep="_")
            out: dict[str, Any] = {"kind": "field", "id": field_id, "label": m["label"]}
            if allowed:
                out["allowed"] = allowed
            role = role_for_label(m["label"], allowed)
            if role is not None and role not in b.roles:
                b.roles.add(role)
                out["role"] = role
            if out.get("role") in SIGN_OFF_ROLES or _SIGN_OFF_LABEL.search(m["label"]):
                out["required"] = True  # a PASS without the team's sign-off is no PASS
            return out
    b.note(item.line, f"'{item.text}' is not a 'Field:' line; kept as a statement")
    return _statement(item, b)


def _decision(section: MdSection, b: _Builder) -> dict[str, Any]:
    return {"heading": section.heading, "items": _items(section, b, _decision_item)}


_SECTION_BUILDERS = {
    "boundary": _boundary,
    "gates": _gates,
    "setup": _setup,
    "halt": _halt,
    "rollback": _rollback,
    "evidence": _evidence,
    "decision": _decision,
}
