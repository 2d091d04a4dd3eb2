"""The Live tab (issue 29, item 1) in headless Chromium with its fake camera, on the real engines: the camera streams
a clip of moving coloured frames this module writes, the window fills, a question sends the recent frames through the
server and its answer streams, the frames the model saw are shown with their times, and Stop ends the stream.

Random weights: the assertions are on structure (an answer that grew before its stats line, token counts and a
finish reason, captions in time order, a window that stops changing), never on wording.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from demo.errors import MESSAGES
from tests.app.conftest import CHROMIUM_ARGS, app_page
from tests.waits import ENGINE_WAIT_S, PAGE_WAIT_S, finished, ms, wait_until

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 2  # the tab's default interval between kept frames


def write_y4m(path: Path, width: int = 160, height: int = 120, fps: int = 10, seconds: int = 4) -> None:
    """A few seconds of a bright bar sweeping across a background whose colour changes, as raw YUV 4:2:0 (the
    format Chromium's fake camera reads: a one-line header, then each frame's Y, U and V planes)."""
    frames = fps * seconds
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            bar = range(i * width // frames, min(width, i * width // frames + width // 8))
            row = bytes(235 if x in bar else 40 + (i * 5) % 160 for x in range(width))
            shift, chroma = int(100 * ((i % 20) / 20 - 0.5)), width // 2 * height // 2
            f.write(b"FRAME\n" + row * height + bytes([128 + shift]) * chroma + bytes([128 - shift]) * chroma)


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory):
    """Chromium whose camera is the clip above, granted without a prompt."""
    clip = tmp_path_factory.mktemp("camera") / "moving.y4m"
    write_y4m(clip)
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is missing: scripts/test.sh installs it"
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def live_page(camera_browser, app_url, output_dir):
    context = camera_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"], origin=app_url)
    pg = app_page(context, app_url)
    try:
        pg.get_by_role("tab", name="Live").click()
        yield pg
    finally:
        shots = output_dir / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(shots / "test_browser_live.png"), full_page=True)
        context.close()


def newest_frame(pg) -> tuple[int, float] | None:
    """(frames in the window, the newest one's time since the camera started) from the line under the camera."""
    m = re.search(r"Frames in the window: (\d+) .*newest taken (\d+) s", pg.locator("#live-window").inner_text())
    return (int(m.group(1)), float(m.group(2))) if m else None


def test_live_window_question_answer_and_stop(live_page, engines, output_dir):
    pg = live_page
    question = pg.locator("#live-question textarea")

    # Ask before the camera runs: a sentence, and the question is kept
    question.fill("What is moving?")
    pg.locator("#live-ask").click()
    sentence = MESSAGES["live_empty"].format(seconds=10)  # the window's default length
    toast = pg.locator("[data-testid='toast-body']").filter(has_text=sentence)
    expect(toast).to_be_visible()
    expect(question).to_have_value("What is moving?")
    expect(pg.locator("#live-frames figure")).to_have_count(0)
    pg.locator(".toast-close").first.click()  # (out of the screenshot below)
    expect(toast).to_have_count(0)

    # the camera on, then Record: the window fills at the interval
    pg.locator("#live-camera [title='grant webcam access'] button").click()
    pg.locator("#live-camera .capture-button [title='start recording']").click()
    wait_until(lambda: (newest_frame(pg) or (0, 0))[0] >= 4, "four frames in the window", timeout=PAGE_WAIT_S)

    # Ask: the answer grows before its stats line, which names the tokens and the finish reason
    pg.evaluate("""() => {
        window.liveGrew = false;
        const answer = document.querySelector('#live-answer'), stats = document.querySelector('#live-stats');
        new MutationObserver(() => {
            const bot = answer.querySelector('.video-turn.bot');
            if (bot && !bot.querySelector('.no-text') && bot.innerText.trim() && !stats.innerText.trim())
                window.liveGrew = true;
        }).observe(answer, {subtree: true, childList: true, characterData: true});
    }""")
    served = sum(finished(engines).values())
    pg.locator("#live-ask").click()
    stats = pg.locator("#live-stats")
    expect(stats).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    line = stats.inner_text()
    completion = int(re.search(r"(\d+) completion tokens", line).group(1))
    assert completion >= 1 and re.search(r"finish: \w+", line), line
    assert pg.evaluate("window.liveGrew"), "the answer's text never showed before its stats line"
    # through the server (the app also runs a video worker here): the server saw one more request to its end
    assert sum(finished(engines).values()) >= served + 1
    expect(pg.locator("#live-answer .video-turn.user")).to_have_text("What is moving?")

    # the frames the model saw, each with the time it is told and how long before the question it was taken
    captions = [c.strip() for c in pg.locator("#live-frames figcaption").all_inner_texts()]
    assert len(captions) >= 3, captions
    parsed = [re.fullmatch(r"(\d+\.\d) s · −(\d+\.\d) s", c) for c in captions]
    assert all(parsed), captions
    told = [float(m.group(1)) for m in parsed]
    ages = [float(m.group(2)) for m in parsed]
    assert told == sorted(told) and told[-1] > told[0], captions
    assert all(a > b for a, b in zip(ages, ages[1:])), captions  # oldest first, each taken later than the last
    assert all(img.startswith("data:image/jpeg;base64,")
               for img in pg.locator("#live-frames img").evaluate_all("els => els.map(e => e.src)"))

    expect(pg.locator("#live-ask")).to_be_enabled()  # the answer's end unlocks Ask
    shot = output_dir / "screenshots" / "live.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(shot), full_page=True)
    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, docs / "live.png")

    # Stop: the camera's stream ends (Gradio's Record button is back), and the window no longer gains frames
    pg.locator("#live-stop").click()
    expect(pg.locator("#live-camera .capture-button [title='start recording']")).to_be_visible()
    assert_no_new_frames(pg)


def assert_no_new_frames(pg) -> None:
    """Three intervals for a frame already on its way to land, then three more in which a running stream would keep
    a frame or more: the second look must equal the first. (Absence needs a wait; these are the tab's own intervals,
    and a slow machine only lengthens the first, settling one.)"""
    time.sleep(3 * INTERVAL_S)
    settled = newest_frame(pg)
    assert settled is not None
    time.sleep(3 * INTERVAL_S)
    assert newest_frame(pg) == settled, "the window still gained frames after Stop"

