"""What the model sees, in the page (issue 14): boxes found in an example photograph, frames captioned with the
times the model is told, a follow-up about the same clip, and time chips that move the player.

Random weights say nothing meaningful, so the assertions are on structure: the chips' times and the player's
``currentTime``, the frame a chip marks, the captions' format and count, the number of turns.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.app.steps import ask_about_the_example_video
from tests.waits import ENGINE_WAIT_S, ms, wait_until


def test_find_in_an_example_photograph_draws_what_was_found(page):
    page.get_by_role("tab", name="Image").click()
    # the first row of the Find examples: coffee.jpg and "cup"
    page.get_by_role("row", name=re.compile(r"^cup\b")).first.click()
    expect(page.locator("#image-find input, #image-find textarea").first).to_have_value("cup")
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-find-btn").click()
    expect(page.locator("#image-found img")).to_be_visible(timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-found-note")).to_contain_text("found", timeout=ms(ENGINE_WAIT_S))
    note = page.locator("#image-found-note").inner_text()
    assert re.search(r"\b([1-9]\d*) found\b", note), note  # the schema asks for at least one


def test_frames_follow_up_and_time_chips_move_the_player(page, output_dir):
    ask_about_the_example_video(page)
    expect(page.locator("#video-status")).to_contain_text("Done.", timeout=ms(ENGINE_WAIT_S))
    # each frame is captioned with the time the model is told for it: pairs of frames share one
    captions = page.locator("#video-frames .thumbnail-item .caption-label")
    wait_until(lambda: captions.count() >= 2, "the frames' captions")
    texts = [c.strip() for c in captions.all_inner_texts()]
    times = [float(re.fullmatch(r"(\d+\.\d) s", t).group(1)) for t in texts]
    assert times[0::2] == times[1::2] and times == sorted(times), texts
    expect(page.locator("#video-conversation .video-turn.bot")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))

    # a follow-up about the same frames: a second turn, and the frames are not sampled again
    page.locator("#video-question textarea").fill("And what happens at 00:02?")
    page.locator("#video-ask").click()
    expect(page.locator("#video-conversation .video-turn.bot")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#video-status")).to_contain_text("Done.", timeout=ms(ENGINE_WAIT_S))
    assert [c.strip() for c in captions.all_inner_texts()] == texts
    # the question's own time is shown as typed; the answers' times are chips (random words may hold none)
    expect(page.locator("#video-conversation .video-turn.user").nth(1)).to_have_text("And what happens at 00:02?",
                                                                                     timeout=ms(ENGINE_WAIT_S))

    # Find moments: a list of times held to a JSON schema, so there is always at least one chip to click
    page.locator("#video-find textarea, #video-find input").first.fill("the man picks something up")
    page.locator("#video-find-btn").click()
    chips = page.locator("#video-moments .seek-chip")
    expect(chips.first).to_be_visible(timeout=ms(ENGINE_WAIT_S))
    player = page.locator("#video-input video")
    for i in range(chips.count()):
        chip = chips.nth(i)
        seconds = float(chip.get_attribute("data-seek"))
        frame = int(chip.get_attribute("data-frame"))
        chip.click()
        wait_until(lambda seconds=seconds: abs(player.evaluate("v => v.currentTime") - seconds) < 0.05,
                   f"the player at {seconds} s")
        marked = page.locator("#video-frames .seek-frame")
        expect(marked).to_have_count(1)
        index = marked.evaluate("el => [...document.querySelectorAll('#video-frames .thumbnail-item')].indexOf(el)")
        assert index == frame, (index, frame)
        # the marked frame is the one whose caption is nearest the chip's time
        assert abs(times[frame] - seconds) == min(abs(t - seconds) for t in times)

    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "video-times.png"), full_page=True)  # the README's, before it starts over

    # a new conversation starts over: no turns, frames or moments left
    page.locator("#video-clear").click()
    expect(page.locator("#video-conversation .video-turn")).to_have_count(0)
    expect(page.locator("#video-frames .thumbnail-item")).to_have_count(0)
    expect(page.locator("#video-moments .seek-chip")).to_have_count(0)
