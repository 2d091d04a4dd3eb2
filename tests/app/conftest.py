"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and a page of the real app."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.waits import ENGINE_WAIT_S

# Every retrying assertion waits for its event as long as any engine wait may take (Playwright's default of
# 5 s failed on a cold machine, issue 10): a limit reached is a failure, never a pass.
expect.set_options(timeout=ENGINE_WAIT_S * 1000)

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


@contextmanager
def open_page(browser, url: str, output_dir, name: str, height: int = 720):
    """A page of the app in a fresh browser profile (nothing kept from another test), once its server is ready;
    a screenshot of it is saved at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(ENGINE_WAIT_S * 1000)
    pg.goto(url)
    expect(pg.locator("[data-engine='server']")).to_have_attribute("data-state", "ready")
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
