"""The real page in headless Chromium (Debian's package) driven by Playwright, on the real engines.

Assertions are on what a person sees, with retrying waits (``expect``); every test saves a screenshot under
the test run's output folder (``TEST_OUTPUT_DIR/screenshots``). The ``browser`` and ``page`` fixtures are in
tests/app/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.app.steps import new_image_conversation
from tests.waits import ENGINE_WAIT_S, ms, prove_abort

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def watch_text_growth(pg, selector: str) -> None:
    """Record every distinct length the element's text takes, from now on, in window.__lengths."""
    pg.evaluate("""sel => {
        window.__lengths = [];
        const record = () => {
            const el = document.querySelector(sel);
            const n = el ? el.innerText.length : 0;
            if (n && window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n);
        };
        new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""", selector)


def answer_arrived(pg, tab: str) -> bool:
    """Some of the answer is on the page: its text, or the stats line's count of tokens made so far."""
    box, stats = ("#chat-box", "#chat-stats") if tab == "chat" else ("#image-chat", "#image-stats")
    return (pg.locator(f"{box} [data-testid='bot']").count() > 0
            or "tokens so far" in (pg.locator(stats).inner_text() or ""))


def set_generation(pg, **values) -> None:
    """Type values into the shared generation settings (``max_tokens=4096, temperature=0``), and read them back.

    A value typed while the accordion is still opening can be reset to the slider's default (seen: the first
    one, in the in-process app of the tests): every value is read back, and a lost one typed again.
    """
    labels = {"max_tokens": "Max new tokens", "temperature": "Temperature", "presence_penalty": "Presence penalty"}
    if not pg.get_by_label(labels["max_tokens"]).first.is_visible():  # the accordion is closed: open it
        pg.get_by_text("Generation settings (all tabs)").click()
    boxes = {name: pg.get_by_label(labels[name]).first for name in values}
    for _ in range(3):
        for name, value in values.items():
            if float(boxes[name].input_value() or "nan") != float(value):
                boxes[name].fill(str(value))
                boxes[name].press("Enter")
        if all(float(boxes[name].input_value()) == float(value) for name, value in values.items()):
            return
    raise AssertionError(f"the generation settings did not take {values}")


# The longest answer the page allows, greedy (random weights then never emit the end token): far longer than
# the time from its first words to the Stop.
LONG_ANSWER = {"max_tokens": 4096, "temperature": 0, "presence_penalty": 0}


def test_chat_message_streams_in(page):
    watch_text_growth(page, "#chat-box [data-testid='bot']")
    page.locator("#chat-input textarea").fill("Reverse every character of 'I love Qwen3-VL-4B-Instruct'")
    page.locator("#chat-send").click()
    expect(page.locator("#chat-box [data-testid='user']")).to_contain_text("I love Qwen3-VL")
    expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    bot = page.locator("#chat-box [data-testid='bot']")
    expect(bot).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    assert bot.inner_text().strip()
    lengths = page.evaluate("window.__lengths")
    # It grew while streaming (Markdown rendering of partial text may shorten it by a character now and then).
    assert len(lengths) >= 3, f"the answer appeared in one piece: {lengths}"
    assert lengths[-1] > lengths[0]


def test_stop_stops_the_answer_on_the_server(page, engines):
    set_generation(page, **LONG_ANSWER)

    def attempt(witness):
        page.locator("#chat-clear").click()  # a fresh conversation each time (an earlier answer fills the context)
        expect(page.locator("#chat-box [data-testid='bot']")).to_have_count(0)  # nothing left to mistake for it
        expect(page.locator("#chat-stats")).not_to_contain_text("tokens so far")
        # (locked until the step after the last attempt's stopped answer: the Stop's effect)
        page.locator("#chat-input textarea").fill("Write a very long story about the sea.", timeout=ms(ENGINE_WAIT_S))
        page.locator("#chat-send").click()
        witness.wait_decoding(arrived=lambda: answer_arrived(page, "chat"))  # the answer is being made
        page.locator("#chat-stop").click()
        witness.check()  # aborted in vLLM, not only in the page: no finish counted, far fewer tokens than asked

    prove_abort(engines, LONG_ANSWER["max_tokens"], attempt)
    # and the chat still works: the next message is answered (its stats line; a greedy answer of random
    # weights may be empty, so the text itself is not the witness). Gradio 6 may paint "Error" over the
    # cancelled event's outputs (gradio-app/gradio#10648, #10342): not asserted either way here.
    set_generation(page, max_tokens=16)
    page.locator("#chat-input textarea").fill("hello", timeout=ms(ENGINE_WAIT_S))  # unlocked after the Stop
    page.locator("#chat-send").click()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
    expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))


def test_image_from_assets_is_uploaded_and_answered(page):
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-ask").click()
    expect(page.locator("#image-chat [data-testid='user'] img").first).to_be_visible()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    assert page.locator("#image-chat [data-testid='bot']").inner_text().strip()
    # a follow-up about the same image, in the same conversation
    page.locator("#image-question textarea").fill("What colour is the cup?")
    page.locator("#image-ask").click()
    expect(page.locator("#image-chat [data-testid='bot']")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))


def test_video_uploaded_frames_shown_and_answered(page):
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(ASSETS / "example.mp4"))
    page.locator("#video-ask").click()
    expect(page.locator("#video-tokens")).to_contain_text("visual tokens", timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#video-status")).to_contain_text("Done.", timeout=ms(ENGINE_WAIT_S))
    frames = page.locator("#video-frames img")
    assert frames.count() >= 2
    caption = page.locator("#video-tokens").inner_text()
    assert f"{frames.count()} frames" in caption
    expect(page.locator("#video-conversation .video-turn.bot")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#video-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))


def test_a_non_image_file_gives_a_sentence_and_the_page_keeps_working(page, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture <b>at all</b>")
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(fake))
    page.locator("#image-ask").click()
    toast = page.locator("[data-testid='toast-body']").filter(has_text="could not be read as an image")
    expect(toast).to_be_visible()
    assert "Traceback" not in page.content()
    # the page keeps working: a real photograph is answered after it
    new_image_conversation(page)
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
