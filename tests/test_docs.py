"""The docs hold together for someone with only a clone: every link in README.md and docs/
leads somewhere (a file of the repository, a heading of it — GitHub's anchors —, a
well-formed web address; no network), every repository file the docs or the code's
comments and docstrings name exists, no comment sends a reader to a document the repository
does not have, and docs/architecture.md names every module of `cockpit/`."""

from __future__ import annotations

import ast
import functools
import io
import os
import re
import subprocess
import sys
import tokenize
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ARCHITECTURE = REPO / "docs" / "architecture.md"
# Python whose comments and docstrings are read; the demo's operator scripts are payload
# (pinned by sha256 in runbooks/demo-cutover.toml), their words the scripts' own
CODE_ROOTS = ("cockpit", "bench", "docs", "tests")
PACKAGES = ("cli", "demo", "engine", "evidence", "mirror", "probes", "runbook", "session", "tui")
# Files of a team's own project or a made-up example, named by the docs and comments
NOT_OURS = {"env.py", "x.py"}

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_NAMED = re.compile(
    r"(?<![\w./~$%-])("
    r"(?:\.ci|bench|cockpit|docs|runbooks|sessions|styles|tests)/[\w./*<>{}…-]*"
    rf"|(?:{'|'.join(PACKAGES)})/[\w/]+\.py"
    r"|[\w-]+\.(?:py|tcss))")
# a document outside the repository: the team's own design notes, which a clone lacks
_ELSEWHERE = re.compile(r"\bDESIGN\b|\bSTYLE\.md\b|\.\./shared\b")
_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
_INVARIANT = re.compile(r"\binvariants?\s+\d+(?:\s*(?:-|–|and|,)\s*\d+)*")


def _prose(text: str) -> str:
    """Markdown with its fenced blocks and code spans blanked (every offset kept)."""
    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))
    return _CODE_SPAN.sub(blank, _FENCE.sub(blank, text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as shown, lower case, every character but
    letters, digits, `_`, `-` and spaces dropped, spaces made `-`."""
    shown = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    shown = shown.replace("`", "").replace("*", "")
    shown = re.sub(r"<[^>]+>", "", shown).strip().lower()
    return re.sub(r"[^\w\- ]", "", shown).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a page's headings; a repeated one gets GitHub's `-1`, `-2`, …"""
    seen: Counter[str] = Counter()
    found = set()
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    for match in _HEADING.finditer(text):
        base = slug(match.group(2))
        found.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return found


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def test_slugs_follow_githubs_rules() -> None:
    assert slug("The migration risk gate and waivers") == "the-migration-risk-gate-and-waivers"
    assert slug("Importing a team's checklist") == "importing-a-teams-checklist"
    assert slug("`[[abort_rules]]`") == "abort_rules"
    assert slug("`[environments.NAME]`") == "environmentsname"
    assert slug("Set-up on a fresh machine — **now**") == "set-up-on-a-fresh-machine--now"


def test_the_link_check_tells_a_link_that_leads_nowhere() -> None:
    readme = REPO / "README.md"
    assert _broken(readme, "docs/setup.md") is None
    assert _broken(readme, "#commands") is None
    assert _broken(readme, "docs/runbooks-guide.md#importing-a-teams-checklist") is None
    assert _broken(readme, "https://docs.astral.sh/uv/") is None
    assert _broken(readme, "docs/nowhere.md") == "names no file of the repository"
    assert "no heading" in (_broken(readme, "docs/setup.md#nowhere") or "")
    assert "no heading" in (_broken(readme, "#nowhere") or "")
    assert _broken(readme, "https://") == "is not a well-formed web address"
    assert _broken(readme, "../../etc/passwd") == "leaves the repository"


def test_every_link_in_the_docs_leads_somewhere() -> None:
    problems = []
    checked = 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _LINK.finditer(_prose(text)):
            target, where = match.group(1), f"{page.relative_to(REPO)}:{_line(text, match.start())}"
            checked += 1
            if why := _broken(page, target):
                problems.append(f"{where}: ({target}) {why}")
    assert checked > 50  # the pages' links were read, not skipped
    assert not problems, "\n".join(problems)


def test_every_page_of_docs_is_reached_from_the_readme() -> None:
    """A guide added to docs/ gets its line in the README (the front door lists them all)."""
    readme = REPO / "README.md"
    linked = {(readme.parent / urlsplit(m.group(1)).path).resolve()
              for m in _LINK.finditer(_prose(readme.read_text(encoding="utf-8")))}
    unlisted = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not unlisted, f"README.md links no {unlisted}: give each guide its line"


def _broken(page: Path, target: str) -> str | None:
    """Why a link from `page` leads nowhere, or None."""
    parts = urlsplit(target)
    if parts.scheme in ("http", "https"):
        host_ok = re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?", parts.netloc)
        return None if host_ok else "is not a well-formed web address"
    if parts.scheme or parts.netloc:
        return f"uses {parts.scheme or 'a host'}: the docs link files and web pages only"
    path = (page.parent / parts.path).resolve() if parts.path else page
    if not path.is_relative_to(REPO):
        return "leaves the repository"
    if not path.exists():
        return "names no file of the repository"
    if parts.fragment and parts.fragment not in (anchors(path) if path.suffix == ".md" else ()):
        return f"#{parts.fragment} is no heading of {path.relative_to(REPO)}"
    return None


def _code_files() -> list[Path]:
    found = []
    for root in CODE_ROOTS:
        found += [p for p in sorted((REPO / root).rglob("*.py"))
                  if "demo/scripts" not in p.as_posix() and ".venv" not in p.parts]
    return found


def _comments_and_docstrings(source: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each comment and docstring (a string standing as a statement of its
    own) of a Python file: one pass of the tokenizer, no tree."""
    text = source.read_text(encoding="utf-8")
    if not any(pattern.search(text) for pattern in (_NAMED, _ELSEWHERE, _INVARIANT)):
        return  # nothing any check looks for: spare the (slow) tokenizer
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    before = tokenize.NEWLINE
    for token in tokens:
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
        elif token.type == tokenize.STRING and before in _STATEMENT_START:
            following = next(tokens)
            if following.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                yield token.start[0], ast.literal_eval(token.string)
            token = following
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            before = token.type


@functools.cache
def _words() -> tuple[tuple[str, int, str], ...]:
    """(file, line, text) of everything a reader of the docs or the code is told: each page
    whole, each comment and docstring."""
    found = [(page.relative_to(REPO).as_posix(), 1, page.read_text(encoding="utf-8"))
             for page in PAGES]
    for source in _code_files():
        name = source.relative_to(REPO).as_posix()
        found += [(name, line, text) for line, text in _comments_and_docstrings(source)]
    return tuple(found)


def _hits(pattern: re.Pattern[str]) -> Iterator[tuple[str, str]]:
    """("file:line", what matched) for each match of `pattern` in the docs' and the code's
    words."""
    for name, first, text in _words():
        for match in pattern.finditer(text):
            yield f"{name}:{first + text.count(chr(10), 0, match.start())}", match.group(0)


def _exists(name: str, everything: set[str]) -> bool:
    """Whether a name the docs or comments give is a file (or folder, or glob) of the
    repository: a path from its top, a module of a `cockpit/` package, or a file's name."""
    if "/" not in name:
        return name in NOT_OURS or name in everything
    if name.split("/", 1)[0] in PACKAGES:
        name = f"cockpit/{name}"
    # the command line is a module or a package (cockpit/cli/) as the refactoring goes
    if name in ("cockpit/cli.py", "cockpit/cli/"):
        return (REPO / "cockpit" / "cli.py").exists() or (REPO / "cockpit" / "cli").is_dir()
    if "*" in name:
        return any(REPO.glob(name))
    return (REPO / name).exists()


def _file_names() -> set[str]:
    """The name of every file of the checkout (not its environment, history or sessions)."""
    found = set()
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__pycache__"
                         and not (folder == str(REPO) and d == "sessions")]
        found.update(files)
    return found


def test_the_file_check_tells_a_name_the_repository_lacks() -> None:
    names = _file_names()
    assert _exists("cockpit/engine/supervisor.py", names) and _exists("session/view.py", names)
    assert _exists("styles/*.tcss", names) and _exists("docs/", names)
    assert _exists("cockpit/cli/", names) and _exists("cockpit/cli.py", names)
    assert _exists("view.py", names) and _exists("env.py", names)  # ours; a team's own
    assert not _exists("cockpit/engine/nowhere.py", names)
    assert not _exists("tui/nowhere.py", names) and not _exists("nowhere.py", names)
    assert not _exists("styles/*.css", names)


def test_every_file_the_docs_and_comments_name_exists() -> None:
    everything = _file_names()
    problems = []
    checked = 0
    for where, named in _hits(_NAMED):
        name = named.rstrip(".,:;)")
        # a placeholder (`sessions/<id>`, `tests/...py`) or a session's own folder
        if re.search(r"[<>{}…]|\.\.\.", name) or name.startswith("sessions/"):
            continue
        checked += 1
        if not _exists(name, everything):
            problems.append(f"{where}: names {name}, which the repository does not have")
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_no_comment_sends_the_reader_to_a_document_the_repository_lacks() -> None:
    """The team's design notes live outside the repository; what a reader needs of them (the
    invariants) is in docs/architecture.md, and the code's comments point there."""
    # tests/ is left to its own hygiene (two docstrings there still say "DESIGN's")
    problems = [f"{where}: {named}" for where, named in _hits(_ELSEWHERE)
                if not where.startswith("tests/")]
    assert not problems, "point these at docs/architecture.md (or docs/commands.md):\n" + \
        "\n".join(problems)


def _invariants() -> list[str]:
    """The invariants docs/architecture.md numbers, in order."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = re.search(r"^## Invariants\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, "docs/architecture.md has no `## Invariants` section"
    return re.findall(r"^(\d+)\. ", section.group(1), re.MULTILINE)


def test_every_invariant_cited_is_one_docs_architecture_numbers() -> None:
    numbered = _invariants()
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert len(numbered) >= 12
    problems = [f"{where}: {cited}" for where, cited in _hits(_INVARIANT)
                if any(n not in numbered for n in re.findall(r"\d+", cited))]
    assert not problems, f"docs/architecture.md numbers {len(numbered)}:\n" + "\n".join(problems)


def _sections(page: Path) -> dict[str, str]:
    """Each heading's text and what follows it, up to the next heading."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    marks = list(_HEADING.finditer(text))
    return {m.group(2): text[m.end():marks[i + 1].start() if i + 1 < len(marks) else None]
            for i, m in enumerate(marks)}


def test_the_architecture_names_every_module_of_the_package() -> None:
    """Each folder of `cockpit/` has a heading of its own in docs/architecture.md, and each of
    its modules is named by its file's name under it: a module added without a word there fails."""
    sections = _sections(ARCHITECTURE)
    problems = []
    folders = sorted({p.parent for p in (REPO / "cockpit").rglob("*.py")})
    for folder in folders:
        name = f"{folder.relative_to(REPO).as_posix()}/"
        section = next((body for heading, body in sections.items()
                        if f"`{name}`" in heading), None)
        if section is None:
            problems.append(f"no heading names `{name}`")
            continue
        for module in sorted(folder.glob("*.py")):
            if module.name != "__init__.py" and f"`{module.name}`" not in section:
                problems.append(f"`{name}` does not name `{module.name}`")
    assert len(folders) >= 10
    assert not problems, "docs/architecture.md, Modules:\n" + "\n".join(problems)


def test_the_supervisor_imports_what_its_docstring_says() -> None:
    """supervisor.py says it imports the standard library, RE2 and small cockpit modules,
    so it starts fast: a heavy import added to it (or to a module it imports) fails here."""
    probe = ("import sys; before = set(sys.modules); import cockpit.engine.supervisor; "
             "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    outside = set(done.stdout.split()) - set(sys.stdlib_module_names) - {"cockpit"}
    assert outside == {"re2"}, f"the supervisor now imports {sorted(outside)}: say so in " \
        "its docstring (cockpit/engine/supervisor.py) and here"
