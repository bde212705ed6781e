"""Property: whatever a runbook file holds, `validate` and `render` answer with the runbook or
with problems naming their place — never `internal error`. Runbooks are generated from the
bundled ones with awkward values (line breaks, backticks, fences, empty text) put anywhere a
string is: a value the loader accepts must be one every later model accepts too."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.resources import bundled_runbook
from tests.conftest import REPO

BASES = {name: __import__("tomllib").loads(bundled_runbook(name).read_text(encoding="utf-8"))
         for name in ("demo-cutover.toml", "minimal-cutover.toml")}
AWKWARD = st.one_of(
    st.sampled_from(["", " ", "\n", "a\nb", "a\rb", "`", "a`b", "```", "```\nx\n```", "|",
                     "# x", "- [ ] x", "\t", "x:", "{x}", "<PASSWORD>", "\\", "\u202e", "é",
                     "x" * 300]),
    st.text(st.sampled_from("ab \n\r`|#:-*[]\\\t"), max_size=8),
)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place holding a string."""
    if isinstance(node, str):
        return [path]
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [p for index, value in enumerate(node) for p in _leaves(value, (*path, index))]
    return []


def _put(node: Any, path: tuple[Any, ...], value: str) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # a basic string: every control character escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"


def _toml(data: dict[str, Any]) -> str:
    lines = [f"{json.dumps(k)} = {_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v
                                                 and all(isinstance(x, dict) for x in v))]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += [f"[{json.dumps(key)}]",
                      *(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for table in value:
                lines += [f"[[{json.dumps(key)}]]",
                          *(f"{json.dumps(k)} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


@st.composite
def runbooks(draw: st.DrawFn) -> str:
    data = json.loads(json.dumps(BASES[draw(st.sampled_from(sorted(BASES)))]))
    places = _leaves(data)
    for _ in range(draw(st.integers(1, 3))):
        _put(data, draw(st.sampled_from(places)), draw(AWKWARD))
    return _toml(data)


def _answers(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    for command in ("validate", "render"):
        err, out = io.StringIO(), io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main([command, str(path)])
        said = err.getvalue()
        assert "internal error" not in said, f"{command}: {said}"
        assert code in (0, 1), f"{command} exited {code}: {said}"
        if code == 1:  # refused: each problem names the file (and its place)
            problems = [line for line in said.splitlines()
                        if line and not line.endswith("problems in the runbook:")]
            assert problems and all(line.startswith(f"{path}:") for line in problems), said


# The fuzz sweep's finding (issue #27): a line break inside a listed object's name.
NEWLINE_IN_LISTED = _toml({**BASES["demo-cutover.toml"]}).replace(
    '"performance_drift_flags"', '"performance\\ndrift_flags"', 1)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=runbooks())
@example(text=NEWLINE_IN_LISTED)
def test_validate_and_render_never_end_in_an_internal_error(text: str, tmp_path: Path) -> None:
    _answers(tmp_path / "runbook.toml", text)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=runbooks())
def test_validate_and_render_never_end_in_an_internal_error_over_many_runbooks(
        text: str, tmp_path: Path) -> None:
    _answers(tmp_path / "runbook.toml", text)


def test_a_line_break_in_a_listed_value_is_refused_naming_its_place(tmp_path: Path) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text(NEWLINE_IN_LISTED, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["validate", str(path)]) == 1
    said = err.getvalue()
    assert ".expected[1]" in said and "one line" in said, said
    assert str(REPO) not in said or str(path) in said
