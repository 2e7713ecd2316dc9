"""The web page in a real headless Chromium: upload a photo, type text, render, watch the video;
upload a video and follow its enrolment."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.enrol_clips import grid_clip
from tests.support.servers import server_fixture

CHROMIUM = "/usr/bin/chromium"
API_KEY = "page-key"
RENDER_TIMEOUT_MS = 120_000
ENROL_TIMEOUT_MS = 300_000  # 15 s of video: about 15 s on two idle cores

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs /usr/bin/chromium")


# The page polls jobs and enrolments: on a slow machine one test's polls fill a minute's
# request budget, which is not what these tests are about.
server = server_fixture(api_keys=(API_KEY,), rate_limit_per_min=0)


@contextmanager
def opened_page(server, *chromium_args: str) -> Iterator[tuple[Any, list[str]]]:
    """The page in a headless Chromium, its API key entered; with the page's script errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", *chromium_args])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.base_url + "/")
            page.fill("#api-key", API_KEY)
            page.dispatch_event("#api-key", "change")
            yield page, errors
        finally:
            browser.close()


def test_page_is_static_and_self_contained(server):
    page = httpx.get(server.base_url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in (
        "/static/common.js",
        "/static/common.css",
        "/static/index.js",
        "/static/index.css",
    ):
        assert httpx.get(server.base_url + asset).status_code == 200
    for bad in ("/static/..%2Fapp.py", "/static/.hidden.js", "/static/app.py"):
        response = httpx.get(server.base_url + bad)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_upload_photo_type_text_render_and_play(server, judge, tmp_path):
    with opened_page(server, "--autoplay-policy=no-user-gesture-required") as (page, errors):
        page.set_input_files("#portrait-file", str(MEDIA / "obama.jpg"))
        verdict = page.locator("#avatar-verdict")
        verdict.wait_for(state="visible", timeout=60_000)
        assert "Reference score" in verdict.inner_text()
        page.locator(".avatar.selected img").wait_for(timeout=10_000)

        page.fill("#speech-text", "Hello there. It is a pleasure to meet you.")
        page.select_option("#size", "256")
        page.click("#render")
        page.locator("#result").wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
        assert page.locator("#progress").evaluate("el => el.value") == 100
        assert "succeeded" in page.inner_text("#job-state")

        # The video loads and plays: its clock advances.
        page.evaluate(
            "() => { const v = document.getElementById('result-video');"
            " v.muted = true; return v.play(); }"
        )
        page.wait_for_function(
            "() => document.getElementById('result-video').readyState >= 3", timeout=20_000
        )
        start = page.evaluate("() => document.getElementById('result-video').currentTime")
        page.wait_for_function(
            f"() => document.getElementById('result-video').currentTime > {start} + 0.5",
            timeout=20_000,
        )
        duration = page.evaluate("() => document.getElementById('result-video').duration")
        assert 2.0 < duration < 6.0

        link = page.locator("#download")
        assert link.get_attribute("href").startswith("blob:")
        assert link.get_attribute("download").endswith(".mp4")

        shot = page.locator("#result-video").screenshot()
        (tmp_path / "page_video.png").write_bytes(shot)

        # The other way in: a recording with its transcript, as WebM this time.
        first_video = link.get_attribute("href")
        page.check("input[name=speech-kind][value=audio]")
        assert page.locator("#speech-text-panel").is_hidden()
        page.set_input_files("#speech-audio", str(clip_wav("0880")))
        page.fill("#audio-transcript", clip_text("0880"))
        page.select_option("#format", "webm")
        page.click("#render")
        page.wait_for_function(
            f"() => document.getElementById('download').href !== '{first_video}'"
            " && !document.getElementById('result').hidden",
            timeout=RENDER_TIMEOUT_MS,
        )
        assert link.get_attribute("download").endswith(".webm")
        page.wait_for_function(
            "() => document.getElementById('result-video').readyState >= 1", timeout=20_000
        )
        duration = page.evaluate("() => document.getElementById('result-video').duration")
        assert duration > 1.0
        assert not errors, errors

    frame = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    face = judge.measure(frame)
    assert face is not None, "no face in the screenshot of the playing video"
    assert face.inter_ocular > 0.15 * frame.shape[1]


def test_upload_a_video_to_enrol_and_follow_it(server):
    with opened_page(server) as (page, errors):
        page.set_input_files("#portrait-file", str(grid_clip()))
        page.wait_for_function(
            "() => document.getElementById('message').textContent.startsWith('Enrolling')",
            timeout=30_000,
        )
        page.wait_for_function(
            "() => document.getElementById('message').textContent === 'Avatar enrolled.'",
            timeout=ENROL_TIMEOUT_MS,
        )
        verdict = page.inner_text("#avatar-verdict")
        assert "Enrolled from a video" in verdict and "s usable" in verdict
        thumbnail = page.locator(".avatar.selected img")
        page.wait_for_function(
            "() => document.querySelector('.avatar.selected img')?.naturalWidth > 0",
            timeout=10_000,
        )
        assert thumbnail.get_attribute("src").startswith("blob:")
        assert not errors, errors


def test_the_engine_selector_lists_the_services_engines_and_sends_the_choice(server, monkeypatch):
    """Filled from GET /v1/engines with each engine's health; the engine chosen goes with the
    job: omnirt, with no server configured, is accepted and fails naming what it lacks."""
    monkeypatch.delenv("HEADCAST_ENGINE_URL", raising=False)
    with opened_page(server) as (page, errors):
        page.wait_for_function(
            "() => [...document.getElementById('engine').options].some((o) => o.value === 'warp')",
            timeout=20_000,
        )
        options = page.eval_on_selector_all(
            "#engine option", "os => os.map((o) => [o.value, o.textContent])"
        )
        assert options[0] == ["", "automatic"]
        shown = dict(options[1:])
        assert shown["warp"] == "warp" and shown["enrolled"] == "enrolled"
        assert shown["omnirt"] == "omnirt (not configured)"

        page.set_input_files("#portrait-file", str(MEDIA / "obama.jpg"))
        page.locator(".avatar.selected img").wait_for(timeout=60_000)
        page.fill("#speech-text", "Hello there.")
        page.select_option("#size", "256")
        page.select_option("#engine", "omnirt")
        page.click("#render")
        page.wait_for_function(
            "() => document.getElementById('message').textContent.startsWith('Failed')",
            timeout=RENDER_TIMEOUT_MS,
        )
        assert "URL" in page.inner_text("#message")
        assert "(omnirt)" in page.inner_text("#job-state")
        assert not errors, errors
