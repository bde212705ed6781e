"""A real headless Chromium, driven over the DevTools protocol (aiohttp, which textual-serve
already brings): open a page, wait, take a screenshot. Debian's `chromium` is installed where
it is missing; the xterm.js terminal draws on a canvas, so what the page shows is read from
the screenshot's pixels by tesseract (also installed where missing)."""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import let_time_pass_async, wait_for

PACKAGES = {"chromium": "chromium", "tesseract": "tesseract-ocr"}
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-default-apps", "--disable-extensions", "--disable-sync",
                  "--no-first-run", "--no-default-browser-check", "--mute-audio",
                  "--hide-scrollbars", "--remote-debugging-port=0"]


def ensure_installed(tool: str) -> str:
    """The tool's path, installing its Debian package first where it is missing."""
    found = shutil.which(tool)
    if found:
        return found
    apt = ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGES[tool]]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(apt, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(apt, env=env, capture_output=True, check=True)
    found = shutil.which(tool)
    assert found, f"{tool} is still missing after `apt-get install {PACKAGES[tool]}`"
    return found


class Chromium:
    def __init__(self, width: int = 1600, height: int = 1000) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="cockpit-chromium-"))
        self.process = subprocess.Popen(
            [ensure_installed("chromium"), *CHROMIUM_FLAGS, f"--window-size={width},{height}",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)

    def devtools_port(self, timeout: float = 30) -> int:
        marker = self.profile / "DevToolsActivePort"  # Chromium writes its chosen port here

        def written() -> str:
            assert self.process.poll() is None, "chromium exited at start"
            return marker.read_text().strip() if marker.is_file() else ""

        return int(wait_for(written, "chromium to open its DevTools port", timeout,
                            every_s=0.05).split()[0])

    async def screenshot(self, url: str, out: Path, settle_s: float,
                         clip: dict[str, float] | None = None) -> None:
        """Open `url`, let it draw for `settle_s`, and save a PNG of the page (or of the
        `clip` rectangle: x, y, width, height, scale)."""
        port = self.devtools_port()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t["type"] == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                       max_msg_size=0) as ws:
                await self._call(ws, "Page.enable")
                await self._call(ws, "Page.navigate", url=url)
                await let_time_pass_async(settle_s)  # the page draws: the picture is of it then
                shot = await self._call(ws, "Page.captureScreenshot", format="png",
                                        **({"clip": clip} if clip else {}))
        out.write_bytes(base64.b64decode(shot["data"]))

    async def _call(self, ws: aiohttp.ClientWebSocketResponse, method: str,
                    **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        await ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await ws.receive_json(timeout=60)
            if message.get("id") == ident:
                assert "error" not in message, message
                return message["result"]

    def close(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def read_text(png: Path) -> str:
    """The words tesseract reads in the screenshot."""
    result = subprocess.run([ensure_installed("tesseract"), str(png), "-", "--psm", "3"],
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout
