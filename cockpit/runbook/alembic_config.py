"""Which Alembic configuration a command reads — `-c/--config`, `-n/--name`, the
`ALEMBIC_CONFIG` variable (the session's, or set on the command line), `pyproject.toml`'s
`[tool.alembic]` — parsed by Alembic's own command line, and the script directory read from
it as `alembic` would read it in the step's working directory. The checks of a step's
targets and of its migrations must read the lineage the step runs, not whichever
`alembic.ini` happens to sit in the folder; where that cannot be known here, they say so."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cockpit.runbook.commands import alembic_args, alembic_prefix

if TYPE_CHECKING:  # Alembic (with SQLAlchemy and Mako) is imported when a lineage is read:
    from alembic.script import ScriptDirectory  # half a second of every cockpit's start

_TOML = "pyproject.toml"
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)\}|(?P<plain>\w+))")
# `pkg:path` (a package resource) but not `C:\...` (a Windows drive)
_RESOURCE = re.compile(r"^[A-Za-z_][\w.]+:(?![\\/])")


class LineageUnreadable(Exception):
    """The script directory cannot be read here: the check is left to where it can."""


@dataclass(frozen=True)
class AlembicConfig:
    """The files and section a command's Alembic reads, relative to its working directory;
    `unread` says why they cannot be known here (the step's checks then say so)."""

    ini: str = "alembic.ini"
    toml: str = _TOML
    section: str = "alembic"
    x_args: tuple[str, ...] = ()  # the `-x` arguments its env.py reads
    unread: str | None = None
    folder: str = ""  # where `cd DIR &&` takes the command, from its working directory

    def options(self) -> list[str]:
        """The options that make another `alembic` run read this same configuration."""
        named = ["-c", self.ini] + (["-c", self.toml] if self.toml != _TOML else [])
        named += ["-n", self.section] if self.section != "alembic" else []
        return named + [word for value in self.x_args for word in ("-x", value)]


class _Unparsed(Exception):
    pass


def _refuse(message: str) -> NoReturn:
    raise _Unparsed(message)


def _quiet(parser: argparse.ArgumentParser) -> None:
    """Parse errors raised, not printed with an exit: this runs inside the cockpit."""
    parser.error = _refuse  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _quiet(sub)


@lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    from alembic.config import CommandLine

    parser = CommandLine(prog="alembic").parser
    _quiet(parser)
    return parser


def command_config(command: str, env: Mapping[str, str] | None = None) -> AlembicConfig:
    """The configuration an `alembic …` command reads (Alembic's defaults for a command
    that runs no Alembic). `env` is the environment it runs in (`os.environ` for
    `validate`); `$NAME` in `-c`/`-n` is taken from it, as the shell would."""
    env = dict(os.environ if env is None else env)
    prefix = alembic_prefix(command)
    # `ALEMBIC_CONFIG=x alembic …` and `env ALEMBIC_CONFIG=x …`: the variable the step sets
    for name, value in re.findall(r"(?:^|\s)(ALEMBIC_CONFIG)=(\S+)", prefix):
        env[name] = value.strip("'\"")
    variable = env.get("ALEMBIC_CONFIG", "")
    toml, ini = _TOML, "alembic.ini"
    if variable:  # as Alembic reads it: a pyproject.toml, else an ini file
        toml, ini = (variable, ini) if Path(variable).name == _TOML else (toml, variable)
    folder = _entered(prefix, env)
    if folder is None:
        return AlembicConfig(ini, toml, unread=f"the command changes folder before Alembic "
                             f"runs (`{prefix.strip()}`) in a way not followed here")
    args = alembic_args(command) or []
    if any(word in ("-h", "--help", "--version") for word in args):
        return AlembicConfig(ini, toml)
    try:
        options, _ = _parser().parse_known_args(args)
    except _Unparsed as exc:
        return AlembicConfig(ini, toml, unread=f"Alembic's command line refuses it ({exc})")
    named: list[str] = options.config or []
    inis = [name for name in named if Path(name).name != _TOML]
    tomls = [name for name in named if Path(name).name == _TOML]
    if len(inis) > 1 or len(tomls) > 1:
        return AlembicConfig(ini, toml, unread="Alembic takes one ini file and one "
                             "pyproject.toml: it refuses this command")
    section = options.name or "alembic"
    try:
        ini, toml, section = (_expand(value, env) for value in (
            inis[0] if inis else ini, tomls[0] if tomls else toml, section))
    except KeyError as exc:
        return AlembicConfig(ini, toml, unread=f"${exc.args[0]} is not set here")
    return AlembicConfig(ini, toml, section, tuple(options.x or ()), folder=folder)


def _entered(prefix: str, env: Mapping[str, str]) -> str | None:
    """The folder `cd DIR &&` (or `uv run --directory DIR`) enters before Alembic runs,
    relative to the working directory ('' for none); None for a move not followed here
    (`pushd`, `cd -`, an unset variable)."""
    if re.search(r"\bpushd\b|\bcd\s*(?:$|[;&|])|\bcd\s+-(?:\s|$)", prefix):
        return None
    folder = ""
    moves = re.finditer(r"(?:^|[;&|]\s*)cd\s+(?P<cd>\"[^\"]*\"|'[^']*'|[^\s;&|]+)"
                        r"|--directory(?:=|\s+)(?P<uv>\"[^\"]*\"|'[^']*'|\S+)", prefix)
    for move in moves:
        try:
            step = _expand(os.path.expanduser((move["cd"] or move["uv"]).strip("'\"")), env)
        except KeyError:
            return None
        folder = step if Path(step).is_absolute() else str(Path(folder) / step)
    return folder


def _expand(value: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env[m["braced"] or m["plain"]], value)


def alembic_table(path: Path) -> bool:
    """Whether a pyproject.toml holds Alembic's configuration (`[tool.alembic]`, in any
    TOML spelling)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and isinstance(tool.get("alembic"), dict)


def read_lineage(workdir: Path, config: AlembicConfig | None = None) -> ScriptDirectory:
    """The project's script directory, read from `config` as `alembic` run in `workdir`
    reads it."""
    config = config or AlembicConfig()
    if config.unread is not None:
        raise LineageUnreadable(config.unread)
    workdir = workdir / config.folder
    ini, toml = _here(workdir, config.ini), _here(workdir, config.toml)
    has_toml = toml.is_file() and alembic_table(toml)
    if not ini.is_file() and not has_toml:
        raise LineageUnreadable(f"{workdir}: no {config.ini} (nor a pyproject.toml with "
                                "[tool.alembic]) in the working directory")
    where = ini if ini.is_file() else toml
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    alembic = Config(str(ini) if ini.is_file() else None,
                     ini_section=config.section, toml_file=str(toml) if has_toml else None)
    saved = list(sys.path)  # from_config prepends the project's `prepend_sys_path`
    try:
        location = alembic.get_alembic_option("script_location")
        if not isinstance(location, str) or not location:
            raise LineageUnreadable(f"{where}: no script_location in [{config.section}]")
        if not _RESOURCE.match(location):  # relative to where the step runs; `%` doubled
            alembic.set_main_option("script_location", str(workdir / location).replace(
                "%", "%%"))  # because the ini's values are interpolated
        script = ScriptDirectory.from_config(alembic)
    except LineageUnreadable:
        raise
    except Exception as exc:  # Alembic's and configparser's own words name the problem
        raise LineageUnreadable(f"{where}: Alembic cannot read the script directory: "
                                f"{type(exc).__name__}: {exc}") from exc
    finally:
        sys.path[:] = saved
    # relative version locations are the working directory's too (Alembic skips a missing
    # one without a word, which would leave an empty lineage)
    script.version_locations = [
        location if _RESOURCE.match(location) else str(workdir / location)
        for location in script.version_locations]
    missing = [location for location in script.version_locations
               if not _RESOURCE.match(location) and not Path(location).is_dir()]
    if missing:
        raise LineageUnreadable(f"{where}: version_locations names {missing[0]}, which does "
                                "not exist")
    return script


def _here(workdir: Path, name: str) -> Path:
    path = Path(os.path.expanduser(name))
    return path if path.is_absolute() else workdir / path
