"""A small WebDriver BiDi client that drives a real headless Firefox from tests.

Playwright needs its own patched Firefox build; Debian's firefox-esr speaks the W3C WebDriver
BiDi protocol natively (``--remote-debugging-port``), so tests talk to it over one WebSocket:
commands go out as JSON with an id, results come back with the same id, and events arriving in
between are kept in ``BidiConnection.events``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

FIREFOX_NAMES = ("firefox-esr", "firefox")
STARTUP_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 30.0
QUIT_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05
# Key values from the WebDriver spec's table of special keys.
KEY_ENTER = "\ue007"
KEY_TAB = "\ue004"

# Preferences for unattended runs: getUserMedia gets a fake device without a prompt, and no
# first-run pages. Autoplay keeps Firefox's default policy: clicks sent as input actions are
# real user gestures, as a person's would be.
TEST_PREFS: dict[str, Any] = {
    "media.navigator.permission.disabled": True,
    "media.navigator.streams.fake": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
}


class BidiError(RuntimeError):
    """A command the browser answered with an error, or a script that threw."""


def find_firefox() -> str | None:
    """The path of an installed Firefox, or None."""
    for name in FIREFOX_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def remote_value(value: Mapping[str, Any]) -> Any:
    """A BiDi serialized script value as Python; nodes and other handles stay as given."""
    kind = value["type"]
    if kind in ("undefined", "null"):
        return None
    if kind == "number" and isinstance(value["value"], str):
        return float(value["value"].replace("Infinity", "inf"))  # NaN, -0, +-Infinity
    if kind in ("string", "number", "boolean"):
        return value["value"]
    if kind == "bigint":
        return int(value["value"])
    if kind in ("array", "set"):
        return [remote_value(item) for item in value.get("value", [])]
    if kind == "object":
        return {key: remote_value(item) for key, item in value.get("value", [])}
    return dict(value)


@dataclass
class BidiConnection:
    """One WebDriver BiDi session over a WebSocket."""

    socket: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def command(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send one command and return its result; events seen meanwhile go to ``events``."""
        command_id = next(self._ids)
        self.socket.send(json.dumps({"id": command_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout_s} s")
            message = json.loads(self.socket.recv(timeout=remaining_s))
            if message.get("id") == command_id:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message['error']}: {message.get('message', '')}")
                return message["result"]
            if message.get("type") == "event":
                self.events.append(message)


@dataclass
class FirefoxPage:
    """One top-level browsing context (a tab), with the few actions tests need."""

    bidi: BidiConnection
    context: str

    def navigate(self, url: str) -> None:
        self.bidi.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def set_viewport(self, width: int, height: int) -> None:
        self.bidi.command(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": {"width": width, "height": height}},
        )

    def _result(self, answer: dict[str, Any]) -> dict[str, Any]:
        if answer["type"] == "exception":
            details = answer["exceptionDetails"]
            raise BidiError(f"the script threw: {details.get('text', details)}")
        return answer["result"]

    def call(self, function: str, *args: str) -> Any:
        """The value of a JavaScript function declaration called with string ``args`` (a
        returned promise is awaited)."""
        arguments = [{"type": "string", "value": a} for a in args]
        answer = self.bidi.command(
            "script.callFunction",
            {
                "functionDeclaration": function,
                "arguments": arguments,
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        return remote_value(self._result(answer))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        answer = self.bidi.command(
            "script.evaluate",
            {"expression": expression, "target": {"context": self.context}, "awaitPromise": True},
        )
        return remote_value(self._result(answer))

    def wait_for(self, function: str, timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        """Poll a JavaScript function declaration until it returns something truthy."""
        deadline = time.monotonic() + timeout_s
        while not self.call(function):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s} s: {function}")
            time.sleep(POLL_INTERVAL_S)

    def element(self, selector: str) -> dict[str, str]:
        """A shared reference to the first element matching ``selector``, scrolled into view."""
        answer = self.bidi.command(
            "script.callFunction",
            {
                "functionDeclaration": "(s) => { const e = document.querySelector(s);"
                " if (e) e.scrollIntoView({block: 'nearest'}); return e; }",
                "arguments": [{"type": "string", "value": selector}],
                "target": {"context": self.context},
                "awaitPromise": False,
            },
        )
        node = self._result(answer)
        if node["type"] != "node":
            raise BidiError(f"no element matches {selector}")
        return {"sharedId": node["sharedId"]}

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        origin = {"type": "element", "element": self.element(selector)}
        mouse = [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        self._perform({"type": "pointer", "id": "mouse", "actions": mouse})

    def type_text(self, selector: str, text: str) -> None:
        """Focus the element and press one key per character (``KEY_*`` for special keys)."""
        self.call("(s) => document.querySelector(s).focus()", selector)
        keys = []
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self._perform({"type": "key", "id": "keyboard", "actions": keys})

    def _perform(self, source: dict[str, Any]) -> None:
        self.bidi.command("input.performActions", {"context": self.context, "actions": [source]})
        self.bidi.command("input.releaseActions", {"context": self.context})

    def screenshot(self, selector: str) -> bytes:
        """A PNG of the element's box as shown on screen."""
        answer = self.bidi.command(
            "browsingContext.captureScreenshot",
            {
                "context": self.context,
                "clip": {"type": "element", "element": self.element(selector)},
            },
        )
        return base64.b64decode(answer["data"])

    def script_errors(self) -> list[str]:
        """The errors reported to the page's scripts so far: uncaught exceptions, and Firefox's
        own such as a failed WebRTC connection (``log.entryAdded`` of type "javascript")."""
        self.bidi.command("browsingContext.getTree", {"maxDepth": 0})  # collect pending events
        return [
            event["params"].get("text", "")
            for event in self.bidi.events
            if event["method"] == "log.entryAdded" and event["params"].get("type") == "javascript"
        ]


def _write_prefs(profile: Path, prefs: Mapping[str, Any]) -> None:
    lines = [
        f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()
    ]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


def _wait_for_port(profile: Path, process: subprocess.Popen[bytes], log: Path) -> int:
    # Started on port 0, Firefox writes the port it listens on into the profile.
    server_file = profile / "WebDriverBiDiServer.json"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Firefox exited on start ({process.returncode}): {log.read_text()}")
        try:
            return int(json.loads(server_file.read_text())["ws_port"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"Firefox did not open WebDriver BiDi in {STARTUP_TIMEOUT_S} s")


def _quit(process: subprocess.Popen[bytes]) -> None:
    # Content processes share the group of the main process: end them all.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=QUIT_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def headless_firefox(
    executable: str, prefs: Mapping[str, Any] = TEST_PREFS, viewport: tuple[int, int] = (900, 900)
) -> Iterator[FirefoxPage]:
    """Start Firefox headless in a fresh profile and yield a new tab; quits Firefox and
    removes the profile when the block ends."""
    with tempfile.TemporaryDirectory(prefix="headcast-firefox-", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp) / "profile"
        profile.mkdir()
        _write_prefs(profile, prefs)
        log = Path(tmp) / "firefox.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    executable,
                    "--headless",
                    "--no-remote",
                    "--remote-debugging-port=0",
                    *("--profile", str(profile)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            port = _wait_for_port(profile, process, log)
            with connect(
                f"ws://127.0.0.1:{port}/session", max_size=None, open_timeout=COMMAND_TIMEOUT_S
            ) as socket:
                bidi = BidiConnection(socket)
                bidi.command("session.new", {"capabilities": {}})
                bidi.command("session.subscribe", {"events": ["log.entryAdded"]})
                # The tab opened on startup never gets the focus, so no focus or blur events
                # (nor "change" on leaving a field) would fire there; a new tab has it.
                tab = bidi.command("browsingContext.create", {"type": "tab"})
                page = FirefoxPage(bidi, tab["context"])
                page.set_viewport(*viewport)
                yield page
                with suppress(BidiError, TimeoutError):  # the process is ended below anyway
                    bidi.command("session.end", timeout_s=QUIT_TIMEOUT_S)
        finally:
            _quit(process)
