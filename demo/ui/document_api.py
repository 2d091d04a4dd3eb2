"""The API's document endpoints (issue 29): ``/describe_document`` (a question about a PDF's pages, streamed) and
``/parse_document`` (one page's layout blocks as JSON, and the page with their boxes drawn). They run the same
checks and the same code as the Document tab (``demo/ui/document_run.py``); their components are hidden."""

from __future__ import annotations

from contextlib import aclosing

import gradio as gr

from ..engines.client import AnswerStats, Progress
from ..engines.engines import Engines
from ..errors import UserFacingError
from ..outputs import doc_parse
from .common import as_gradio_error, closed_with_its_run, describe_stats, params_from
from .document_run import DEFAULT_QUESTION, PagesUsed, ask_document, parse_page
from .texts import request_language


def register(engines: Engines, gen: list) -> None:
    """Add the endpoints. ``gen``: the generation settings' hidden inputs (build_api's)."""
    with gr.Column(visible=False):
        pdf = gr.File(label="pdf", type="filepath")  # checked by content in the handler
        question = gr.Textbox(DEFAULT_QUESTION, label="question")
        pages = gr.Textbox("", label="pages")  # "" the whole document, "2", "2-5", "1, 4, 9-12"
        page = gr.Textbox("1", label="page")
        stats, answer = gr.Textbox(label="stats"), gr.Textbox(label="answer")
        blocks = gr.JSON(label="blocks")
        picture = gr.Image(label="page", type="filepath", format="png")
        trigger = gr.Button()

    @closed_with_its_run
    async def describe_document(pdf, question, pages, temperature, top_p, top_k, max_tokens, presence_penalty,
                                thinking):
        """Answer a question about a PDF's pages ("" for the whole document, "2", "2-5"); streams (stats, answer),
        the stats starting with the pages the model read (fewer than asked when they do not fit the context)."""
        params = params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking)
        text, note, lang = "", "", request_language()  # English unless the request asks for another language
        try:
            async with aclosing(ask_document(engines, pdf, question, pages, params)) as items:
                async for item in items:
                    if isinstance(item, PagesUsed):
                        note = item.describe(lang)
                        yield note, text
                    elif isinstance(item, str):
                        text += item
                        yield note, text
                    elif isinstance(item, Progress):  # (its yield lets Gradio end an abandoned run)
                        yield note, text
                    elif isinstance(item, AnswerStats):
                        yield f"{note} {describe_stats(item, lang)}", text
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None

    @closed_with_its_run
    async def parse_document(pdf, page):
        """Parse one page (1-based) into layout blocks; returns the list of {"category", "bbox_2d": [0-1000
        coordinates], "text"} (a table's "rows" too) and the page with the blocks' boxes drawn, numbered."""
        try:
            result = await parse_page(engines, pdf, page)
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None
        yield doc_parse.as_json(result.blocks), result.drawn

    trigger.click(describe_document, [pdf, question, pages, *gen], [stats, answer], api_name="describe_document",
                  concurrency_id="server")
    trigger.click(parse_document, [pdf, page], [blocks, picture], api_name="parse_document",
                  concurrency_id="server")
