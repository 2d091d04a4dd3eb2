"""Helpers the tab builders share: generation settings in, user-facing errors out."""

from __future__ import annotations

import asyncio
import functools
import html
from contextlib import aclosing

import gradio as gr

from ..engines.client import AnswerStats, Progress, Thinking
from ..engines.model_card import ModelCard
from ..engines.params import GenerationParams
from ..errors import MESSAGES, UserFacingError, message
from ..inputs.conversation import to_openai
from .texts import request_language, say, t, texts

TEXTS = texts({
    "gen.accordion": ("Generation settings (all tabs)", "生成设置（所有标签页通用）"),
    "gen.temperature": ("Temperature", "温度"),
    "gen.top_p": ("Top-p", "Top-p"),
    "gen.top_k": ("Top-k (-1: off)", "Top-k（-1：关闭）"),
    "gen.max_tokens": ("Max new tokens", "最多生成 token 数"),
    "gen.presence": ("Presence penalty", "存在惩罚"),
    "gen.think": ("Think first", "先思考"),
    "gen.think_info": ("The model reasons before it answers; off: it answers at once",
                       "模型先推理再作答；关闭后直接回答"),
    "answer.progress": ("generating · {n} tokens so far", "生成中 · 已生成 {n} 个 token"),
    "answer.stats": ("first token {ttft} · {rate} tokens/s · {prompt} prompt + {completion} completion tokens"
                     "{thought}{cached} · finish: {finish}",
                     "首个 token {ttft} · {rate} token/s · 输入 {prompt} + 输出 {completion} 个 token"
                     "{thought}{cached} · 结束原因：{finish}"),
    "answer.thought": (" ({n} thinking)", "（其中思考 {n} 个）"),
    "answer.cached": (" · {n} prompt tokens cached", " · 输入中 {n} 个 token 命中缓存"),
    "toast.title": ("Sorry", "抱歉"),
})


def closed_with_its_run(handler):
    """For an async-generator handler: when the task that runs it ends while the handler waits at a ``yield``,
    close the handler's stream (and with it the HTTP stream to vLLM, which aborts the request).

    Gradio runs a streaming event in one task and closes a cancelled run's generator only if it finds it among
    its stored iterators; a cancel that lands between the handler's yield and that store leaves the generator
    suspended, its answer running in vLLM, until a garbage collection. Seen: a cancelled answer's stream stayed
    open until its page was closed 300 s later (a debug log in Gradio's /cancel route and in the handler).
    """
    @functools.wraps(handler)
    async def run(*args, **kwargs):
        stream = handler(*args, **kwargs)
        task = asyncio.current_task()

        def on_task_end(_task):
            if stream.ag_frame is not None and not stream.ag_running:  # left suspended at a yield
                asyncio.get_running_loop().create_task(stream.aclose())

        if task is not None:
            task.add_done_callback(on_task_end)
        try:
            async with aclosing(stream):
                async for update in stream:
                    yield update
        finally:
            if task is not None:
                task.remove_done_callback(on_task_end)

    return run


def video_slots(settings) -> int:
    """Video answers (page and API) the app lets in at once: twice the worker's capacity, so that the next clips
    are read while the worker runs the first ones. The rest wait in Gradio's queue, which holds no thread and
    shows each visitor their place."""
    return 2 * settings.video_concurrency


def generation_accordion(card: ModelCard | None = None) -> list[gr.components.Component]:
    """Sliders for the sampling settings, the model's recommended values as defaults (its generation_config.json;
    Qwen3-VL-Instruct's without one), and for a model with Qwen3.5's switch a "Think first" box, on as the model
    is by default. Every tab's answers read them."""
    d = GenerationParams.recommended(card.sampling if card else None)
    with gr.Accordion(t("gen.accordion"), open=False):
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, d.temperature, step=0.05, label=t("gen.temperature"))
            top_p = gr.Slider(0.05, 1.0, d.top_p, step=0.05, label=t("gen.top_p"))
            top_k = gr.Slider(-1, 100, d.top_k, step=1, label=t("gen.top_k"))
            max_tokens = gr.Slider(16, 4096, d.max_tokens, step=16, label=t("gen.max_tokens"))
            presence = gr.Slider(0.0, 2.0, d.presence_penalty, step=0.1, label=t("gen.presence"))
    controls = [temperature, top_p, top_k, max_tokens, presence]
    if card is not None and card.thinking == "switch":
        # outside the closed accordion: whether the model thinks first is a choice per question, seen at once
        controls.append(gr.Checkbox(True, label=t("gen.think"), elem_id="think-first", info=t("gen.think_info")))
    return controls


THINKING_WORDS = {"auto": None, "on": True, "off": False}  # the API's choices


def params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking=None) -> GenerationParams:
    """The sliders' values (or an API caller's, which may be anything) as settings; ranges are clamped later.
    ``thinking``: the page's box (True/False), the API's "auto"/"on"/"off", or None (the model's default)."""
    if isinstance(thinking, str):
        if thinking not in THINKING_WORDS:  # (Gradio's Radio refuses any other first)
            raise error("bad_settings")
        thinking = THINKING_WORDS[thinking]
    try:
        return GenerationParams(float(temperature), float(top_p), int(float(top_k)), int(float(max_tokens)),
                                float(presence_penalty), thinking=None if thinking is None else bool(thinking))
    except (TypeError, ValueError, OverflowError):
        raise error("bad_settings") from None


def progress_markdown(progress: Progress) -> str:
    """The stats line while the answer makes tokens but no text yet, in the visitor's language."""
    return f"<span class='answer-progress'>{say('answer.progress', n=progress.completion_tokens)}</span>"


def describe_stats(stats: AnswerStats, lang: str = "en") -> str:
    """``AnswerStats.describe()`` in ``lang``: the English line is exactly that one (tests and benches parse its
    "N prompt + M completion tokens"); the Chinese one carries the same numbers."""
    if lang == "en":
        return stats.describe()
    ttft = f"{stats.ttft_s:.2f} s" if stats.ttft_s is not None else "-"
    thought = say("answer.thought", lang, n=stats.reasoning_tokens) if stats.reasoning_tokens else ""
    cached = say("answer.cached", lang, n=stats.cached_tokens) if stats.cached_tokens else ""
    return say("answer.stats", lang, ttft=ttft, rate=f"{stats.tokens_per_s:.1f}", prompt=stats.prompt_tokens,
               completion=stats.completion_tokens, thought=thought, cached=cached, finish=stats.finish_reason)


def stats_markdown(stats: AnswerStats | None) -> str:
    """An answer's stats line on the page, in the visitor's language."""
    if not stats:
        return ""
    return f"<span class='answer-stats'>{html.escape(describe_stats(stats, request_language()))}</span>"


def as_gradio_error(exc: UserFacingError) -> gr.Error:
    """A Gradio error with the sentence as it is, for API callers (``gradio_client``, raw HTTP): they get text,
    not HTML, so it is not escaped here. The page's own toasts escape it where they render it (:func:`tell`).
    In the caller's language: the page's cookie, else its Accept-Language, else English (demo/ui/texts.py)."""
    return gr.Error(exc.sentence(request_language()), print_exception=False)


def error(code: str, **fields) -> gr.Error:
    """``gr.Error`` with the catalogue's sentence ``code`` (demo/errors.py) in the caller's language."""
    return as_gradio_error(UserFacingError(code, **fields))


# English sentences without fields -> their codes: a call that passes ``MESSAGES[code]`` still comes out translated
_CODE_OF = {words: code for code, words in MESSAGES.items() if "{" not in words}


def localized(problem: str | Exception, lang: str) -> str:
    """What :func:`tell` shows for ``problem``: a UserFacingError, a catalogue code, or a catalogue sentence, in
    ``lang``; anything else as it is."""
    if isinstance(problem, UserFacingError):
        return problem.sentence(lang)
    words = str(problem)
    code = words if words in MESSAGES else _CODE_OF.get(words)
    return message(code, lang) if code is not None and "{" not in MESSAGES[code] else words


def tell(problem: str | Exception) -> None:
    """Show a problem to the person as a toast, in their language, without marking the page's components as failed.
    ``problem``: a UserFacingError, a catalogue code (``tell("empty")``), or a sentence.

    Raising ``gr.Error`` from a page handler would paint "Error" over every output component; a warning
    leaves the page as it was and usable. Needs a queued event (Gradio drops toasts of unqueued ones).
    """
    lang = request_language()
    gr.Warning(html.escape(localized(problem, lang)), title=say("toast.title", lang))


async def answer_updates(engines, history: list, system_prompt: str, params: GenerationParams):
    """An API answer's updates, (stats, answer, reasoning) as they grow: a thinking model's reasoning apart from its
    answer (/chat, /describe_image, /ask_region)."""
    answer = reasoning = ""
    try:
        messages = await engines.run_blocking(to_openai, history, system_prompt, cancellable=True)
        async with aclosing(engines.stream_chat(messages, params)) as items:
            async for item in items:
                if isinstance(item, str):
                    answer += item
                elif isinstance(item, Thinking):
                    reasoning += item.text
                elif not isinstance(item, Progress):  # (a Progress's yield lets Gradio end an abandoned run)
                    yield item.describe(), answer, reasoning
                    continue
                yield "", answer, reasoning
    except UserFacingError as exc:
        raise as_gradio_error(exc) from None
