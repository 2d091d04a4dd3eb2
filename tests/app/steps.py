"""Page steps shared by the browser tests, each waited for on what it changes."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from demo.ui.image_tab import DEFAULT_QUESTION

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def new_image_conversation(page) -> None:
    """Click the Image tab's "New conversation" and wait for its reply to land.

    Its reply (``queue=False``, a plain HTTP call) empties the gallery, so a file added before the reply
    arrives is wiped by it: on a loaded 2-core machine that reply can take a while. A marker typed first,
    which only that reply resets, tells when it has landed."""
    question = page.locator("#image-question textarea")
    question.fill("(waiting for the new conversation)")
    page.locator("#image-clear").click()
    expect(question).to_have_value(DEFAULT_QUESTION)
    expect(page.locator("#image-gallery img")).to_have_count(0)


def ask_about_the_example_video(page) -> None:
    """Open the Video tab, add assets/example.mp4 (waiting for the player to show it) and ask the default
    question; the caller waits for what it tests."""
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(ASSETS / "example.mp4"))
    expect(page.locator("#video-input video")).to_be_visible()
    page.locator("#video-ask").click()
