"""Render a local HTML file in headless Chromium and report what a reader would see.

Drives Debian's ``chromium`` over the DevTools protocol (CDP) with the ``websockets`` client: a
fresh profile, no network services, ``--remote-debugging-port=0`` (the port is read from the
profile's ``DevToolsActivePort`` file). After the load event it returns, for every ``<img>``,
whether it decoded (``complete`` and a natural size > 0), and every error the page logged:
uncaught exceptions, ``console.error`` calls and browser log entries of level error (e.g. a
resource that failed to load).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)

_PROBE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  figures: document.querySelectorAll('figure').length,
  headings: Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent),
  text: document.body.innerText.slice(0, 4000)})"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Cdp:
    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id, self.events = ws, 0, []  # type: ignore[var-annotated]

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method for e in self.events):
            return
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(event)
            if event.get("method") == method:
                return
        raise TimeoutError(f"no {method} within {timeout} s")


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + json.dumps(p.get("args", []))[:500])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + str(p["entry"].get("text"))[:500])
    return out


def render(html: Path, chromium: str, timeout: float = 90.0) -> dict[str, Any]:
    """Load ``html`` and return ``{"images", "figures", "headings", "text", "errors"}``."""
    from websockets.sync.client import connect

    with tempfile.TemporaryDirectory(prefix="unlearnkit-chromium-") as profile:
        log = Path(profile) / "stderr.log"
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            port, path = port_file.read_text().split()[:2]
            with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
                cdp = _Cdp(ws)
                target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
                session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                    "sessionId"
                ]
                for domain in ("Page", "Runtime", "Log"):
                    cdp.call(f"{domain}.enable", session=session)
                cdp.call("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
                cdp.wait_for("Page.loadEventFired", timeout)
                result = cdp.call(
                    "Runtime.evaluate",
                    {"expression": _PROBE, "returnByValue": True, "awaitPromise": True},
                    session=session,
                )
                page = json.loads(result["result"]["value"])
                page["errors"] = _errors(cdp.events)
                return page
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
