"""The --web mirror in a real browser: `cockpit mirror SESSION --web` served by textual-serve
on loopback, opened in headless Chromium; the screenshot shows the MIRROR marker, the
session's title and its state, each connection runs one `cockpit mirror` and nothing else,
and the session is unchanged afterwards."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import psutil
import pytest

from cockpit.mirror.web import is_loopback, mirror_command
from tests.engine.helpers import cockpit, ordinary_world
from tests.mirror.browser import Chromium, read_text
from tests.mirror.helpers import files_state
from tests.mirror.webserve import free_port, start_web
from tests.waiting import within


def _mirrors_of(server: subprocess.Popen[str], session: Path) -> list[list[str]]:
    """The command lines of the mirror processes the server started (through a shell)."""
    found = []
    for child in psutil.Process(server.pid).children(recursive=True):
        try:
            line = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "mirror" in line and str(session.resolve()) in line and "-c" not in line:
            found.append(line)
    return found


# slow: a real Chromium and OCR of its screenshot (26 s), for the fast step's 10-minute
# budget; the fast step keeps the web mirror's refusals (port in use) and the screen mirror
@pytest.mark.slow
def test_web_mirror_in_headless_chromium(tmp_path: Path) -> None:
    runbook = ordinary_world(tmp_path)
    session = tmp_path / "s"
    done = cockpit("run", str(runbook), "--headless", "--assume-yes", "--session", str(session))
    assert done.returncode == 0, done.stdout + done.stderr
    before = files_state(session)
    web = start_web(session)
    server = web.process
    browser = Chromium()
    try:
        url = f"{web.link}?fontsize=20"  # the printed link, its key in it
        page, header = tmp_path / "page.png", tmp_path / "header.png"
        asyncio.run(browser.screenshot(url, page, settle_s=5))
        mirrors = _mirrors_of(server, session)
        asyncio.run(browser.screenshot(
            url, header, settle_s=5, clip={"x": 0, "y": 0, "width": 1600, "height": 50,
                                           "scale": 2}))
        browser.close()
        # a closed page ends its mirror process
        within(lambda: not _mirrors_of(server, session), deadline_s=15, every_s=0.1)
        assert _mirrors_of(server, session) == []
    finally:
        browser.close()
        web.stop()
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and page.stat().st_size > 20_000
    seen = read_text(header)
    assert "MIRROR" in seen and "READ-ONLY" in seen, seen
    assert "Shell rehearsal" in seen and "PASS" in seen, seen
    whole = read_text(page)
    assert "passed" in whole and "hello" in whole, whole  # the checklist's states, a step
    # One connection, one mirror process, and it is `cockpit mirror SESSION` — not a shell.
    assert len(mirrors) == 1, mirrors
    assert mirrors[0][1:] == ["-m", "cockpit", "mirror", str(session.resolve())]
    assert files_state(session) == before


def test_web_mirror_listens_on_loopback_unless_told_otherwise() -> None:
    help_text = cockpit("mirror", "--help").stdout
    assert "default 127.0.0.1" in help_text
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert mirror_command(Path("/x y/s")).endswith("-m cockpit mirror '/x y/s'")


def test_web_mirror_on_a_missing_session_is_a_clear_error(tmp_path: Path) -> None:
    result = cockpit("mirror", str(tmp_path / "nope"), "--web", "--port", str(free_port()))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert str(tmp_path / "nope") in result.stderr


def test_web_mirror_on_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    session = tmp_path / "s"
    done = cockpit("run", str(ordinary_world(tmp_path)), "--headless", "--assume-yes",
                   "--session", str(session))
    assert done.returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cockpit("mirror", str(session), "--web", "--port", str(port))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}: Address already in use; choose another --port" in result.stderr
