"""The Document tab (issue 29, item 2): a PDF, its strip of pages, a question about one page, a range or the whole
document (streamed, with its stats), and Parse: a page's layout read by Qwen3-VL, its boxes drawn on the page beside
the parsed text rendered safely. The work itself is ``demo/ui/document_run.py``'s, shared with the API."""

from __future__ import annotations

from contextlib import aclosing

import gradio as gr

from ..engines.client import AnswerStats, Progress
from ..engines.engines import Engines
from ..errors import UserFacingError
from ..inputs.conversation import answer_markdown
from ..outputs import doc_parse
from .common import closed_with_its_run, params_from, progress_markdown, stats_markdown, tell
from .document_run import DEFAULT_QUESTION, PagesUsed, ask_document, open_document, parse_page
from .texts import request_language, say, t, texts

TEXTS = texts({
    "document.file": ("PDF document", "PDF 文档"),
    "document.strip": ("Pages (click one to choose it)", "页面（点击选择）"),
    "document.scope": ("Ask about", "提问范围"),
    "document.scope_page": ("This page", "当前页"),
    "document.scope_range": ("Pages", "页码范围"),
    "document.scope_all": ("Whole document", "整个文档"),
    "document.page": ("Page", "页码"),
    "document.range": ("Pages (e.g. 3-7 or 1, 4, 9-12)", "页码（如 3-7 或 1, 4, 9-12）"),
    "document.question": ("Question", "问题"),
    "document.ask": ("Ask", "提问"),
    "document.stop": ("Stop", "停止"),
    "document.parse": ("Parse page", "解析页面"),
    "document.answer": ("Answer", "回答"),
    "document.parsed_image": ("The page with its layout boxes", "带版面框的页面"),
    "document.hint": ("Upload a PDF to see its pages. Ask about one page, a range or the whole document; Parse "
                      "reads the chosen page's layout.",
                      "上传 PDF 即可查看页面。可针对单页、页码范围或整个文档提问；“解析页面”读取所选页面的版面。"),
})


def pages_spec(scope: str, page, pages_text: str) -> str:
    """The pages a question is about, as ``doc_budget.parse_pages`` reads them."""
    if scope == "page":
        try:
            return str(int(float(page)))
        except (TypeError, ValueError, OverflowError):
            return "1"
    if scope == "range":
        return pages_text or ""
    return ""


def build_document_tab(engines: Engines, gen_inputs: list) -> None:
    doc = gr.State(None)  # the opened PDF's path (the upload, in Gradio's cache) and its page count
    gr.Markdown(t("document.hint"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            upload = gr.File(label=t("document.file"), file_types=[".pdf"], type="filepath", elem_id="doc-file")
            info = gr.Markdown(elem_id="doc-info")
            strip = gr.Gallery(label=t("document.strip"), columns=6, height=260, allow_preview=False,
                               interactive=False, elem_id="doc-strip", object_fit="contain")
            with gr.Row():
                scope = gr.Radio([(t("document.scope_page"), "page"), (t("document.scope_range"), "range"),
                                  (t("document.scope_all"), "all")], value="page", label=t("document.scope"),
                                 elem_id="doc-scope")
                page = gr.Number(1, label=t("document.page"), precision=0, minimum=1, elem_id="doc-page")
                pages_text = gr.Textbox("", label=t("document.range"), max_lines=1, elem_id="doc-range")
        with gr.Column(scale=3):
            question = gr.Textbox(DEFAULT_QUESTION, label=t("document.question"), max_lines=6,
                                  elem_id="doc-question")
            with gr.Row():
                ask = gr.Button(t("document.ask"), variant="primary", elem_id="doc-ask")
                parse = gr.Button(t("document.parse"), elem_id="doc-parse-btn")
                stop = gr.Button(t("document.stop"), variant="stop", elem_id="doc-stop")
            used = gr.Markdown(elem_id="doc-used")
            answer = gr.Markdown(label=t("document.answer"), elem_id="doc-answer", min_height=60)
            stats = gr.Markdown(elem_id="doc-stats")
    with gr.Row(equal_height=False, elem_id="doc-parse-row"):
        parsed_image = gr.Image(label=t("document.parsed_image"), type="filepath", interactive=False,
                                elem_id="doc-parse-image", format="png", buttons=["download"])
        with gr.Column():
            parse_note = gr.Markdown(elem_id="doc-parse-note")
            parsed_view = gr.HTML(elem_id="doc-parse-view")  # built by doc_parse.render_blocks: escaped throughout

    # --- register listeners ---------------------------------------------------------------------------------
    @closed_with_its_run
    async def opened(path, previous):
        # The drop area is emptied again at once, whether the file opened or not: the next file can be dropped
        # there, and the document in use is the one the line below it names (a refused file changes nothing).
        if not path:
            return
        yield {info: "…", upload: None}
        lang = request_language()
        try:
            document = await open_document(engines, path, lang)
        except UserFacingError as exc:
            tell(exc)
            yield {info: previous["line"] if previous else ""}
            return
        line = document.describe(lang)
        yield {doc: {"path": document.path, "pages": document.info.page_count, "line": line},
               strip: document.strip, info: line, page: gr.update(value=1, maximum=document.info.page_count),
               parsed_image: None, parsed_view: "", parse_note: "", answer: "", stats: "", used: ""}

    def chosen(data: gr.SelectData):  # a page of the strip: that page, alone
        return {page: data.index + 1, scope: "page"}

    @closed_with_its_run
    async def asked(document, text, scope_v, page_v, range_v, *gen):
        if not document:
            tell(UserFacingError("pdf_missing"))
            return
        yield {answer: "", stats: "", used: ""}
        text_so_far, lang = "", request_language()
        try:
            async with aclosing(ask_document(engines, document["path"], text, pages_spec(scope_v, page_v, range_v),
                                             params_from(*gen))) as items:
                async for item in items:
                    if isinstance(item, PagesUsed):
                        yield {used: item.describe(lang)}
                    elif isinstance(item, str):
                        text_so_far += item
                        yield {answer: answer_markdown(text_so_far), stats: ""}
                    elif isinstance(item, Progress):
                        yield {stats: progress_markdown(item)}
                    elif isinstance(item, AnswerStats):
                        yield {answer: answer_markdown(text_so_far), stats: stats_markdown(item)}
        except UserFacingError as exc:
            tell(exc)  # the question stays in its box

    @closed_with_its_run
    async def parsed(document, page_v):
        if not document:
            tell(UserFacingError("pdf_missing"))
            return
        lang = request_language()
        yield {parse_note: say("document.parsing", lang)}
        try:
            result = await parse_page(engines, document["path"], pages_spec("page", page_v, ""))
        except UserFacingError as exc:
            tell(exc)
            yield {parse_note: ""}
            return
        yield {parsed_image: result.drawn, parsed_view: doc_parse.render_blocks(result.blocks),
               parse_note: result.describe(lang) + (" " + stats_markdown(result.stats) if result.stats else "")}

    upload.upload(opened, [upload, doc], [doc, strip, info, page, parsed_image, parsed_view, parse_note, answer,
                                        stats, used, upload], api_visibility="private", trigger_mode="always_last")
    strip.select(chosen, None, [page, scope], queue=False, api_visibility="private")
    asks = [trigger(asked, [doc, question, scope, page, pages_text, *gen_inputs], [answer, stats, used],
                    concurrency_id="server", api_visibility="private") for trigger in (ask.click, question.submit)]
    parses = [parse.click(parsed, [doc, page], [parsed_image, parsed_view, parse_note], concurrency_id="server",
                          api_visibility="private")]
    stop.click(None, cancels=asks + parses, api_visibility="private")
