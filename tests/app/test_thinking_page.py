"""A thinking model in the real page and API (``--model tiny-thinking`` on its own real server, headless Chromium):
the reasoning arrives apart from the answer, in a "Thinking" block that is closed, with its time, once the answer
is there; the API returns the two apart; a video question (to the offline worker) shows its reasoning too.

Random weights tweaked to end their thinking soon (demo/engines/tiny_checkpoint.py): structure, never wording.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.app.conftest import open_page
from tests.app.steps import ask_about_the_example_video
from tests.app.test_browser import set_generation
from tests.conftest import page_instance
from tests.waits import ENGINE_WAIT_S, app_client, ms


@pytest.fixture(scope="module")
def thinking_url(thinking_engines):
    with page_instance(thinking_engines) as url:
        yield url


@pytest.fixture()
def thinking_page(browser, thinking_url, output_dir, request):
    with open_page(browser, thinking_url, output_dir, request.node.name, height=900) as page:
        yield page


def test_the_reasoning_is_a_thinking_block_closed_with_its_time_above_the_answer(thinking_page, output_dir):
    page = thinking_page
    set_generation(page, max_tokens=128)
    page.locator("#chat-input textarea").fill("Describe this image. What is the person going to do next?")
    page.locator("#chat-send").click()
    stats = page.locator("#chat-stats .answer-stats")
    expect(stats).to_be_visible(timeout=ms(ENGINE_WAIT_S))
    assert re.search(r"completion tokens( \(\d+ thinking\))? · finish: (stop|length)", stats.inner_text())
    thought = page.locator("#chat-box [data-testid='bot'] .thought-group")
    expect(thought).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    title = thought.locator(".title")
    expect(title).to_contain_text("Thinking", timeout=ms(ENGINE_WAIT_S))
    assert re.search(r"\d+(\.\d+)?\s*s", title.inner_text()), title.inner_text()  # with its time
    # the answer is a message of its own, after the block
    expect(page.locator("#chat-box [data-testid='bot']")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))
    answer = page.locator("#chat-box [data-testid='bot']").nth(1)
    assert answer.locator(".thought-group").count() == 0
    # closed: only its title shows; a click opens it on the reasoning
    closed = thought.inner_text()
    title.click()
    expect(thought).not_to_have_text(closed)
    assert len(thought.inner_text()) > len(closed)
    # the README's picture of a thinking answer (docs/screenshots/chat-thinking.png, tiny checkpoint, labelled there)
    page.locator("#chat-box").screenshot(path=str(output_dir / "chat-thinking.png"))


def test_the_api_returns_reasoning_and_answer_apart(thinking_url):
    client = app_client(thinking_url)
    stats, answer, reasoning = client.predict("Count the cats.", "", [], 0.7, 0.8, 20, 128, 1.5, api_name="/chat")
    assert reasoning and answer  # (either may be white space alone: random weights)
    assert "</think>" not in answer and "</think>" not in reasoning
    assert "finish:" in stats
    stats, answer, reasoning = client.predict(
        "And the dogs?", "", [{"role": "user", "content": "Count the cats."}, {"role": "assistant", "content": answer}],
        0.7, 0.8, 20, 128, 1.5, api_name="/chat")
    assert reasoning and answer


def test_a_video_answer_shows_its_reasoning_apart(thinking_page):
    page = thinking_page
    set_generation(page, max_tokens=128)
    ask_about_the_example_video(page)
    expect(page.locator("#video-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    block = page.locator("#video-conversation details.video-thinking")
    expect(block).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    assert block.get_attribute("open") is None  # closed once the answer is there
    expect(page.locator("#video-conversation .video-turn.bot")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
