"""Turns in the real page (headless Chromium): one answer at a time per conversation, a failed image question
retried with its images, and a chat message answered while the video line is full.

(The last uses the page fixture's browser: a second Playwright in a module whose browser fixture runs fails
with "Sync API inside the asyncio loop", seen when it sat in test_load.py beside the closed-tab test.)"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from gradio_client import handle_file
from gradio_client.utils import Status
from playwright.sync_api import expect

from demo.errors import MESSAGES
from demo.ui.common import video_slots
from tests.app.test_browser import LONG_ANSWER, set_generation
from tests.engine.test_engines import make_clip
from tests.waits import ENGINE_WAIT_S, app_client, ms, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def test_a_conversation_takes_no_second_message_while_it_answers(page):
    set_generation(page, **LONG_ANSWER)  # greedy, thousands of tokens: still answering when the test looks
    textbox, send = page.locator("#chat-input textarea"), page.locator("#chat-send")
    regenerate = page.locator("#chat-regenerate")
    textbox.fill("Write a very long story about the sea.")
    send.click()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(1)
    # The message and the locks come in one update: while this answer streams, nothing can start another.
    expect(textbox).to_be_disabled()
    expect(send).to_be_disabled()
    expect(regenerate).to_be_disabled()
    page.locator("#chat-stop").click()
    for control in (textbox, send, regenerate):  # back after the Stop
        expect(control).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    assert page.locator("#chat-box [data-testid='bot']").count() <= 1  # none if stopped before any text
    set_generation(page, max_tokens=16)
    textbox.fill("hello")
    send.click()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
    expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    for control in (textbox, send, regenerate):  # and after an answer that ended on its own
        expect(control).to_be_enabled(timeout=ms(ENGINE_WAIT_S))


def test_an_image_question_that_failed_is_asked_again_with_its_image(page):
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    question = page.locator("#image-question textarea")
    too_long = " ".join(["sea"] * 9000)  # more tokens than the 8192-token context holds: the server refuses it
    question.fill(too_long)
    page.locator("#image-ask").click()
    sentence = MESSAGES["too_long"].format(max_model_len=8192)
    # (the server refuses it: the answer's step, in the engines' group)
    expect(page.locator("[data-testid='toast-body']").filter(has_text=sentence[:40])).to_be_visible(
        timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-chat [data-testid='user']")).to_have_count(0,  # the failed turn was taken back
                                                                           timeout=ms(ENGINE_WAIT_S))
    expect(question).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    try:
        expect(question).to_have_value(too_long, timeout=ms(ENGINE_WAIT_S))  # nothing the person typed is lost
    except AssertionError:  # (without the 36 kB value in the message)
        raise AssertionError(f"the question was not put back: {len(question.input_value())} characters") from None
    question.fill("What is in the cup?")
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-chat [data-testid='user'] img")).to_have_count(1,  # sent with its image
                                                                              timeout=ms(ENGINE_WAIT_S))


def test_a_new_message_shows_and_is_answered_while_the_video_line_is_full(page, app_url, engines, tmp_path):
    """Every slot of the page's video group held and more videos waiting behind them: a chat message in the
    page still shows and is answered. The worker is frozen (SIGSTOP) while the test looks, so that no video
    job can end however fast the engine is; it goes on afterwards and answers them all."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    slots, behind = video_slots(engines.settings), 2
    clients = [app_client(app_url) for _ in range(slots + behind)]  # kept: a collected client ends its job
    worker_pid = engines.worker.pid
    os.kill(worker_pid, signal.SIGSTOP)
    try:
        videos = [c.submit(handle_file(str(clip)), "Describe this video.", 2.0, 4, 0.7, 0.8, 20, 8, 0.0,
                           api_name="/describe_video") for c in clients]
        codes = lambda: [v.status().code for v in videos]  # noqa: E731
        wait_until(lambda: sum(c in (Status.PROCESSING, Status.ITERATING) for c in codes()) == slots
                   and codes().count(Status.IN_QUEUE) == behind, "the video line to fill", poll=0.05)
        set_generation(page, max_tokens=16)
        page.locator("#chat-input textarea").fill("hello")
        page.locator("#chat-send").click()
        expect(page.locator("#chat-box [data-testid='user']")).to_have_count(1)
        expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
        assert not any(v.done() for v in videos), "a video job ended: the line was not full while the chat ran"
        assert codes().count(Status.IN_QUEUE) == behind
    finally:
        os.kill(worker_pid, signal.SIGCONT)
    for v in videos:  # nothing was lost meanwhile: each video is answered once the worker goes on
        stats, answer = v.result(timeout=ENGINE_WAIT_S)
        assert "completion tokens" in stats
