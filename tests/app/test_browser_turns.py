"""Turns in the real page (headless Chromium): one answer at a time per conversation, and a failed image
question retried with its images."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from demo.errors import MESSAGES
from tests.app.test_browser import LONG_ANSWER, set_generation

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
        expect(control).to_be_enabled()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(1)
    assert page.locator("#chat-box [data-testid='bot']").count() <= 1  # none if stopped before any text
    set_generation(page, max_tokens=16)
    textbox.fill("hello")
    send.click()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
    expect(page.locator("#chat-stats")).to_contain_text("completion tokens")
    for control in (textbox, send, regenerate):  # and after an answer that ended on its own
        expect(control).to_be_enabled()


def test_an_image_question_that_failed_is_asked_again_with_its_image(page):
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    question = page.locator("#image-question textarea")
    too_long = " ".join(["sea"] * 9000)  # more tokens than the 8192-token context holds: the server refuses it
    question.fill(too_long)
    page.locator("#image-ask").click()
    sentence = MESSAGES["too_long"].format(max_model_len=8192)
    expect(page.locator("[data-testid='toast-body']").filter(has_text=sentence[:40])).to_be_visible()
    expect(page.locator("#image-chat [data-testid='user']")).to_have_count(0)  # the failed turn was taken back
    expect(question).to_be_enabled()
    try:
        expect(question).to_have_value(too_long)  # nothing the person typed is lost
    except AssertionError:  # (without the 36 kB value in the message)
        raise AssertionError(f"the question was not put back: {len(question.input_value())} characters") from None
    question.fill("What is in the cup?")
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens")
    expect(page.locator("#image-chat [data-testid='user'] img")).to_have_count(1)  # sent with its image
