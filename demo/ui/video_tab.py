"""The Video tab: upload, sampling controls, the frames the model will see and their token count, then the answer."""

from __future__ import annotations

import html
import math
from contextlib import aclosing
from pathlib import Path

import gradio as gr

from ..inputs.conversation import clean_text
from ..engines import Engines, VideoSampling
from ..engines.client import finite_or
from ..errors import UserFacingError, VideoError
from .common import closed_with_its_run, params_from, tell, video_slots
from .local_files import local_only

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
DEFAULT_QUESTION = "Describe this video. And guess what is the man going to do?"
PIXEL_CHOICES = {"240p": 426 * 240, "360p": 640 * 360, "480p": 854 * 480, "720p": 1280 * 720}
STAGE_TEXT = {"reading": "Reading and sampling frames…", "encoding": "Encoding frames…",
              "generating": "Generating the answer…"}


def frames_caption(plan, max_model_len: int, budget: int) -> str:
    return (f"**{plan.nframes} frames** at {plan.width}×{plan.height} ({plan.sample_fps:.2f} per second of video) "
            f"→ **{plan.visual_tokens} visual tokens** of the {max_model_len}-token context "
            f"(at most {budget} for frames)")


def sampling_from(fps, max_frames, quality, start, end) -> VideoSampling:
    """The controls' values, held to the sliders' ranges (API callers can send anything, JSON's NaN and Infinity
    included): the rule of /chat's settings. A real number is clamped, NaN is the default, an infinite count or
    anything that is not a number is refused with a sentence (:class:`VideoError` "bad_video_settings")."""
    try:
        fps = min(8.0, max(0.25, finite_or(2.0 if fps is None else fps, 2.0)))
        max_frames = min(256, max(2, int(float(64 if max_frames is None else max_frames))))
        start = finite_or(start or 0, 0.0)
        end = finite_or(end or 0, 0.0)
    except (TypeError, ValueError, OverflowError):
        raise VideoError("bad_video_settings") from None
    return VideoSampling(fps=fps, max_frames=max_frames, max_pixels=PIXEL_CHOICES.get(quality, PIXEL_CHOICES["360p"]),
                         start=start if 0 < start < math.inf else 0.0, end=end if 0 < end < math.inf else None)


async def run_video(engines: Engines, video, question, sampling: VideoSampling, params):
    """Yield ("frames", frames, caption), ("status", text), ("partial", text so far), last ("answer", text, stats).

    Raises :class:`UserFacingError` with the sentence when the video or the engines fail.
    """
    if not video:
        raise VideoError("missing")
    question = clean_text(question).strip() or DEFAULT_QUESTION
    params = params.clamped(engines.settings.video_max_tokens)
    max_tokens = params.max_tokens
    sampling_params = {"temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k,
                       "presence_penalty": params.presence_penalty}
    partial = ""
    async with aclosing(engines.answer_video(str(video), question, sampling, max_tokens, sampling_params)) as evs:
        async for ev in evs:
            if ev.kind == "frames":
                caption = frames_caption(ev.plan, engines.max_model_len, engines.video_budget(max_tokens))
                yield "frames", ev.frames, caption
            elif ev.kind == "delta":
                partial += ev.detail
                yield "partial", partial
            elif ev.kind == "queued":
                yield "status", f"Waiting for the video worker: number {ev.detail} in line…"
            elif ev.kind == "progress":
                yield "status", f"{STAGE_TEXT['generating']} {ev.detail} tokens so far"
            elif ev.kind == "stage":
                yield "status", STAGE_TEXT.get(ev.detail, str(ev.detail))
            elif ev.kind == "done":
                a = ev.answer
                stats = (f"{a.prompt_tokens} prompt + {a.completion_tokens} completion tokens · "
                         f"prepared in {a.prepare_s:.2f} s · generated in {a.generate_s:.2f} s "
                         f"({a.completion_tokens / a.generate_s if a.generate_s else 0:.1f} tokens/s) · "
                         f"finish: {a.finish_reason}")
                yield "answer", a.text, stats


def build_video_tab(engines: Engines, gen_inputs: list) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            video = local_only(gr.Video(label="Video", sources=["upload"], elem_id="video-input", height=300))
            question = gr.Textbox(value=DEFAULT_QUESTION, label="Question", lines=2, elem_id="video-question")
            with gr.Accordion("Frame sampling", open=False):
                with gr.Row():
                    fps = gr.Slider(0.25, 8, 2, step=0.25, label="Frames per second")
                    max_frames = gr.Slider(2, 256, 64, step=2, label="Max frames")
                with gr.Row():
                    quality = gr.Dropdown(list(PIXEL_CHOICES), value="360p", label="Max frame size")
                    start = gr.Number(0, label="Start (s)", minimum=0)
                    end = gr.Number(0, label="End (s, 0 = to the end)", minimum=0)
            with gr.Row():
                ask = gr.Button("Describe", variant="primary", elem_id="video-ask")
                stop = gr.Button("Stop", variant="stop", elem_id="video-stop")
            clip = ASSETS / "example.mp4"
            if clip.is_file():
                gr.Examples([[str(clip), DEFAULT_QUESTION]], inputs=[video, question], label="Example clip")
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="video-status")
            frames = gr.Gallery(label="Frames the model will see", columns=8, height=220, elem_id="video-frames",
                                interactive=False, object_fit="contain")
            tokens = gr.Markdown(elem_id="video-tokens")
            answer = gr.Textbox(label="Answer", lines=8, elem_id="video-answer", buttons=["copy"])
            stats = gr.Markdown(elem_id="video-stats")

    # --- register listeners ---------------------------------------------------------------------------------
    @closed_with_its_run
    async def describe(video_path, text, fps_v, max_frames_v, quality_v, start_v, end_v, *gen):
        yield {status: "Reading the video…", frames: None, tokens: "", answer: "", stats: ""}
        counting = False  # the status shows a token count while no text has come
        try:
            sampling = sampling_from(fps_v, max_frames_v, quality_v, start_v, end_v)
            async with aclosing(run_video(engines, video_path, text, sampling, params_from(*gen))) as updates:
                async for kind, *rest in updates:
                    if kind == "frames":
                        yield {frames: rest[0], tokens: rest[1]}
                    elif kind == "status":
                        counting = rest[0].startswith(STAGE_TEXT["generating"])
                        yield {status: html.escape(rest[0])}
                    elif kind == "partial":
                        update = {answer: rest[0]}
                        if counting:  # text again: the count would go stale
                            update[status], counting = STAGE_TEXT["generating"], False
                        yield update
                    else:
                        yield {status: "Done.", answer: rest[0], stats: html.escape(rest[1])}
        except UserFacingError as exc:
            tell(exc)
            yield {status: "⚠️ " + html.escape(str(exc))}

    ev = ask.click(describe, [video, question, fps, max_frames, quality, start, end, *gen_inputs],
                   [status, frames, tokens, answer, stats], concurrency_id="video", concurrency_limit=video_slots(engines.settings),
                   api_visibility="private")
    stop.click(None, cancels=[ev], api_visibility="private")
