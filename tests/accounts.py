"""Another local account, for tests that play an attacker on the operator's machine: made with
`useradd`, given its own installed copy of the project in a folder it owns, and removed after
with `userdel`. Its commands run through `setpriv` with the clone hidden from them (a private
mount namespace lays an empty tmpfs over it), so they use that copy and nothing of ours.

Use it with `from tests.accounts import other_account` in a conftest. It needs root, as CI
has; elsewhere the tests that ask for it are skipped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.waiting import within

# Where accounts' homes go, fixed as the suite starts: a test may point tempfile elsewhere for
# a while (a module's own /tmp), and a session-long account must outlive that folder.
_HOMES = Path(tempfile.gettempdir())

# Lays an empty, unreadable tmpfs over the clone ($0) in the command's own mount namespace.
_HIDE_CLONE = 'mount -t tmpfs -o size=1m,mode=000 cockpit-clone-hidden "$0" && exec "$@"'


@dataclass(frozen=True)
class Account:
    """A local account other than the operator's, with its own copy of the cockpit."""

    name: str
    uid: int
    gid: int
    home: Path  # a folder it owns, 0700; its venv is in there
    python: Path

    def command(self, args: list[str], env: dict[str, str] | None = None) -> list[str]:
        """`args` as this account: its uid and gid, no other group, no capability, a clean
        environment whose PATH starts with its own venv, and the clone out of its sight."""
        environment = {"HOME": str(self.home), "LANG": "C.UTF-8", "USER": self.name,
                       "PATH": f"{self.python.parent}:/usr/bin:/bin", **(env or {})}
        return ["unshare", "--mount", "sh", "-c", _HIDE_CLONE, str(REPO),
                "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--inh-caps=-all", "env", "-i", *(f"{k}={v}" for k, v in environment.items()),
                *args]

    def run(self, args: list[str], timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args, env), cwd=self.home, capture_output=True,
                              text=True, timeout=timeout)

    def python_code(self, code: str, *argv: str,
                    timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Python source run by this account's interpreter (its venv: psycopg, the cockpit)."""
        return self.run([str(self.python), "-c", code, *argv], timeout=timeout)

    def cockpit(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.python), "-m", "cockpit", *args], timeout=timeout)


def _interpreter_for(uid: int, gid: int) -> Path:
    """A Python of our version that the account can run (ours may sit in root's home)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.executable).resolve(), *(Path(p) for p in (shutil.which(version),
                  f"/usr/bin/{version}", f"/usr/local/bin/{version}") if p)]
    for candidate in candidates:
        # Through `env`: setpriv itself still looks its program up with root's capabilities.
        probe = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                                "env", str(candidate), "-c", "pass"], capture_output=True, cwd="/")
        if probe.returncode == 0:
            return candidate
    raise RuntimeError(f"no {version} that another account can run: {candidates}")


def _install(folder: Path, interpreter: Path) -> Path:
    """A venv in `folder` with the locked dependencies and the project itself (not editable),
    its bytecode compiled. Its files stay root's and read-only to the account: uv links them
    from its cache (hard links: fast to make and to remove), and the account has no business
    writing into them."""
    venv = folder / "venv"
    uv = shutil.which("uv") or "uv"
    subprocess.run([uv, "venv", "-q", "--python", str(interpreter), str(venv)], check=True,
                   capture_output=True, cwd=REPO)
    requirements = folder / "requirements.txt"
    subprocess.run([uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
                    "-q", "-o", str(requirements)], check=True, capture_output=True, cwd=REPO)
    python = venv / "bin" / "python"
    for what in (["-r", str(requirements)], ["--no-deps", str(REPO)]):
        install = [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python),
                   *what]
        # From uv's cache when it has everything; else through the registry, as uv sync does.
        if subprocess.run([*install, "--offline"], capture_output=True, cwd=REPO).returncode:
            subprocess.run(install, check=True, capture_output=True, cwd=REPO)
    requirements.unlink()
    return python


def _end_processes_of(uid: int) -> None:
    """The account's processes (ours, started as it) end before the account does."""
    mine = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
    for proc in mine:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(mine, timeout=10)


@contextlib.contextmanager
def made_account() -> Iterator[Account]:
    name = f"cockpit-t-{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", "--user-group", name],
                   check=True, capture_output=True)
    home: Path | None = None
    try:
        entry = pwd.getpwnam(name)
        home = Path(tempfile.mkdtemp(prefix="cockpit-test-account-", dir=_HOMES))
        python = _install(home, _interpreter_for(entry.pw_uid, entry.pw_gid))
        os.chown(home, entry.pw_uid, entry.pw_gid)
        home.chmod(0o700)
        yield Account(name, entry.pw_uid, entry.pw_gid, home, python)
    finally:
        with contextlib.suppress(KeyError):
            _end_processes_of(pwd.getpwnam(name).pw_uid)
        # userdel refuses while a process of the account is still ending
        within(lambda: subprocess.run(["userdel", name], capture_output=True).returncode
               in (0, 6), deadline_s=5, every_s=0.25)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def other_account() -> Iterator[Account]:
    """Another local account with its own copy of the cockpit; made once per test session."""
    if os.geteuid() != 0:
        why = "making another local account needs root (CI runs as root)"
        if os.environ.get("COCKPIT_CI") == "1":  # in CI these tests run, never skip
            pytest.fail(why)
        pytest.skip(why)
    with made_account() as account:
        yield account
