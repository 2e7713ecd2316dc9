"""The /live page in a real headless Firefox against a real server, driven over WebDriver BiDi:
the same user story as the Chromium test (tests/test_live_page.py). The key is refused, then
accepted; the video plays over WebRTC; the typed text is spoken with the mouth moving in
screenshots; the interrupt button brings the mouth to rest; Stop frees the session.
"""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from headcast.server.state import app_state
from tests.support.servers import running_server, server_config
from tests.support.webdriver_bidi import (
    KEY_ENTER,
    KEY_TAB,
    FirefoxPage,
    find_firefox,
    headless_firefox,
)
from tests.test_live_page import KEY, PLAYING, SPEAKING_SHOTS, TEXT, check_spoke_and_rested

FIREFOX = find_firefox()
pytestmark = pytest.mark.skipif(
    FIREFOX is None,
    reason="Firefox is not installed (scripts/install_test_system_deps.sh installs firefox-esr)",
)

PLAYING_TIMEOUT_S = 60.0
# PLAYING, but a failed connection ends the wait at once with the page's own words.
PLAYING_OR_FAILED = f"""() => {{
  const status = document.getElementById('status').textContent;
  if (status.startsWith('connection ')) throw new Error(`the page says: ${{status}}`);
  return ({PLAYING})();
}}"""
# Firefox captures an element in well under 0.1 s: paced, the speaking captures span a few
# seconds of speech rather than its first second.
SHOT_INTERVAL_S = 0.25
# The codecs each received track was decoded with, e.g. "audio/opus video/VP8".
RECEIVED_CODECS = """async () => {
  const stats = await window.headcastLive.pc.getStats();
  const codecs = new Map();
  const inbound = [];
  stats.forEach((s) => {
    if (s.type === 'codec') codecs.set(s.id, s.mimeType);
    if (s.type === 'inbound-rtp') inbound.push(s.codecId);
  });
  return inbound.map((id) => codecs.get(id)).filter(Boolean).sort().join(' ');
}"""


def message_is(text: str) -> str:
    return f"() => document.getElementById('message').textContent === {text!r}"


def screenshot(page: FirefoxPage) -> np.ndarray:
    png = page.screenshot("#avatar")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def screenshots(page: FirefoxPage, count: int) -> list[np.ndarray]:
    shots = []
    next_s = time.monotonic()
    for _ in range(count):
        time.sleep(max(0.0, next_s - time.monotonic()))
        next_s += SHOT_INTERVAL_S
        shots.append(screenshot(page))
    return shots


def test_live_page_speaks_typed_text_in_firefox(tmp_path, judge):
    config = server_config(tmp_path, api_keys=(KEY,))
    assert FIREFOX is not None
    with running_server(config) as server, headless_firefox(FIREFOX) as page:
        page.navigate(server.base_url + "/live")
        # The styles shared with the render page apply (served under /live/ too).
        header_display = "() => getComputedStyle(document.querySelector('header')).display"
        assert page.call(header_display) == "flex"
        page.call("() => { document.getElementById('size').value = '256'; }")

        # Without the key the service refuses, and the page says why.
        page.click("#start")
        page.wait_for("() => document.getElementById('message').textContent.includes('API key')")
        assert page.call("() => !document.getElementById('start').disabled")

        page.type_text("#api-key", KEY + KEY_TAB)  # leaving the field ("change") stores it
        page.click("#start")
        page.wait_for(PLAYING_OR_FAILED, timeout_s=PLAYING_TIMEOUT_S)
        session_id = page.evaluate("window.headcastLive.sessionId")
        assert page.evaluate("document.getElementById('avatar').videoWidth") == 256
        assert page.evaluate("localStorage.getItem('headcast.apiKey')") == KEY
        codecs = page.call(RECEIVED_CODECS)
        idle = screenshots(page, 3)

        page.type_text("#text", TEXT + KEY_ENTER)
        speaking = screenshots(page, SPEAKING_SHOTS)
        page.click("#interrupt")
        page.wait_for(message_is("interrupted"))
        time.sleep(0.8)
        after = screenshots(page, 4)

        page.click("#stop")
        deadline = time.monotonic() + 10
        while len(app_state(server.app).live_sessions) and time.monotonic() < deadline:
            time.sleep(0.1)
        gone = httpx.get(f"{server.base_url}/v1/live/{session_id}", headers={"X-API-Key": KEY})
        page_errors = page.script_errors()

    assert not page_errors
    assert gone.status_code == 404
    assert "video/" in codecs and "audio/opus" in codecs, codecs
    check_spoke_and_rested(judge, idle, speaking, after, tmp_path / "live_page_firefox.png")
