"""Questions about a region of an image (issue 29), on the real engines: the Image tab's region picker in Chromium,
and ``/ask_region`` through ``gradio_client``.

Random weights say nothing meaningful: the assertions are on structure. The box set by two clicks is the one
shown and the one in the request (Show request's script); a small region's request holds two images (the crop);
the image goes at the Detail level chosen (the detail line says so of it afterwards);
the picture in the conversation has the box drawn (a pixel of its edge, read in the page). Through the API, the
region's question and crop are witnessed by the prompt's token count, against /describe_image's of the same
question.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from gradio_client import handle_file
from playwright.sync_api import expect

from tests.app.test_browser import set_generation
from tests.waits import ENGINE_WAIT_S, app_client, ms, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
RED = (230, 25, 75)  # the box's colour (demo/outputs/boxes.py PALETTE[0])
BOX = re.compile(r'"bbox_2d": \[(\d+), (\d+), (\d+), (\d+)\]')

# the colour of a picture's pixel (x, y), in its natural size (the page's own copy of it, drawn on a canvas)
_PIXEL_JS = """(img, [x, y]) => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(x, y, 1, 1).data).slice(0, 3);
}"""


def natural_size(img) -> tuple[int, int]:
    wait_until(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), "the picture to load", timeout=120)
    return tuple(img.evaluate("i => [i.naturalWidth, i.naturalHeight]"))


def pixel(img, x: int, y: int) -> tuple[int, ...]:
    natural_size(img)
    return tuple(img.evaluate(_PIXEL_JS, [x, y]))


def near(colour, expected, tolerance=30) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))


def click_at(page, img, fx: float, fy: float) -> None:
    """Click the picture at a fraction of its natural size, where Gradio's own sum puts it (the picture is fitted
    inside its element: object-fit contain)."""
    w, h = natural_size(img)
    img.scroll_into_view_if_needed()  # (the mouse clicks where the viewport shows it)
    r = img.bounding_box()
    scale = min(r["width"] / w, r["height"] / h, 1)
    left = r["x"] + (r["width"] - w * scale) / 2
    top = r["y"] + (r["height"] - h * scale) / 2
    page.mouse.click(left + fx * w * scale, top + fy * h * scale)


def code_text(page, elem_id: str) -> str:
    """The whole text of a ``gr.Code``, from its own Download link (CodeMirror draws only the lines in view)."""
    link = page.locator(f"#{elem_id} a.download-link")
    if not link.count():
        return ""
    return page.evaluate("href => fetch(href).then(r => r.text())", link.get_attribute("href"))


def pick(page, first: tuple[float, float], second: tuple[float, float]) -> tuple[int, int, int, int]:
    """Two clicks on the picker, each waited for (the second reads what the first left); the box it shows."""
    picture = page.locator("#image-region-picker img")
    before = picture.get_attribute("src")
    click_at(page, picture, *first)
    wait_until(lambda: picture.get_attribute("src") != before, "the first corner to be marked", timeout=120)
    click_at(page, picture, *second)
    note = page.locator("#image-region-box")
    expect(note).to_contain_text("bbox_2d")
    return tuple(int(v) for v in BOX.search(note.inner_text()).groups())


def test_a_region_picked_by_two_clicks_is_asked_about_and_drawn(page, output_dir):
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-region").get_by_text("Ask about a region").click()
    picture = page.locator("#image-region-picker img")
    expect(picture).to_be_visible()

    # corners at 30%, 40% and 50%, 60% of the picture (clicked bottom-right first): a small region, 4% of it
    box = pick(page, (0.5, 0.6), (0.3, 0.4))
    for got, want in zip(box, (300, 400, 500, 600)):
        assert abs(got - want) <= 3, box
    w, h = natural_size(picture)
    left, middle = round(box[0] / 1000 * w), round((box[1] + box[3]) / 2000 * h)
    assert near(pixel(picture, left, middle), RED), "the box is drawn on the picker"

    set_generation(page, max_tokens=24)  # a short answer: the picture stays in view in the conversation
    page.locator("#image-question textarea").fill("What is in this region?")
    page.locator("#image-detail").get_by_text("High (small text)", exact=True).click()  # the region's image at High
    page.locator("#image-ask").click()
    user_images = page.locator("#image-chat [data-testid='user'] img")
    expect(user_images).to_have_count(2)  # the image, and the region zoomed in
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-region-box")).to_have_text("")  # the region went with that question
    # the image went at the level chosen: the detail line says so of it (the line follows a change of level)
    page.locator("#image-detail").get_by_text("Standard", exact=True).click()
    expect(page.locator("#image-detail-line")).to_contain_text("sent earlier at “High (small text)”")
    shown = user_images.first
    w, h = natural_size(shown)
    left, middle = round(box[0] / 1000 * w), round((box[1] + box[3]) / 2000 * h)
    assert near(pixel(shown, left, middle), RED), "the conversation shows the region drawn on the image"

    # the README's picture: a region picked again, and the conversation with the one asked about
    pick(page, (0.55, 0.15), (0.85, 0.5))
    page.locator("#image-chat").evaluate(  # the conversation from its start: the question's picture in view
        "el => el.querySelectorAll('*').forEach(e => { if (e.scrollHeight > e.clientHeight + 4) e.scrollTop = 0; })")
    shots = output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    bottom = page.locator("#image-region").evaluate("el => el.getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(path=str(shots / "region.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": bottom + 16})
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shots / "region.png", DOCS_SHOTS / "region.png")

    # Show request: the question names the box as Qwen3-VL writes boxes, and two images went with it
    page.locator("#image-request").get_by_text("Show request").click()
    wait_until(lambda: "bbox_2d" in code_text(page, "image-request-python"), "the answer's request")
    script = code_text(page, "image-request-python")
    assert f'"bbox_2d": [{box[0]}, {box[1]}, {box[2]}, {box[3]}]' in script
    assert "IMAGE_1 = " in script and "IMAGE_2 = " in script and "IMAGE_3" not in script


def prompt_tokens(stats: str) -> int:
    return int(stats.split(" prompt + ")[0].rsplit(" ", 1)[1])


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


def test_ask_region_through_the_api(client):
    image, question = handle_file(str(ASSETS / "coffee.jpg")), "What is here?"
    assert "/ask_region" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    job = client.submit(image, [300, 400, 500, 600], question, api_name="/ask_region")
    updates = list(job)
    stats, answer, reasoning = job.result()
    assert "completion tokens" in stats and reasoning == ""
    assert answer == updates[-1][1]
    small = prompt_tokens(stats)

    whole, _, _ = client.predict(image, "0, 0, 1000, 900", question, api_name="/ask_region")  # text: as well
    plain, _, _ = client.predict(image, question, api_name="/describe_image")
    # the region's words (its box) make the prompt longer; a small region's crop adds its visual tokens
    assert prompt_tokens(whole) > prompt_tokens(plain) + 20, (whole, plain)
    assert small > prompt_tokens(whole) + 100, (stats, whole)


@pytest.mark.parametrize("box, expected", [
    ("1,2,3", "A region is four numbers from 0 to 1000"),
    ([0, 0, 2000, 10], "A region is four numbers from 0 to 1000"),
    ([10, 10, 10, 500], "has no width or no height"),
])
def test_a_bad_box_is_a_sentence_and_the_next_request_works(client, box, expected):
    image = handle_file(str(ASSETS / "coffee.jpg"))
    with pytest.raises(Exception) as info:
        client.predict(image, box, "What is here?", api_name="/ask_region")
    assert expected in str(info.value) and "Traceback" not in str(info.value)
    stats, answer, _ = client.predict(image, [100, 100, 900, 900], "What is here?", api_name="/ask_region")
    assert "completion tokens" in stats
