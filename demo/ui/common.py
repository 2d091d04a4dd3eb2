"""Helpers the tab builders share: generation settings in, user-facing errors out."""

from __future__ import annotations

import html

import gradio as gr

from ..chat_stream import AnswerStats, GenerationParams, Progress
from ..messages import MESSAGES, UserFacingError


def video_slots(settings) -> int:
    """Video answers (page and API) the app lets in at once: twice the worker's capacity, so that the next clips
    are read while the worker runs the first ones. The rest wait in Gradio's queue, which holds no thread and
    shows each visitor their place."""
    return 2 * settings.video_concurrency


def generation_accordion() -> list[gr.components.Component]:
    """Sliders for the sampling settings, Qwen3-VL-Instruct's recommended values as defaults."""
    d = GenerationParams()
    with gr.Accordion("Generation settings (all tabs)", open=False):
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, d.temperature, step=0.05, label="Temperature")
            top_p = gr.Slider(0.05, 1.0, d.top_p, step=0.05, label="Top-p")
            top_k = gr.Slider(-1, 100, d.top_k, step=1, label="Top-k (-1: off)")
            max_tokens = gr.Slider(16, 4096, d.max_tokens, step=16, label="Max new tokens")
            presence = gr.Slider(0.0, 2.0, d.presence_penalty, step=0.1, label="Presence penalty")
    return [temperature, top_p, top_k, max_tokens, presence]


def params_from(temperature, top_p, top_k, max_tokens, presence_penalty) -> GenerationParams:
    """The sliders' values (or an API caller's, which may be anything) as settings; ranges are clamped later."""
    try:
        return GenerationParams(float(temperature), float(top_p), int(float(top_k)), int(float(max_tokens)),
                                float(presence_penalty))
    except (TypeError, ValueError, OverflowError):
        raise gr.Error(html.escape(MESSAGES["bad_settings"]), print_exception=False) from None


def progress_markdown(progress: Progress) -> str:
    """The stats line while the answer makes tokens but no text yet."""
    return f"<span class='answer-progress'>generating · {progress.completion_tokens} tokens so far</span>"


def stats_markdown(stats: AnswerStats | None) -> str:
    return f"<span class='answer-stats'>{html.escape(stats.describe())}</span>" if stats else ""


def as_gradio_error(exc: UserFacingError) -> gr.Error:
    """A Gradio error with the sentence escaped (it may quote a filename or an engine message); for the API."""
    return gr.Error(html.escape(str(exc)), print_exception=False)


def tell(sentence: str | Exception) -> None:
    """Show a problem to the person as a toast, without marking the page's components as failed.

    Raising ``gr.Error`` from a page handler would paint "Error" over every output component; a warning
    leaves the page as it was and usable. Needs a queued event (Gradio drops toasts of unqueued ones).
    """
    gr.Warning(html.escape(str(sentence)), title="Sorry")
