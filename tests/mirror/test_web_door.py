"""The web mirror is a door with a key: nothing without the token in the link it prints
(neither the page nor the WebSocket), no WebSocket from another origin or none, at most
--max-viewers at once, and off loopback only over TLS. Checked at the WebSocket level with
aiohttp's client; a viewer let in still gets the mirror's screen."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from cockpit.demo.tls import write_self_signed
from cockpit.errors import CockpitError
from cockpit.mirror.web import serve, tls_context
from tests.engine.helpers import cockpit, ordinary_world
from tests.mirror.helpers import files_state
from tests.mirror.webserve import Seen, WebMirror, free_port, start_web, view, websocket_url
from tests.waiting import wait_until_async, within


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("web")
    folder = tmp_path / "s"
    done = cockpit("run", str(ordinary_world(tmp_path)), "--headless", "--assume-yes",
                   "--session", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def server(session: Path) -> Iterator[WebMirror]:
    """One server for the refusals: they start no mirror, so they share it."""
    web = start_web(session, "--max-viewers", "1")
    yield web
    web.stop()


async def _get(url: str, context: ssl.SSLContext | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(
            url, ssl=context or False, headers=headers or {}) as response:
        return response.status, await response.text()


def _key(link: str) -> str:
    found = re.search(r"://[^/]+/([^/?]+)/", link)
    assert found, f"the printed link {link} carries no key"
    return found.group(1)


def test_web_mirror_prints_a_link_with_a_random_key(server: WebMirror) -> None:
    key = _key(server.link)
    assert len(key) >= 22  # secrets.token_urlsafe(16) or more: at least 128 bits
    assert server.output.count(key) == 1  # printed once, on the terminal that started it


def test_web_mirror_page_needs_its_key(server: WebMirror) -> None:
    status, _ = asyncio.run(_get(server.origin + "/"))
    assert status == 403
    wrong = server.link.replace(_key(server.link), "A" * len(_key(server.link)))
    status, body = asyncio.run(_get(wrong))
    assert status == 403 and "link" in body
    status, page = asyncio.run(_get(server.link))
    assert status == 200
    assert websocket_url(server.link) in page  # the page's WebSocket carries the key too
    assert asyncio.run(_get(server.origin + "/static/js/textual.js"))[0] == 403


def test_web_mirror_websocket_needs_its_key(server: WebMirror) -> None:
    for url in (server.origin.replace("http", "ws") + "/ws",
                websocket_url(server.link.replace(_key(server.link), "x" * 43))):
        seen = asyncio.run(view(url, origin=server.origin, seconds=10))
        assert seen.how == "refused" and seen.status == 403, (url, seen)
    assert server.mirrors() == []  # a refused viewer starts nothing


def test_web_mirror_websocket_refuses_a_foreign_or_missing_origin(server: WebMirror) -> None:
    url = websocket_url(server.link)
    port = server.origin.rsplit(":", 1)[1]
    for origin in ("http://evil.example", None, "null", f"http://localhost:{port}",
                   f"https://127.0.0.1:{port}", f"http://127.0.0.1:{int(port) + 1}"):
        seen = asyncio.run(view(url, origin=origin, seconds=10))
        assert seen.how == "refused" and seen.status == 403, (origin, seen)
    assert server.mirrors() == []


def test_web_mirror_admits_at_most_max_viewers(server: WebMirror) -> None:
    """--max-viewers 1: the second viewer is refused with a reason while the first watches,
    and let in once the first has left."""
    url = websocket_url(server.link)

    async def scenario() -> tuple[object, ...]:
        leave, watching = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(view(url, origin=server.origin, hold=leave, seconds=60,
                                         admitted=watching))
        await asyncio.wait_for(watching.wait(), 60)  # the first viewer sees its mirror
        second = await view(url, origin=server.origin, seconds=10)
        page = await _get(server.link)
        leave.set()
        admitted = await first
        await wait_until_async(lambda: not server.mirrors(), "its mirror to end with it", 30,
                               every_s=0.1)
        third = await view(url, origin=server.origin, seconds=60)
        return admitted, second, page, third

    admitted, second, page, third = asyncio.run(scenario())
    assert admitted.how == "mirror", admitted  # type: ignore[attr-defined]
    assert second.how == "closed" and second.code == 1013, second  # type: ignore[attr-defined]
    assert "1 viewer" in second.reason and "--max-viewers" in second.reason  # type: ignore[attr-defined]
    assert page[0] == 503 and "1 viewer" in page[1]  # type: ignore[index]
    assert third.how == "mirror", third  # type: ignore[attr-defined]


def test_web_mirror_off_loopback_without_tls_is_refused(session: Path) -> None:
    before = files_state(session)
    # refused before anything listens: the address need not even be this machine's
    result = cockpit("mirror", str(session), "--web", "--host", "203.0.113.7", "--port",
                     str(free_port()), timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "only over TLS" in result.stderr and "--cert FILE --key FILE" in result.stderr
    for wildcard in ("0.0.0.0", "::"):  # no place a browser could name, nor its Origin
        with pytest.raises(CockpitError, match="names no place"):
            serve(session, wildcard, free_port())
    assert files_state(session) == before


def _off_loopback() -> str:
    """An address of this machine that is not loopback (loopback where there is none)."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return "127.0.0.1"


def test_web_mirror_serves_https_and_wss_with_cert_and_key(session: Path,
                                                          tmp_path: Path) -> None:
    host = _off_loopback()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_self_signed(cert, key, host)
    trusted = ssl.create_default_context(cafile=str(cert))
    web = start_web(session, "--cert", str(cert), "--key", str(key), host=host)
    try:
        assert web.link.startswith(f"https://{host}:")
        status, page = asyncio.run(_get(web.link, trusted))
        assert status == 200 and websocket_url(web.link) in page
        assert websocket_url(web.link).startswith("wss://")
        seen = asyncio.run(view(websocket_url(web.link), origin=web.origin, context=trusted,
                                seconds=60))
        assert seen.how == "mirror", seen
        with pytest.raises(aiohttp.ClientError):  # no plain http beside it
            asyncio.run(_get(web.link.replace("https://", "http://")))
    finally:
        web.stop()


def test_web_mirror_key_is_on_no_disk_and_no_command_line(server: WebMirror,
                                                           session: Path) -> None:
    key = _key(server.link)
    leave = asyncio.Event()

    async def watching() -> tuple[Seen, list[psutil.Process], str]:
        viewer = asyncio.create_task(view(websocket_url(server.link), origin=server.origin,
                                          hold=leave, seconds=60))
        await wait_until_async(server.mirrors, "the viewer's mirror", 60, every_s=0.1)
        listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        mirrors = server.mirrors()
        leave.set()
        return await viewer, mirrors, listed

    seen, mirrors, listed = asyncio.run(watching())
    assert seen.how == "mirror" and mirrors, seen
    assert key not in listed
    for process in [psutil.Process(server.process.pid), *mirrors]:
        assert key.encode() not in Path(f"/proc/{process.pid}/environ").read_bytes()
    for path in session.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_web_mirror_tls_files_are_checked_before_serving(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    cert, key, locked = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "locked.pem"
    write_self_signed(cert, key)
    loaded = serialization.load_pem_private_key(key.read_bytes(), None)
    locked.write_bytes(loaded.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"pw")))
    assert tls_context(cert, key) is not None and tls_context(None, None) is None
    for given, words in (((cert, None), "--cert and --key go together"),
                         ((cert, locked), "has a passphrase"),  # never a prompt
                         ((cert, cert), "not a PEM certificate and its private key"),
                         ((cert, tmp_path / "nope"), "No such file")):
        with pytest.raises(CockpitError, match=words):
            tls_context(*given)


# slow: twenty viewers at once, four of them mirrors, on a 2-core machine (about 40 s)
@pytest.mark.slow
def test_twenty_viewers_at_once_get_four_mirrors_and_sixteen_reasons(session: Path) -> None:
    web = start_web(session)  # the default: --max-viewers 4
    url = websocket_url(web.link)

    async def crowd() -> tuple[list[Seen], int, float]:
        leave = asyncio.Event()
        watching = [asyncio.Event() for _ in range(20)]
        viewers = [asyncio.create_task(view(url, origin=web.origin, hold=leave, seconds=90,
                                            admitted=admitted))
                   for admitted in watching]
        # the sixteen refused have their reason; four viewers see their mirror
        await wait_until_async(lambda: sum(v.done() for v in viewers) >= 16
                               and sum(w.is_set() for w in watching) == 4,
                               "sixteen refused and four watching", 90, every_s=0.1)
        tree = [psutil.Process(web.process.pid),
                *psutil.Process(web.process.pid).children(recursive=True)]
        rss = sum(p.memory_info().rss for p in tree) / 2**20
        leave.set()
        return list(await asyncio.gather(*viewers)), len(tree), rss

    try:
        seen, processes, rss = asyncio.run(crowd())
    finally:
        web.stop()
    print(f"twenty viewers: {processes} processes, {rss:.0f} MiB resident")
    assert sorted(s.how for s in seen) == ["closed"] * 16 + ["mirror"] * 4
    assert all(s.code == 1013 and "4 viewers" in s.reason for s in seen if s.how == "closed")
    assert processes <= 1 + 2 * 4  # the server, and a shell and a mirror per viewer at most


def test_web_mirror_page_may_reach_its_own_origin_alone(server: WebMirror) -> None:
    """textual-serve's page names a Google font: the policy keeps the reviewer's browser from
    fetching it, or anything else from elsewhere; the WebSocket goes to the page's origin."""
    async def headers() -> tuple[int, str, str]:
        async with aiohttp.ClientSession() as client, client.get(server.link) as response:
            return (response.status, response.headers.get("Content-Security-Policy", ""),
                    await response.text())

    answer: list[tuple[int, str, str]] = []

    def served() -> bool:  # the page itself, once a viewer an earlier test opened has left
        answer[:] = [asyncio.run(headers())]
        return answer[0][0] != 503

    within(served, deadline_s=20, every_s=0.2)
    status, policy, page = answer[0]
    assert status == 200, page
    assert "fonts.googleapis.com" in page  # still asked for by the page ...
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["default-src"] == "'self'"  # ... and refused by the browser
    assert "googleapis" not in policy and "*" not in policy
    assert rules["connect-src"] == "'self' " + server.origin.replace("http", "ws", 1)
    assert rules["frame-ancestors"] == "'none'"
