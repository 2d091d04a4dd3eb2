"""Helpers the tab builders share: generation settings in, user-facing errors out."""

from __future__ import annotations

import asyncio
import functools
import html
from contextlib import aclosing

import gradio as gr

from ..engines.client import AnswerStats, Progress
from ..engines.model_card import ModelCard
from ..engines.params import GenerationParams
from ..errors import MESSAGES, UserFacingError


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
    with gr.Accordion("Generation settings (all tabs)", open=False):
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, d.temperature, step=0.05, label="Temperature")
            top_p = gr.Slider(0.05, 1.0, d.top_p, step=0.05, label="Top-p")
            top_k = gr.Slider(-1, 100, d.top_k, step=1, label="Top-k (-1: off)")
            max_tokens = gr.Slider(16, 4096, d.max_tokens, step=16, label="Max new tokens")
            presence = gr.Slider(0.0, 2.0, d.presence_penalty, step=0.1, label="Presence penalty")
    controls = [temperature, top_p, top_k, max_tokens, presence]
    if card is not None and card.thinking == "switch":
        # outside the closed accordion: whether the model thinks first is a choice per question, seen at once
        controls.append(gr.Checkbox(True, label="Think first", elem_id="think-first",
                                    info=f"{card.family} reasons before it answers; off: it answers at once"))
    return controls


THINKING_WORDS = {"auto": None, "on": True, "off": False}  # the API's choices


def params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking=None) -> GenerationParams:
    """The sliders' values (or an API caller's, which may be anything) as settings; ranges are clamped later.
    ``thinking``: the page's box (True/False), the API's "auto"/"on"/"off", or None (the model's default)."""
    if isinstance(thinking, str):
        if thinking not in THINKING_WORDS:  # (Gradio's Radio refuses any other first)
            raise gr.Error(MESSAGES["bad_settings"], print_exception=False)
        thinking = THINKING_WORDS[thinking]
    try:
        return GenerationParams(float(temperature), float(top_p), int(float(top_k)), int(float(max_tokens)),
                                float(presence_penalty), thinking=None if thinking is None else bool(thinking))
    except (TypeError, ValueError, OverflowError):
        raise gr.Error(MESSAGES["bad_settings"], print_exception=False) from None


def progress_markdown(progress: Progress) -> str:
    """The stats line while the answer makes tokens but no text yet."""
    return f"<span class='answer-progress'>generating · {progress.completion_tokens} tokens so far</span>"


def stats_markdown(stats: AnswerStats | None) -> str:
    return f"<span class='answer-stats'>{html.escape(stats.describe())}</span>" if stats else ""


def as_gradio_error(exc: UserFacingError) -> gr.Error:
    """A Gradio error with the sentence as it is, for API callers (``gradio_client``, raw HTTP): they get text,
    not HTML, so it is not escaped here. The page's own toasts escape it where they render it (:func:`tell`)."""
    return gr.Error(str(exc), print_exception=False)


def tell(sentence: str | Exception) -> None:
    """Show a problem to the person as a toast, without marking the page's components as failed.

    Raising ``gr.Error`` from a page handler would paint "Error" over every output component; a warning
    leaves the page as it was and usable. Needs a queued event (Gradio drops toasts of unqueued ones).
    """
    gr.Warning(html.escape(str(sentence)), title="Sorry")
