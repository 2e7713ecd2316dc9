"""The /live page in a real browser (headless Chromium) against a real server: it connects
over WebRTC with the key typed into it, the typed text is spoken, and screenshots of the
playing video show the face with its mouth moving; the interrupt button stops it.

The same story in Firefox: tests/test_live_page_firefox.py (Playwright cannot drive Debian's
firefox-esr, so that test speaks WebDriver BiDi to it).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from headcast.server.state import app_state
from tests.support.servers import running_server, server_config

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
KEY = "page-test-key"
# About 11 s of speech: still speaking when the interrupt button is pressed.
TEXT = (
    "Peter Piper picked a peck of pickled peppers. A peck of pickled peppers Peter Piper "
    "picked. If Peter Piper picked a peck of pickled peppers, where is the peck of pickled "
    "peppers that Peter Piper picked?"
)
SPEAKING_SHOTS = 14
PLAYING = """() => {
  const v = document.getElementById('avatar');
  return v.readyState >= 2 && v.currentTime > 0.5 && v.videoWidth > 0;
}"""


def screenshot(page) -> np.ndarray:
    png = page.locator("#avatar").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def mouth_openings(judge, shots: list[np.ndarray]) -> list[float | None]:
    measures = [judge.measure(shot) for shot in shots]
    return [m.aperture if m else None for m in measures]


def check_spoke_and_rested(
    judge,
    idle: list[np.ndarray],
    speaking: list[np.ndarray],
    after: list[np.ndarray],
    strip_png: Path,
) -> None:
    """Captures before speech, while speaking and after the interrupt: the face is always
    there, the mouth rests before and after and moves in between. Saves a strip to look at."""
    Image.fromarray(np.concatenate([idle[0], *speaking[::3], after[-1]], axis=1)).save(strip_png)
    assert idle[0].shape[0] >= 256
    rest = mouth_openings(judge, idle + after)
    talk = mouth_openings(judge, speaking)
    assert None not in rest and None not in talk  # the face is on screen in every capture
    assert max(rest) < 0.05  # mouth at rest before speech and after the interrupt
    # The mouth moves while speaking: open in some captures, near closed in others.
    assert sum(a > 0.04 for a in talk) >= 2 and max(talk) - min(talk) > 0.06, talk


def test_live_page_speaks_typed_text(tmp_path, judge):
    config = server_config(tmp_path, api_keys=(KEY,))
    with (
        running_server(config) as server,
        playwright_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page_errors: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(server.base_url + "/live")
            # The styles shared with the render page apply (served under /live/ too).
            header_display = "() => getComputedStyle(document.querySelector('header')).display"
            assert page.evaluate(header_display) == "flex"
            page.select_option("#size", "256")

            # Without the key the service refuses, and the page says why.
            page.click("#start")
            page.wait_for_function(
                "() => document.getElementById('message').textContent.includes('API key')"
            )
            assert page.is_enabled("#start")

            page.fill("#api-key", KEY)
            page.press("#api-key", "Tab")  # "change" stores it
            page.click("#start")
            page.wait_for_function(PLAYING, timeout=60_000)
            session_id = page.evaluate("() => window.headcastLive.sessionId")
            assert page.evaluate("() => localStorage.getItem('headcast.apiKey')") == KEY
            idle = [screenshot(page) for _ in range(3)]

            page.fill("#text", TEXT)
            page.press("#text", "Enter")
            speaking = [screenshot(page) for _ in range(SPEAKING_SHOTS)]
            page.click("#interrupt")
            page.wait_for_function(
                "() => document.getElementById('message').textContent === 'interrupted'"
            )
            time.sleep(0.8)
            after = [screenshot(page) for _ in range(4)]

            page.click("#stop")
            deadline = time.monotonic() + 10
            while len(app_state(server.app).live_sessions) and time.monotonic() < deadline:
                time.sleep(0.1)
            gone = httpx.get(f"{server.base_url}/v1/live/{session_id}", headers={"X-API-Key": KEY})
        finally:
            browser.close()

    assert not page_errors
    assert gone.status_code == 404
    check_spoke_and_rested(judge, idle, speaking, after, tmp_path / "live_page.png")
