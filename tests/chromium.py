"""A real headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

Chromium runs with ``--remote-debugging-pipe``: it reads DevTools commands on fd 3 and
writes replies and events on fd 4, each a JSON message ended by a NUL byte. That needs
nothing beyond the standard library (no websocket client, no Selenium) and no port.
:meth:`Chromium.load` opens a page, waits for its load event, and returns everything a
test asserts on: console messages and uncaught exceptions, browser log entries
(Content-Security-Policy violations, blocked or failed loads), every URL the page
requested, and the page's rendered text (``innerText``: what a reader sees, without
anything hidden by CSS).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

TIMEOUT = 60.0


def chromium_binary() -> str:
    """Debian's ``chromium`` (``SRCSTACKS_TEST_CHROMIUM`` names another); fail if missing."""
    found = os.environ.get("SRCSTACKS_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise AssertionError(
            "Chromium is needed for the report's browser test: apt-get install -y chromium"
            " (.ci/run installs it)"
        )
    return found


@dataclass
class PageLoad:
    """What happened when a page was opened."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    text: str = ""


class Chromium:
    """One headless Chromium process with one tab; a context manager."""

    def __init__(self, profile: Path, log: Path) -> None:
        self._to_browser_read, self._to_browser = os.pipe()
        self._from_browser, self._from_browser_write = os.pipe()
        args = [
            chromium_binary(),
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",  # a throwaway profile: no state from any other run
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",  # no update or safe-browsing requests
            "--disable-dev-shm-usage",
            "about:blank",
        ]
        if os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox on (CI containers run
            # as root); the pages it opens here are the ones the test wrote.
            args.insert(2, "--no-sandbox")
        self._log = log.open("wb")
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            close_fds=False,
            preexec_fn=self._map_pipes,  # only dup2s, before exec
        )
        os.close(self._to_browser_read)
        os.close(self._from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = str(attached["sessionId"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            self._call(f"{domain}.enable", session=True)

    def _map_pipes(self) -> None:
        """In the child: our pipe ends become its fds 3 and 4, kept across exec."""
        # Copies first: either end may itself be fd 3 or 4, which the dup2s overwrite.
        reads, writes = os.dup(self._to_browser_read), os.dup(self._from_browser_write)
        os.dup2(reads, 3)
        os.dup2(writes, 4)
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._send("Browser.close", {}, session=False)
            self._process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)
            self._log.close()

    def load(self, page: Path) -> PageLoad:
        """Open ``page`` (a file), wait for it to load, return what happened."""
        self._events.clear()
        result = PageLoad()
        self._call("Page.navigate", {"url": page.as_uri()}, session=True)
        self._wait_for("Page.loadEventFired")
        # A round trip after the load: events the page caused arrive before its reply.
        result.text = str(self._evaluate("document.body.innerText"))
        for event in self._events:
            result.errors.extend(_error_of(event))
            if event["method"] == "Network.requestWillBeSent":
                result.requests.append(str(event["params"]["request"]["url"]))
        return result

    def _evaluate(self, expression: str) -> Any:
        reply = self._call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"evaluating {expression!r} failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def _send(self, method: str, params: dict[str, Any], *, session: bool) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        wanted = self._send(method, params or {}, session=session)
        while True:
            message = self._receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise AssertionError(f"DevTools {method} failed: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self._events.append(message)

    def _wait_for(self, method: str) -> None:
        while not any(event["method"] == method for event in self._events):
            message = self._receive()
            if "method" in message:
                self._events.append(message)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"Chromium sent nothing for {TIMEOUT:.0f}s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise AssertionError(f"Chromium exited (code {self._process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))


def _error_of(event: dict[str, Any]) -> list[str]:
    """The error an event reports, if it reports one."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        thrown = details.get("exception", {}).get("description", "")
        return [f"{details.get('text', 'exception')}: {thrown}"]
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
        return [f"console.{params['type']}: {' '.join(texts)}"]
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        entry = params["entry"]
        return [f"{entry.get('source', '')}: {entry.get('text', '')} {entry.get('url', '')}"]
    if method == "Network.loadingFailed":
        return [f"failed to load: {params.get('errorText', '')} {params.get('blockedReason', '')}"]
    return []
