"""What the Document tab and the API's document endpoints share: opening a PDF (its strip of pages), a question about
some of its pages (streamed), and a page parsed into layout blocks with their boxes drawn.

The reading and drawing of pages runs in a child process (``demo/inputs/pdf_pages.py``) waited on in the image
pool (``Engines.run_blocking``), never on the event loop; a cancel kills the child. The answers come from the
server as every image answer does (``Engines.stream_chat``).
"""

from __future__ import annotations

import atexit
import logging
import shutil
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
from ..inputs.images import to_data_url
from ..outputs import boxes, doc_parse
from .texts import say, texts

logger = logging.getLogger(__name__)
DEFAULT_QUESTION = "Summarize this document."
# The drawn pages: a private folder of this app process (0700, a random name, so no other local user can read it or
# make it first), pruned below and removed when the app exits (as demo/ui/kept.py's).
OUT_DIR = Path(tempfile.mkdtemp(prefix="qwen3-vl-demo-document-"))
atexit.register(shutil.rmtree, OUT_DIR, True)
OUT_KEEP_S = 3600  # Gradio copies each file into its own cache (swept with the uploads); this folder is pruned
PARSE_MAX_TOKENS = 3072  # a dense A4 page in QwenVL HTML, tags and boxes included, comes to about 2,000
SCHEMA_MAX_TOKENS = 2048  # the schema's answer: forty short blocks (text up to doc_parse.SCHEMA_TEXT characters)
THINKING_ROOM = 2048  # as Find's: a thinking model reasons before its answer

TEXTS = texts({
    "document.caption": ("page {number}", "第 {number} 页"),
    "document.opened": ("**{name}**: {count} {noun}, the first {size}{more}.",
                        "**{name}**：共 {count} {noun}，第一页为 {size}{more}。"),
    "document.opened_more": ("; the strip shows the first {shown}", "；页面条只显示前 {shown} 页"),
    "document.page_one": ("page", "页"),
    "document.page_many": ("pages", "页"),
    "document.read": ("The model read {noun} {pages} of {count}", "模型阅读了共 {count} 页中的第 {pages} {noun}"),
    "document.read_dropped": (": the {asked} pages asked for do not fit the context, so {sent} evenly spread were "
                              "sent, each at the smallest legible size",
                              "：所问的 {asked} 页放不进上下文，因此均匀选取了 {sent} 页发送，"
                              "每页都用仍可辨认的最小尺寸"),
    "document.read_end": (".", "。"),
    "document.parsed": ("Page {page}: {count} {noun}, {how}.", "第 {page} 页：{count} {noun}版面块，{how}。"),
    "document.block_one": ("block", "个"),
    "document.block_many": ("blocks", "个"),
    "document.parsed_html": ("read from the model's QwenVL HTML", "读取自模型的 QwenVL HTML"),
    "document.parsed_schema": ("the free-form answer held no layout the page could read, so it was asked again held "
                               "to a JSON schema",
                               "自由格式的回答中没有可读取的版面，因此按 JSON schema 的约束重新提问"),
    "document.parsing": ("Parsing…", "正在解析…"),
})


def _out_file(suffix: str) -> Path:
    """A new file name in :data:`OUT_DIR`, whose files older than :data:`OUT_KEEP_S` are pruned first."""
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

    def describe(self, lang: str = "en") -> str:
        shown, count = len(self.strip), self.info.page_count
        w, h = self.info.sizes[0]
        size = f"{w / 72 * 25.4:.0f} x {h / 72 * 25.4:.0f} mm"
        more = say("document.opened_more", lang, shown=shown) if shown < count else ""
        noun = say("document.page_one" if count == 1 else "document.page_many", lang)
        return say("document.opened", lang, name=self.info.name, count=count, noun=noun, size=size, more=more)


def _open(path: str, lang: str = "en", cancelled=None) -> Opened:
    # a page bomb among the strip's pages is left out of it, the others shown; asked about, it gets its sentence
    info, thumbs, left_out = pdf_pages.read_strip(path, cancelled=cancelled)
    if not thumbs and left_out:  # not one page can be drawn: the document is refused with the first one's reason
        raise left_out[0]
    return Opened(path, info, [(_saved(image), say("document.caption", lang, number=number))
                               for number, image in thumbs])


async def open_document(engines: Engines, path: str | None, lang: str = "en") -> Opened:
    """Check and open an uploaded PDF and draw its strip (captions in ``lang``). Raises :class:`UserFacingError`
    with the sentence."""
    if not path:
        raise pdf_pages.DocumentError("pdf_missing")
    return await engines.run_blocking(_open, str(path), lang, cancellable=True)


def _page_messages(path: str, plan: doc_budget.PagePlan, question: str, cancelled=None) -> list[dict]:
    """The user's message: each page labelled "Page n:" before its image, then the question. Each page is sent at
    exactly the size the plan counted (``doc_budget.fit_page``), which the server's processor keeps."""
    info, drawn = pdf_pages.read_pdf(path, plan.sent, plan.max_pixels, cancelled=cancelled)
    parts: list[dict] = []
    for number, image in drawn:
        width, height = info.sizes[number - 1]
        page = doc_budget.fit_page(image, width, height, plan.max_pixels)
        parts.append({"type": "text", "text": f"Page {number}:"})
        parts.append({"type": "image_url", "image_url": {"url": to_data_url(page)}})
    parts.append({"type": "text", "text": question})
    return [{"role": "user", "content": parts}]


@dataclass(frozen=True)
class PagesUsed:
    """Which pages the model reads (before the answer streams)."""

    plan: doc_budget.PagePlan
    count: int

    def describe(self, lang: str = "en") -> str:
        """What the person is told: which pages the model read, and why not all those asked for."""
        sent = self.plan.sent
        pages = ", ".join(str(p) for p in sent) if len(sent) <= 12 else (
            ", ".join(str(p) for p in sent[:10]) + f", … {sent[-1]}")
        noun = say("document.page_one" if len(sent) == 1 else "document.page_many", lang)
        line = say("document.read", lang, noun=noun, pages=pages, count=self.count)
        if self.plan.dropped:
            line += say("document.read_dropped", lang, asked=len(self.plan.asked), sent=len(sent))
        return line + say("document.read_end", lang)


def _plan(pages_spec, info: pdf_pages.PdfInfo, budget: int) -> doc_budget.PagePlan:
    return doc_budget.plan_pages(doc_budget.parse_pages(pages_spec, info.page_count), info.sizes, budget)


async def ask_document(engines: Engines, path: str | None, question, pages_spec, params: GenerationParams
                       ) -> AsyncGenerator[PagesUsed | str | Thinking | Progress | AnswerStats, None]:
    """Answer a question about some pages of a PDF: first the :class:`PagesUsed`, then the answer's items as
    ``Engines.stream_chat`` yields them. Raises :class:`UserFacingError` with the sentence."""
    if not path:
        raise pdf_pages.DocumentError("pdf_missing")
    question = clean_text(question or "").strip() or DEFAULT_QUESTION
    info, _ = await engines.run_blocking(pdf_pages.read_pdf, str(path), (), cancellable=True)
    params = params.clamped(engines.max_model_len)
    budget = doc_budget.page_budget(engines.max_model_len, params.max_tokens)
    plan = await engines.run_blocking(_plan, pages_spec, info, budget)  # pure work, off the event loop all the same
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

    def describe(self, lang: str = "en") -> str:
        how = say("document.parsed_schema" if self.held_to_schema else "document.parsed_html", lang)
        noun = say("document.block_one" if len(self.blocks) == 1 else "document.block_many", lang)
        return say("document.parsed", lang, page=self.page, count=len(self.blocks), noun=noun, how=how)


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
    max_pixels = doc_budget.PAGE_MAX_TOKENS * doc_budget.PATCH_FACTOR * doc_budget.PATCH_FACTOR
    _, drawn = pdf_pages.read_pdf(path, pages, max_pixels, cancelled=cancelled)
    width, height = info.sizes[pages[0] - 1]
    image = doc_budget.fit_page(drawn[0][1], width, height, max_pixels)  # sent as counted: the server keeps it
    return pages[0], image, doc_budget.page_tokens(width, height, max_pixels)


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
