"""Per-image detail in the Image tab (issue 29), in Chromium on the real engines (tiny checkpoint).

The size/token line follows the level before anything is sent; an image asked about at "high" costs the server
more prompt tokens than at "low" (its own usage counts, in the stats line: exactly the announced visual tokens
more), and Show request holds the image at the announced size. Random weights: nothing about the answer's words.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from demo.inputs.images import detail_pixels, seen_size
from tests.app.steps import new_image_conversation
from tests.app.test_browser import set_generation
from tests.app.test_browser_conversations import code_text
from tests.waits import ENGINE_WAIT_S, PAGE_WAIT_S, ms, wait_until

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STATS = re.compile(r"(\d+) prompt \+ (\d+) completion tokens")
SIZE = (2000, 1500)  # larger than "low" and "standard" allow, within "high" at the tests' 8192-token context
LABELS = {"low": "Low (~256)", "standard": "Standard", "high": "High (small text)"}


def text_picture(path: Path) -> str:
    """A photograph-sized picture of small text (what "high" is for)."""
    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    for row in range(0, SIZE[1], 24):
        draw.text((10, row), f"line {row // 24}: the quick brown fox jumps over the lazy dog " * 4, fill="black")
    img.save(path, "JPEG", quality=90)
    return str(path)


def seen(level: str):
    return seen_size(*SIZE, detail_pixels(level, 8192))


def line_of(level: str) -> str:
    s = seen(level)
    return f"{SIZE[0]}×{SIZE[1]} → model sees {s.width}×{s.height} · {s.tokens:,} visual tokens"


def choose(page, level: str) -> None:
    page.locator("#image-detail").get_by_text(LABELS[level], exact=True).click()


def request_script(page) -> str:
    """Show request's script once it shows this answer's request (the answer's last update brings it)."""
    wait_until(lambda: "# IMAGE_1" in code_text(page, "image-request-python"), "the answer's request",
               timeout=PAGE_WAIT_S)
    return code_text(page, "image-request-python")


def ask_at(page, path: str, level: str) -> int:
    """Add the picture, choose ``level``, see the line say it, ask; the prompt tokens the server counted."""
    page.locator("#image-gallery input[type=file]").set_input_files(path)
    expect(page.locator("#image-gallery img").first).to_be_visible()
    choose(page, level)
    expect(page.locator("#image-detail-line")).to_have_text(line_of(level))
    page.locator("#image-question textarea").fill("Read the third line.")
    page.locator("#image-ask").click()
    stats = page.locator("#image-stats")
    expect(stats).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    return int(STATS.search(stats.inner_text()).group(1))


def test_detail_shows_its_size_and_tokens_and_costs_them(page, tmp_path, output_dir):
    path = text_picture(tmp_path / "small-text.jpg")
    set_generation(page, max_tokens=4)
    page.get_by_role("tab", name="Image").click()
    line = page.locator("#image-detail-line")

    # an example photograph (600x400: under every budget, the grid's rounding only) is described too
    page.get_by_role("row", name=re.compile("What is in the cup")).first.click()
    coffee = seen_size(600, 400)
    expect(line).to_have_text(f"600×400 → model sees {coffee.width}×{coffee.height} · {coffee.tokens:,} visual tokens")
    new_image_conversation(page)
    expect(line).to_have_text("")

    # before sending: the line follows the upload and each change of level
    page.locator("#image-gallery input[type=file]").set_input_files(path)
    expect(line).to_have_text(line_of("standard"))  # the default: the budget of before
    choose(page, "low")
    expect(line).to_have_text(line_of("low"))
    choose(page, "high")
    expect(line).to_have_text(line_of("high"))
    assert seen("low").tokens < seen("standard").tokens < seen("high").tokens
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "image-detail.png"), full_page=True)
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shots / "image-detail.png", DOCS_SHOTS / "image-detail.png")

    # asked at "low", then in a new conversation at "high": the same question, the announced tokens more
    new_image_conversation(page)
    expect(line).to_have_text("")
    low = ask_at(page, path, "low")
    page.locator("#image-request").get_by_text("Show request").click()
    s, script = seen("low"), request_script(page)
    assert f"image: {s.width}×{s.height} JPEG" in script  # the image sent is the announced one
    assert f"the model sees {s.width}×{s.height}, {s.tokens:,} visual tokens" in script
    # an image already in the conversation keeps its detail: the line says so when the level changes
    choose(page, "high")
    expect(line).to_contain_text("sent earlier at “Low (~256)”")

    new_image_conversation(page)
    high = ask_at(page, path, "high")
    s, script = seen("high"), request_script(page)
    assert f"image: {SIZE[0]}×{SIZE[1]} JPEG" in script  # within the budget: sent as it is, the server rounds it
    assert f"the model sees {s.width}×{s.height}, {s.tokens:,} visual tokens" in script
    assert high - low == seen("high").tokens - seen("low").tokens, (low, high)
