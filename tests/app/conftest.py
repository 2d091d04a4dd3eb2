"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and a page of the real app."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.waits import ENGINE_WAIT_S, PAGE_WAIT_S, ms

# Every retrying assertion and action waits for its event as long as the page's own reaction may take on a loaded
# 2-core machine (Playwright's default of 5 s failed on a cold machine, issue 10); a wait for what the engines make
# or end (an answer, its stats, a Stop taking effect, a video read, a conversation loaded) says
# timeout=ms(ENGINE_WAIT_S) itself, so a UI check that fails says so in minutes, not in 15 (issue 27). A limit
# reached is a failure, never a pass.
expect.set_options(timeout=ms(PAGE_WAIT_S))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is missing: scripts/test.sh installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def app_page(context, url: str):
    """A new page of ``context`` at ``url``, once the app's server engine is ready. Its actions and navigations wait
    as long as the page's own reaction may take (PAGE_WAIT_S); loading it (a fresh app on a loaded machine is slow
    to serve it) and the engine's start wait as long as an engine may take."""
    pg = context.new_page()
    pg.set_default_timeout(ms(PAGE_WAIT_S))
    pg.set_default_navigation_timeout(ms(PAGE_WAIT_S))
    pg.goto(url, timeout=ms(ENGINE_WAIT_S))
    expect(pg.locator("[data-engine='server']")).to_have_attribute("data-state", "ready", timeout=ms(ENGINE_WAIT_S))
    return pg


@contextmanager
def open_page(browser, url: str, output_dir, name: str, height: int = 720, width: int = 1280, **device):
    """A page of the app in a fresh browser profile (nothing kept from another test), once its server is ready;
    a screenshot of it is saved at the end. ``device``: more of the context's emulation (``is_mobile=True``,
    ``has_touch=True``: a phone)."""
    context = browser.new_context(viewport={"width": width, "height": height}, **device)
    pg = app_page(context, url)
    try:
        yield pg
    finally:
        shots = output_dir / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        context.close()


@pytest.fixture()
def page(browser, app_url, output_dir, request):
    with open_page(browser, app_url, output_dir, request.node.name) as pg:
        yield pg
