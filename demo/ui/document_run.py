"""What the Document tab and the API's document endpoints share: opening a PDF (its strip of pages), a question about
some of its pages (streamed), and a page parsed into layout blocks with their boxes drawn.

The reading and drawing of pages runs in a child process (``demo/inputs/pdf_pages.py``) waited on in the image
pool (``Engines.run_blocking``), never on the event loop; a cancel kills the child. The answers come from the
server as every image answer does (``Engines.stream_chat``).
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from ..engines.client import AnswerStats, Progress, Thinking
from ..engines.engines import Engines
from ..engines.params import GenerationParams
from ..inputs import doc_budget, pdf_pages
from ..inputs.conversation import clean_text
from ..inputs.images import downscale, to_data_url
from ..outputs import boxes, doc_parse

logger = logging.getLogger(__name__)
DEFAULT_QUESTION = "Summarize this document."
OUT_DIR = Path(tempfile.gettempdir()) / "qwen3-vl-demo-document"
OUT_KEEP_S = 3600  # Gradio copies each file into its own cache (swept with the uploads); this folder is pruned
PARSE_MAX_TOKENS = 3072  # a dense A4 page in QwenVL HTML, tags and boxes included, comes to about 2,000
SCHEMA_MAX_TOKENS = 2048  # the schema's answer: forty short blocks (text up to doc_parse.SCHEMA_TEXT characters)
THINKING_ROOM = 2048  # as Find's: a thinking model reasons before its answer


def _out_file(suffix: str) -> Path:
    """A new file name in :data:`OUT_DIR`, whose files older than :data:`OUT_KEEP_S` are pruned first."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in OUT_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > OUT_KEEP_S:
                old.unlink()
        except OSError:  # another request pruned it first
            pass
    return OUT_DIR / f"{uuid.uuid4().hex}{suffix}"


def _saved(image: Image.Image, suffix: str = ".jpg") -> str:
    """The image as a file (written here, in a worker thread: Gradio would encode a PIL image on its event loop)."""
    out = _out_file(suffix)
    image.save(out, quality=85) if suffix == ".jpg" else image.save(out)
    return str(out)


@dataclass(frozen=True)
class Opened:
    """A document opened for the page: what it is and its strip of page thumbnails."""

    path: str
    info: pdf_pages.PdfInfo
    strip: list[tuple[str, str]]  # (thumbnail file, "page n") of the strip's pages

    def describe(self) -> str:
        shown = len(self.strip)
        w, h = self.info.sizes[0]
        size = f"{w / 72 * 25.4:.0f} x {h / 72 * 25.4:.0f} mm"
        more = f"; the strip shows the first {shown}" if shown < self.info.page_count else ""
        noun = "page" if self.info.page_count == 1 else "pages"
        return f"**{self.info.name}**: {self.info.page_count} {noun}, the first {size}{more}."


def _open(path: str, cancelled=None) -> Opened:
    # a page bomb among the strip's pages is left out of it, the others shown; asked about, it gets its sentence
    info, thumbs, left_out = pdf_pages.read_strip(path, cancelled=cancelled)
    if not thumbs and left_out:  # not one page can be drawn: the document is refused with the first one's reason
        raise left_out[0]
    return Opened(path, info, [(_saved(image), f"page {number}") for number, image in thumbs])


async def open_document(engines: Engines, path: str | None) -> Opened:
    """Check and open an uploaded PDF and draw its strip. Raises :class:`UserFacingError` with the sentence."""
    if not path:
        raise pdf_pages.DocumentError("pdf_missing")
    return await engines.run_blocking(_open, str(path), cancellable=True)


def _page_messages(path: str, plan: doc_budget.PagePlan, question: str, cancelled=None) -> list[dict]:
    """The user's message: each page labelled "Page n:" before its image, then the question."""
    _, drawn = pdf_pages.read_pdf(path, plan.sent, plan.max_pixels, cancelled=cancelled)
    parts: list[dict] = []
    for number, image in drawn:
        parts.append({"type": "text", "text": f"Page {number}:"})
        parts.append({"type": "image_url", "image_url": {"url": to_data_url(downscale(image, plan.max_pixels))}})
    parts.append({"type": "text", "text": question})
    return [{"role": "user", "content": parts}]


@dataclass(frozen=True)
class PagesUsed:
    """Which pages the model reads (before the answer streams)."""

    plan: doc_budget.PagePlan
    count: int

    def describe(self) -> str:
        return self.plan.describe(self.count)


async def ask_document(engines: Engines, path: str | None, question, pages_spec, params: GenerationParams
                       ) -> AsyncGenerator[PagesUsed | str | Thinking | Progress | AnswerStats, None]:
    """Answer a question about some pages of a PDF: first the :class:`PagesUsed`, then the answer's items as
    ``Engines.stream_chat`` yields them. Raises :class:`UserFacingError` with the sentence."""
    if not path:
        raise pdf_pages.DocumentError("pdf_missing")
    question = clean_text(question or "").strip() or DEFAULT_QUESTION
    info, _ = await engines.run_blocking(pdf_pages.read_pdf, str(path), (), cancellable=True)
    asked = doc_budget.parse_pages(pages_spec, info.page_count)
    params = params.clamped(engines.max_model_len)
    plan = doc_budget.plan_pages(asked, info.sizes, doc_budget.page_budget(engines.max_model_len, params.max_tokens))
    yield PagesUsed(plan, info.page_count)
    messages = await engines.run_blocking(_page_messages, str(path), plan, question, cancellable=True)
    async with aclosing(engines.stream_chat(messages, params)) as items:
        async for item in items:
            yield item


@dataclass(frozen=True)
class Parsed:
    """A page parsed: its blocks, the page with their boxes drawn (a PNG file), and how they were had."""

    page: int
    blocks: list[doc_parse.Block]
    drawn: str
    held_to_schema: bool  # the free-form answer held no block: asked again held to the JSON schema
    stats: AnswerStats | None

    def describe(self) -> str:
        how = ("the free-form answer held no layout the page could read, so it was asked again held to a JSON "
               "schema" if self.held_to_schema else "read from the model's QwenVL HTML")
        noun = "block" if len(self.blocks) == 1 else "blocks"
        return f"Page {self.page}: {len(self.blocks)} {noun}, {how}."


async def _answer(engines: Engines, messages: list[dict], params: GenerationParams, json_schema: dict | None = None
                  ) -> tuple[str, AnswerStats | None]:
    text, stats = "", None
    async with aclosing(engines.stream_chat(messages, params, json_schema=json_schema)) as items:
        async for item in items:
            if isinstance(item, str):
                text += item
            elif isinstance(item, AnswerStats):
                stats = item
    return text, stats


def _page_for_parse(path: str, page, cancelled=None) -> tuple[int, Image.Image, int]:
    """(the page number, the page drawn as the model sees it, its tokens)."""
    info, _ = pdf_pages.read_pdf(path, (), cancelled=cancelled)
    pages = doc_budget.parse_pages(page if page not in (None, "") else 1, info.page_count)
    if len(pages) != 1:
        raise pdf_pages.DocumentError("pdf_bad_pages", count=info.page_count)
    max_pixels = doc_budget.PAGE_MAX_TOKENS * 32 * 32
    _, drawn = pdf_pages.read_pdf(path, pages, max_pixels, cancelled=cancelled)
    image = downscale(drawn[0][1], max_pixels)
    return pages[0], image, (image.width // 32) * (image.height // 32)


def _drawn(image: Image.Image, blocks: list[doc_parse.Block]) -> str:
    return _saved(boxes.draw(image, doc_parse.as_found(blocks)), ".png")


async def parse_page(engines: Engines, path: str | None, page) -> Parsed:
    """Parse one page (1-based; "" or None: the first) into layout blocks: Qwen's QwenVL HTML first, and when that
    holds no block, the same page asked again held to :func:`doc_parse.schema`. Raises :class:`UserFacingError`."""
    if not path:
        raise pdf_pages.DocumentError("pdf_missing")
    number, image, tokens = await engines.run_blocking(_page_for_parse, str(path), page, cancellable=True)
    url = await engines.run_blocking(to_data_url, image)
    room = engines.max_model_len - tokens - doc_budget.PAGE_OVERHEAD_TOKENS - doc_budget.PROMPT_MARGIN_TOKENS

    def messages(prompt: str) -> list[dict]:
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                             {"type": "text", "text": prompt}]}]

    # Greedy: a transcription, not a story.
    free = engines.for_a_schema(GenerationParams(max_tokens=PARSE_MAX_TOKENS).greedy())
    free = replace(free, max_tokens=max(1, min(room, PARSE_MAX_TOKENS + (THINKING_ROOM if engines.thinks(free)
                                                                           else 0))))
    text, stats = await _answer(engines, messages(doc_parse.PARSE_PROMPT), free)
    blocks = await engines.run_blocking(doc_parse.parse_html, text)
    held = not blocks
    if held:
        strict = engines.for_a_schema(GenerationParams(max_tokens=SCHEMA_MAX_TOKENS).greedy())
        strict = replace(strict, max_tokens=max(1, min(room, SCHEMA_MAX_TOKENS + (
            THINKING_ROOM if engines.thinks(strict) else 0))))
        text, stats = await _answer(engines, messages(doc_parse.SCHEMA_PROMPT), strict, doc_parse.schema())
        blocks = await engines.run_blocking(doc_parse.parse_json, text)
    if not blocks:
        logger.warning("page %s: no layout block in the schema's answer either: %r", number, text[:300])
        raise pdf_pages.DocumentError("parse_nothing")
    return Parsed(number, blocks, await engines.run_blocking(_drawn, image, blocks), held, stats)
