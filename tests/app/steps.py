"""Page steps shared by the browser tests, each waited for on what it changes."""

from __future__ import annotations

from playwright.sync_api import expect

from demo.ui.image_tab import DEFAULT_QUESTION


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
