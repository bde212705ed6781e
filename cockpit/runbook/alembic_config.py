"""Which Alembic configuration a command reads — `-c/--config`, `-n/--name`, the
`ALEMBIC_CONFIG` variable, `pyproject.toml`'s `[tool.alembic]` — parsed by Alembic's own
command line, and the script directory read from it as `alembic` would read it in the
step's working directory. The checks of a step's targets and of its migrations must read
the lineage the step runs, not whichever `alembic.ini` happens to sit in the folder."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic.config import CommandLine, Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from cockpit.runbook.commands import alembic_tokens

_SHELL = ("&&", "||", ";", "|", "&")
_TOML = "pyproject.toml"


class LineageUnreadable(Exception):
    """The script directory cannot be read here: the check is left to where it can."""


@dataclass(frozen=True)
class AlembicConfig:
    """The files and section a command's Alembic reads, relative to its working directory."""

    ini: str = "alembic.ini"
    toml: str = _TOML
    section: str = "alembic"
    x: tuple[str, ...] = ()  # the `-x` arguments its env.py reads

    def options(self) -> list[str]:
        """The options that make another `alembic` run read this same configuration."""
        named = ["-c", self.ini] + (["-c", self.toml] if self.toml != _TOML else [])
        named += ["-n", self.section] if self.section != "alembic" else []
        return named + [word for value in self.x for word in ("-x", value)]


@lru_cache(maxsize=1)
def _parser() -> CommandLine:
    return CommandLine(prog="alembic")


def command_config(command: str, env: Mapping[str, str] | None = None) -> AlembicConfig | None:
    """The configuration an `alembic …` command reads; None for a command that runs no
    Alembic. `env` is the environment it runs in (`ALEMBIC_CONFIG`); defaults apply to what
    Alembic's parser cannot read (Alembic itself fails such a step)."""
    words = alembic_tokens(command)
    if words is None:
        return None
    cut: list[str] = []
    for word in words:
        if word in _SHELL or word.startswith((">", "<", "2>")):
            break  # the rest is another command, or where the output goes
        cut.append(word.removesuffix(";"))
        if word.endswith(";"):
            break
    variable = (env if env is not None else os.environ).get("ALEMBIC_CONFIG", "")
    toml, ini = _TOML, "alembic.ini"
    if variable:  # as Alembic reads it: a pyproject.toml, else an ini file
        toml, ini = (variable, ini) if Path(variable).name == _TOML else (toml, variable)
    section = "alembic"
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            options, _ = _parser().parser.parse_known_args(cut)
    except SystemExit:  # not a command Alembic's parser takes: Alembic would refuse it too
        return AlembicConfig(ini, toml, section)
    for name in options.config or []:
        if Path(name).name == _TOML:
            toml = name
        else:
            ini = name
    return AlembicConfig(ini, toml, options.name or section, tuple(options.x or ()))


def read_lineage(workdir: Path, config: AlembicConfig | None = None) -> ScriptDirectory:
    """The project's script directory, read from `config` as `alembic` run in `workdir`
    reads it."""
    config = config or AlembicConfig()
    ini, toml = _here(workdir, config.ini), _here(workdir, config.toml)
    has_toml = toml.is_file() and "[tool.alembic]" in _text(toml)
    if not ini.is_file() and not has_toml:
        raise LineageUnreadable(f"{workdir}: no {config.ini} (nor a pyproject.toml with "
                                "[tool.alembic]) in the working directory")
    alembic = Config(str(ini) if ini.is_file() else None,
                     ini_section=config.section, toml_file=str(toml) if has_toml else None)
    try:
        location = alembic.get_alembic_option("script_location")
    except Exception as exc:  # a damaged ini: configparser's own words name the line
        raise LineageUnreadable(f"{ini}: Alembic cannot read it: {exc}") from None
    if not isinstance(location, str) or not location:
        where = ini if ini.is_file() else toml
        raise LineageUnreadable(f"{where}: no script_location in [{config.section}]")
    # a relative location is the working directory's, where the step runs; `%` doubled
    # because the ini's values are interpolated
    alembic.set_main_option("script_location",
                            str(workdir / location).replace("%", "%%"))
    try:
        return ScriptDirectory.from_config(alembic)
    except CommandError as exc:
        raise LineageUnreadable(f"{ini}: Alembic cannot read the script directory: {exc}") \
            from None


def _here(workdir: Path, name: str) -> Path:
    path = Path(os.path.expanduser(name))
    return path if path.is_absolute() else workdir / path


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
