"""Qwen3.5 in the real page and API (``--model tiny-qwen3.5`` on its own real engines, headless Chromium and
``gradio_client``): the header names the family, a "Think first" box (on, as the model is by default) turns the
thinking off for the next question, Show request carries the choice, and the API takes ``thinking``. A Qwen3-VL
page has no such box. Random weights: structure, never wording.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError
from playwright.sync_api import expect

from demo.ui.image_find import find_objects
from tests.app.conftest import open_page
from tests.app.test_browser import set_generation
from tests.conftest import page_instance
from tests.waits import ENGINE_WAIT_S, app_client, ms

COFFEE = "assets/coffee.jpg"


@pytest.fixture(scope="module")
def qwen35_url(qwen35_engines):
    with page_instance(qwen35_engines) as url:
        yield url


@pytest.fixture()
def qwen35_page(browser, qwen35_url, output_dir, request):
    with open_page(browser, qwen35_url, output_dir, request.node.name, height=900) as page:
        yield page


def ask(page, text: str, answers: int) -> None:
    page.locator("#chat-input textarea").fill(text)
    page.locator("#chat-send").click()
    expect(page.locator("#chat-stats .answer-stats")).to_be_visible(timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(answers, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-send")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))  # the answer has ended


def test_think_first_is_on_by_default_and_off_answers_at_once(qwen35_page):
    page = qwen35_page
    expect(page.locator(".app-header h1")).to_contain_text("Qwen3.5")
    box = page.locator("#think-first input[type='checkbox']")
    expect(box).to_be_checked()
    set_generation(page, max_tokens=48)
    ask(page, "Describe this image. What is the man going to do next?", 1)
    thoughts = page.locator("#chat-box .thought-group")
    expect(thoughts).to_have_count(1, timeout=ms(ENGINE_WAIT_S))  # thinking on: its block
    box.uncheck()
    ask(page, "And now, without thinking?", 2)
    # thinking off: the second answer comes with no block of its own
    assert thoughts.count() == 1
    # Show request of that answer carries the choice, as the server's own argument
    page.get_by_text("Show request").click()
    page.locator("#chat-box [data-testid='bot']").last.click()
    python = page.locator("#chat-request-python")
    expect(python).to_contain_text("chat_template_kwargs", timeout=ms(ENGINE_WAIT_S))
    expect(python).to_contain_text("'enable_thinking': False")


def test_a_qwen3_vl_page_has_no_think_first_box(page):
    expect(page.locator("#chat-input textarea")).to_be_visible()
    assert page.locator("#think-first").count() == 0


def test_the_api_takes_thinking(qwen35_url):
    client = app_client(qwen35_url)
    common = ("", [], 1.0, 0.95, 20, 48, 1.5)
    _, answer, reasoning = client.predict("Describe the picture.", *common, "off", api_name="/chat")
    assert reasoning == "" and answer
    _, _, reasoning = client.predict("Describe the picture.", *common, "on", api_name="/chat")
    assert reasoning
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio's own check of the Radio's choices
        client.predict("Describe the picture.", *common, "maybe", api_name="/chat")


def test_find_asks_without_thinking_and_gets_what_its_schema_holds(qwen35_engines):
    """Find (Image tab, /ground) on a model with the switch: asked without thinking (the schema fixes the answer's
    shape), no reasoning comes, and what was found is drawn."""
    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        found, drawn, stats = pool.submit(asyncio.run, find_objects(qwen35_engines, COFFEE, "the cup")).result()
    # (random weights may fill the schema's largest answer, twenty items of long labels, before it closes)
    assert stats.finish_reason in ("stop", "length") and stats.reasoning_tokens == 0
    assert stats.request["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert isinstance(found, list) and Path(drawn).is_file()
