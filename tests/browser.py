"""Headless Chromium driven over the DevTools protocol (CDP), for the dashboard browser test.

Debian's ``chromium`` with a fresh ``--user-data-dir``; the protocol spoken through aiohttp's websocket
client (aiohttp comes with ``ray[default]``), so no extra package and no browser download.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]


class Page:
    """One tab: ``await page.call("Page.navigate", url=...)``, ``await page.text()``…"""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params):
        msg_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def eval(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    async def text(self) -> str:
        return await self.eval("document.body ? document.body.innerText : ''") or ""

    async def wait_text(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.text()
            if needle in text:
                return text
            await asyncio.sleep(0.5)
        raise TimeoutError(f"the page never showed {needle!r}; it shows:\n{text[:2000]}")

    async def type_enter(self, text: str) -> None:
        await self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")

    async def screenshot(self, path: Path) -> Path:
        data = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        return path


class Chromium:
    """``async with Chromium() as page:`` a headless browser with one blank tab."""

    def __init__(self, width: int = 1400, height: int = 900):
        self.size = (width, height)

    async def __aenter__(self) -> Page:
        import aiohttp

        self.profile = tempfile.mkdtemp(prefix="h4t-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={self.size[0]},{self.size[1]}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {self.proc.poll()})")
            await asyncio.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = await self.session.ws_connect(page_ws, max_msg_size=0)
        page = Page(self.ws)
        for domain in ("Page", "Runtime", "Network"):
            await page.call(f"{domain}.enable")
        return page

    async def __aexit__(self, *exc) -> None:
        try:
            await self.ws.close()
            await self.session.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=30)
            shutil.rmtree(self.profile, ignore_errors=True)
