"""The Document tab and the API's document endpoints on the real page and the real engines (tiny checkpoint).

A PDF made here (tests/unit/test_pdf_pages.py's ``make_pdf``): its strip of pages, a question about a page chosen in
the strip (the answer streams, with its stats), Parse (the page with its layout boxes, beside the parsed blocks);
``/describe_document`` and ``/parse_document`` through ``gradio_client``; and the bad PDFs (encrypted, truncated, a
page bomb, 3,000 pages, empty, not a PDF), each refused with its sentence, the next request answered.

Random weights: the free-form parse is junk, so the blocks come from the schema's answer; the assertions are on
structure (blocks, their boxes drawn in their colours on the page), never on wording.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from gradio_client import handle_file
from PIL import Image
from playwright.sync_api import expect

from demo.outputs import doc_parse
from demo.outputs.boxes import PALETTE
from tests.app.conftest import open_page
from tests.unit.test_pdf_pages import bad_pdfs, make_pdf
from tests.waits import ENGINE_WAIT_S, app_client, ms

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SENTENCES = {"pdf_encrypted": "is protected by a password", "pdf_damaged": "is damaged and could not be read",
             "pdf_page_too_large": "larger than a PDF page may be", "pdf_too_many_pages": "has 3000 pages; the "
             "limit is 2000", "pdf_empty": "is empty (0 bytes)", "pdf_not_pdf": "is not a PDF file"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(scope="module")
def report(folder) -> str:
    path = folder / "report.pdf"
    path.write_bytes(make_pdf(3, lines=("Quarterly report", "Sales rose by 12 percent.", "Costs fell.")))
    return str(path)


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


def boxes_in_their_colours(picture: Image.Image, boxes: list[tuple[int, int, int, int]]) -> int:
    """How many of the boxes (0-1000) have their palette colour (the n-th box's) among the pixels of their area."""
    rgb = picture.convert("RGB")
    w, h = rgb.size
    count = 0
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        area = rgb.crop((x1 * w // 1000, y1 * h // 1000, min(w, x2 * w // 1000 + 1), min(h, y2 * h // 1000 + 1)))
        colours = {c for _, c in area.getcolors(maxcolors=1 << 20) or []}
        count += PALETTE[i % len(PALETTE)] in colours
    return count


# The stats line's structure (AnswerStats.describe): a random-weight model may end at its first token without text,
# so an answer is checked by its completion tokens and finish reason, its text only when some arrived.
STATS = re.compile(r"\b(\d+) completion tokens\b.*\bfinish: (\w+)")


def answered(stats_line: str, max_tokens: int | None = None) -> int:
    """The completion tokens of a finished answer's stats line, after checking its structure."""
    match = STATS.search(stats_line)
    assert match, stats_line
    completion, finish = int(match.group(1)), match.group(2)
    assert completion >= 1 and finish in ("stop", "length"), stats_line
    assert max_tokens is None or completion <= max_tokens, stats_line
    return completion


def test_the_document_tab_strip_question_and_parse(browser, app_url, output_dir, report, folder):
    with open_page(browser, app_url, output_dir, "document-tab", height=1400) as page:
        page.get_by_role("tab", name="Document").click()
        page.locator("#doc-file input[type=file]").set_input_files(report)
        thumbs = page.locator("#doc-strip .thumbnail-item")
        expect(thumbs).to_have_count(3)
        expect(page.locator("#doc-strip .caption-label").nth(2)).to_have_text("page 3")
        expect(page.locator("#doc-info")).to_contain_text("3 pages")

        thumbs.nth(1).click()  # page 2, from the strip
        expect(page.locator("#doc-page input")).to_have_value("2")
        page.locator("#doc-question textarea").fill("What does this page say?")
        page.locator("#doc-ask").click()
        expect(page.locator("#doc-used")).to_contain_text("page 2 of 3", timeout=ms(ENGINE_WAIT_S))
        expect(page.locator("#doc-stats .answer-stats")).to_contain_text("tokens/s", timeout=ms(ENGINE_WAIT_S))
        answered(page.locator("#doc-stats .answer-stats").inner_text())

        page.locator("#doc-parse-btn").click()
        blocks = page.locator("#doc-parse-view .doc-block")
        toasts = page.locator("[data-testid='toast-body']")
        # the blocks, or a sentence saying why there are none (then at once a failure, with that sentence)
        expect(page.locator("#doc-parse-view .doc-block, [data-testid='toast-body']").first).to_be_visible(
            timeout=ms(ENGINE_WAIT_S))
        n = blocks.count()
        assert n > 0, toasts.all_inner_texts()
        expect(page.locator("#doc-parse-note")).to_contain_text(f"Page 2: {n} block")
        boxes = [tuple(int(v) for v in text.split()) for text in
                 page.locator("#doc-parse-view .doc-block-box").all_inner_texts()]
        assert len(boxes) == n and all(len(b) == 4 for b in boxes)
        src = page.locator("#doc-parse-image img").get_attribute("src")
        picture = Image.open(io.BytesIO(page.request.get(src).body()))
        drawn = boxes_in_their_colours(picture, boxes)
        assert drawn >= max(1, n // 2), f"{drawn} of {n} boxes drawn in their colours"

        page.locator("#doc-parse-row").scroll_into_view_if_needed()
        shot = output_dir / "screenshots" / "document.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS / "document.png")

        # a bad PDF: its sentence, and the document before it stays
        encrypted, _ = bad_pdfs(folder)["encrypted.pdf"]
        page.locator("#doc-file input[type=file]").set_input_files(encrypted)
        toast = page.locator("[data-testid='toast-body']").filter(has_text=SENTENCES["pdf_encrypted"])
        expect(toast).to_be_visible(timeout=ms(ENGINE_WAIT_S))
        expect(thumbs).to_have_count(3)
        expect(page.locator("#doc-info")).to_contain_text("report.pdf")


def test_api_lists_the_document_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/describe_document", "/parse_document"} <= names


def test_describe_document_streams_the_pages_read_and_the_answer(client, report):
    job = client.submit(handle_file(report), "What is on these pages?", "2-3", max_tokens=48,
                        api_name="/describe_document")
    updates = list(job)
    stats, answer = job.result()
    assert "pages 2, 3 of 3" in stats and "tokens/s" in stats, stats
    answered(stats, 48)
    assert len(updates) >= 2 and updates[0][0].startswith("The model read")  # the pages first, then the answer
    if answer:  # the text that arrived is the text streamed, whole at the end
        assert updates[-1][1] == answer


def test_describe_document_whole_and_one_page(client, report):
    stats, _ = client.predict(handle_file(report), "Summarize.", "", max_tokens=16, api_name="/describe_document")
    assert "pages 1, 2, 3 of 3" in stats, stats
    stats, _ = client.predict(handle_file(report), "Summarize.", "3", max_tokens=16, api_name="/describe_document")
    assert re.search(r"\bpage 3 of 3\b", stats), stats


def test_parse_document_returns_blocks_and_the_page_with_their_boxes(client, report):
    blocks, picture = client.predict(handle_file(report), "1", api_name="/parse_document")
    assert blocks and all(set(b) >= {"category", "bbox_2d", "text"} for b in blocks)
    assert all(b["category"] in doc_parse.CATEGORIES and len(b["bbox_2d"]) == 4 for b in blocks)
    drawn = boxes_in_their_colours(Image.open(picture), [tuple(b["bbox_2d"]) for b in blocks])
    assert drawn >= max(1, len(blocks) // 2), f"{drawn} of {len(blocks)} boxes drawn in their colours"


@pytest.mark.parametrize("name", ["encrypted.pdf", "truncated.pdf", "bomb.pdf", "long.pdf", "empty.pdf",
                                  "notes.pdf"])
def test_bad_pdfs_get_their_sentence_and_the_next_request_works(client, folder, report, name):
    path, code = bad_pdfs(folder)[name]
    for args, api in (((handle_file(path), "Summarize.", ""), "/describe_document"),
                      ((handle_file(path), "1"), "/parse_document")):
        with pytest.raises(Exception) as info:
            client.predict(*args, api_name=api)
        assert SENTENCES[code] in str(info.value), str(info.value)
        assert "Traceback" not in str(info.value)
    stats, answer = client.predict(handle_file(report), "Summarize.", "1", max_tokens=16,
                                   api_name="/describe_document")
    assert "page 1 of 3" in stats, stats
    answered(stats, 16)


def test_pages_outside_the_document_are_a_sentence(client, report):
    with pytest.raises(Exception) as info:
        client.predict(handle_file(report), "Summarize.", "4-9", api_name="/describe_document")
    assert "between 1 and 3" in str(info.value)
