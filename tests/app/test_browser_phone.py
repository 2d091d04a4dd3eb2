"""A phone's first screen (issue 29): on a 390x844 screen the header is compact, its device plan folded into one line
that opens on a tap and stays open while the header is redrawn, and the Chat tab's conversation, its text box and
Send fit without scrolling. The real page on the real engines in headless Chromium; sizes, never durations."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from demo.ui.header import short_plan
from tests.app.conftest import open_page

PHONE = {"width": 390, "height": 844, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# The same phone in Safari, its bars shown: what is left of the 844 px (Playwright's "iPhone 13" viewport)
WITH_BARS = 664
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def box(pg, selector: str) -> dict:
    found = pg.locator(selector).first.bounding_box()
    assert found, f"{selector} is not on the page"
    return found


@pytest.mark.parametrize("height", [PHONE["height"], WITH_BARS])
def test_a_phone_s_first_screen_holds_the_conversation_its_text_box_and_send(browser, app_url, output_dir, engines,
                                                                              height):
    screen = {**PHONE, "height": height}
    with open_page(browser, app_url, output_dir, f"phone-first-screen-{height}", **screen) as pg:
        for selector in ("#chat-box", "#chat-input textarea", "#chat-send"):
            expect(pg.locator(selector).first).to_be_visible()
        # the plan is folded: its summary line shows, the whole plan and its notes do not
        assert engines.plan.notes, "the test engines' plan has notes (the CPU build's), so there is a fold to prove"
        expect(pg.locator("#app-header .plan-summary")).to_be_visible()
        expect(pg.locator("#app-header .plan-row")).to_be_hidden()
        for note in pg.locator("#app-header .plan-note").all():
            expect(note).to_be_hidden()
        # nothing scrolled, nothing wider than the screen
        assert pg.evaluate("window.scrollY") == 0
        assert pg.evaluate("document.documentElement.scrollWidth") <= screen["width"]
        header = box(pg, "#app-header .app-header")
        sizes = {s: box(pg, s) for s in ("#app-header .app-header", "#chat-box", "#chat-input textarea", "#chat-send")}
        assert header["height"] < 0.25 * PHONE["height"], sizes  # it took 45 % before (issue 29)
        for selector in ("#chat-box", "#chat-input textarea", "#chat-send"):  # all of each, on the first screen
            b = sizes[selector]
            assert b["y"] >= 0 and b["y"] + b["height"] <= height, (selector, sizes)
            assert b["x"] >= 0 and b["x"] + b["width"] <= screen["width"], (selector, sizes)
        if height == PHONE["height"]:
            shot = output_dir / "screenshots" / "phone.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(shot))  # the first screen, as a person sees it
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, DOCS_SHOTS / "phone.png")
        # a tap opens the plan: the whole plan and every note
        pg.locator("#app-header .plan-summary").tap()
        expect(pg.locator("#app-header .plan-row")).to_be_visible()
        expect(pg.locator("#app-header .plan-row")).to_have_text(engines.plan.describe())
        expect(pg.locator("#app-header .plan-note")).to_have_count(len(engines.plan.notes))
        for note in pg.locator("#app-header .plan-note").all():
            expect(note).to_be_visible()
        # and a second tap folds it again
        pg.locator("#app-header .plan-summary").tap()
        expect(pg.locator("#app-header .plan-row")).to_be_hidden()


def test_the_opened_plan_stays_open_while_the_header_is_redrawn(browser, app_url, output_dir, engines, monkeypatch):
    """The timer replaces the header's HTML (every second while an engine starts, its elapsed seconds changing):
    a plan opened by a tap must not close at the next redraw. A redraw that changes the header is made here by the
    pace line's reading (the only part of a ready header that changes), and observed by its data attribute."""
    with open_page(browser, app_url, output_dir, "phone-plan-open", **PHONE) as pg:
        pace = pg.locator("#app-header .pace")
        expect(pace).to_have_attribute("data-interval-ms", re.compile(r"^\d+$"))
        drawn = int(pace.get_attribute("data-interval-ms"))
        pg.locator("#app-header .plan-summary").tap()
        notes = pg.locator("#app-header .plan-note")
        expect(notes.first).to_be_visible()
        monkeypatch.setattr(engines.pacers, "interval", lambda: (drawn + 7) / 1000)
        expect(pace).to_have_attribute("data-interval-ms", str(drawn + 7))  # the next redraw has landed
        # read at once, not retried: open after the redraw, not opened again later
        assert pg.locator("#app-header .plan-row").is_visible()
        assert all(note.is_visible() for note in notes.all())


def test_a_desktop_header_shows_the_plan_s_short_form_on_one_readable_line(browser, app_url, output_dir, engines):
    with open_page(browser, app_url, output_dir, "desktop-plan-line") as pg:
        summary = pg.locator("#app-header .plan-summary")
        expect(summary).to_be_visible()
        expect(summary).to_contain_text(short_plan(engines.plan))
        expect(pg.locator("#app-header .plan-row")).to_be_hidden()
        assert summary.evaluate("el => el.scrollWidth <= el.clientWidth"), "the summary line is cut off"
        summary.click()
        expect(pg.locator("#app-header .plan-row")).to_be_visible()
