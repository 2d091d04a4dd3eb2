"""A question about a video, for the Video tab and the API: settings checked, the answer's progress as updates,
and the conversation about one clip that follow-ups reuse (its sampled frames, never the file again)."""

from __future__ import annotations

import html
import math
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace

from ..engines.client import cached_part
from ..engines.engines import Engines
from ..engines.params import GenerationParams, VideoSampling, finite_or
from ..engines.video_events import Delta, Done, Frames, Progress, Queued, Stage, Thinking
from ..errors import VideoError
from ..inputs.conversation import clean_text
from ..inputs.video_clip import VideoClip
from ..inputs.video_frames import MAX_FRAMES, MIN_FRAMES, PIXEL_CHOICES, FramePlan
from ..outputs.seek import seek_html
from .texts import request_language, say, texts

DEFAULT_QUESTION = "Describe this video. And guess what is the man going to do?"
# What the page and the API say while a video is answered, in the visitor's language (say(): the request's)
TEXTS = texts({
    "video.stage.reading": ("Reading and sampling frames…", "正在读取视频并抽帧……"),
    "video.stage.encoding": ("Encoding frames…", "正在编码视频帧……"),
    "video.stage.generating": ("Generating the answer…", "正在生成回答……"),
    "video.so_far": ("{stage} {tokens} tokens so far", "{stage}已生成 {tokens} 个 token"),
    "video.queued": ("Waiting for the video worker: number {place} in line…",
                     "正在等待视频工作进程：排在第 {place} 位……"),
    "video.caption": ("**{n} frames** at {width}×{height} ({fps} per second of video) → **{tokens} visual tokens** of "
                      "the {context}-token context (at most {budget} for frames); under each frame, the time the model "
                      "is told for it",
                      "**{n} 帧**，每帧 {width}×{height}（视频每秒 {fps} 帧）→ 占 {context} token 上下文中的 "
                      "**{tokens} 个视觉 token**（帧最多可用 {budget} 个）；每帧下方是模型被告知的该帧时间"),
    "video.stats": ("{prompt} prompt + {completion} completion tokens{cached} · prepared in {prepare} s · generated in "
                    "{generate} s ({rate} tokens/s) · finish: {finish}",
                    "输入 {prompt} + 输出 {completion} 个 token{cached} · 准备用时 {prepare} s · 生成用时 {generate} s"
                    "（{rate} token/s）· 结束原因：{finish}"),
    "video.thinking": ("Thinking", "思考过程"),
    "video.no_text": ("(an answer without text)", "（没有文字的回答）"),
    "video.moments": ("Moments of “{what}”: click one to go there", "“{what}”出现的时刻：点击即可跳转"),
    "video.no_moment": ("No moment of “{what}” was found.", "没有找到“{what}”出现的时刻。"),
})
STAGE_TEXT = {name: TEXTS[f"video.stage.{name}"][0] for name in ("reading", "encoding", "generating")}  # English


def stage_text(name: str) -> str:
    """A stage of the answer (STAGE_TEXT's names) in the visitor's language."""
    return say(f"video.stage.{name}") if name in STAGE_TEXT else name


@dataclass(frozen=True)
class Shown:
    """The file was read: the frames to show, their caption, the clip the conversation keeps."""

    frames: list
    caption: str
    clip: VideoClip
    plan: FramePlan


@dataclass(frozen=True)
class Status:
    text: str  # plain text: the page escapes it


@dataclass(frozen=True)
class Reasoning:
    text: str  # a thinking model's reasoning so far


@dataclass(frozen=True)
class Partial:
    text: str  # the answer so far


@dataclass(frozen=True)
class Answered:
    text: str
    stats: str
    reasoning: str


VideoUpdate = Shown | Status | Reasoning | Partial | Answered


@dataclass(frozen=True)
class VideoChat:
    """One visitor's conversation about one video (in ``gr.State``): the frames the model saw, and the turns."""

    video: str  # the file it was sampled from: another file starts a new conversation ("" when loaded from a file)
    clip: VideoClip
    turns: tuple[tuple[str, str], ...] = ()
    thoughts: tuple[str, ...] = ()  # a thinking model's reasoning, per turn ("" for none); never sent back

    def add(self, question: str, answer: str, reasoning: str = "") -> VideoChat:
        thoughts = self.thoughts + ("",) * (len(self.turns) - len(self.thoughts)) + (reasoning,)
        return replace(self, turns=self.turns + ((question, answer),), thoughts=thoughts)

    @property
    def duration(self) -> float:
        plan = self.clip.plan
        return plan.source_frames / plan.source_fps if plan.source_fps > 0 else 0.0


def frames_caption(plan, max_model_len: int, budget: int) -> str:
    return say("video.caption", n=plan.nframes, width=plan.width, height=plan.height, fps=f"{plan.sample_fps:.2f}",
               tokens=plan.visual_tokens, context=max_model_len, budget=budget)


def gallery_items(frames, plan) -> list[tuple]:
    """The frames with, under each, the time label the model gets for it (both frames of a pair share one)."""
    return [(frame, f"{t:.1f} s") for frame, t in zip(frames, plan.times)]


def sampling_from(fps, max_frames, quality, start, end) -> VideoSampling:
    """The controls' values, held to the sliders' ranges (API callers can send anything, JSON's NaN and Infinity
    included): the rule of /chat's settings. A real number is clamped, NaN is the default, an infinite count or
    anything that is not a number is refused with a sentence (:class:`VideoError` "bad_video_settings")."""
    try:
        fps = min(8.0, max(0.25, finite_or(2.0 if fps is None else fps, 2.0)))
        max_frames = min(MAX_FRAMES, max(MIN_FRAMES, int(float(64 if max_frames is None else max_frames))))
        start = finite_or(start or 0, 0.0)
        end = finite_or(end or 0, 0.0)
    except (TypeError, ValueError, OverflowError):
        raise VideoError("bad_video_settings") from None
    return VideoSampling(fps=fps, max_frames=max_frames, max_pixels=PIXEL_CHOICES.get(quality, PIXEL_CHOICES["360p"]),
                         start=start if 0 < start < math.inf else 0.0, end=end if 0 < end < math.inf else None)


def answer_stats(a) -> str:
    """A video answer's stats line in the visitor's language (the English one: "N prompt + M completion tokens")."""
    lang = request_language()
    cached = cached_part(a.cached_tokens) if lang == "en" else (
        say("answer.cached", lang, n=a.cached_tokens) if a.cached_tokens else "")
    return say("video.stats", lang, prompt=a.prompt_tokens, completion=a.completion_tokens, cached=cached,
               prepare=f"{a.prepare_s:.2f}", generate=f"{a.generate_s:.2f}",
               rate=f"{a.completion_tokens / a.generate_s if a.generate_s else 0:.1f}", finish=a.finish_reason)


async def run_video(engines: Engines, source: str | VideoClip | None, question, sampling: VideoSampling,
                    params: GenerationParams, history=(), json_schema: dict | None = None
                    ) -> AsyncGenerator[VideoUpdate, None]:
    """Yield :class:`Shown` when the file is read, a :class:`Status` at each step, a thinking model's
    :class:`Reasoning` so far, the :class:`Partial` answer so far, last the :class:`Answered` answer. ``source`` is
    a file or an earlier turn's clip (not read again).

    Raises :class:`UserFacingError` with the sentence when the video or the engines fail.
    """
    if not source:
        raise VideoError("missing")
    question = clean_text(question).strip() or DEFAULT_QUESTION
    params = params.clamped(engines.settings.video_max_tokens)
    if json_schema is not None:
        params = params.greedy()
    max_tokens = params.max_tokens
    partial = reasoning = ""
    source = source if isinstance(source, VideoClip) else str(source)
    async with aclosing(engines.answer_video(source, question, sampling, params,
                                             history=history, json_schema=json_schema)) as evs:
        async for ev in evs:
            match ev:
                case Frames(frames, plan, clip):
                    yield Shown(frames, frames_caption(plan, engines.max_model_len, engines.video_budget(max_tokens)),
                                clip, plan)
                case Delta(text):
                    partial += text
                    yield Partial(partial)
                case Thinking(text):
                    reasoning += text
                    yield Reasoning(reasoning)
                case Queued(place):
                    yield Status(say("video.queued", place=place))
                case Progress(tokens):
                    yield Status(say("video.so_far", stage=stage_text("generating"), tokens=tokens))
                case Stage(name):
                    yield Status(stage_text(name))
                case Done(answer):
                    yield Answered(answer.text, answer_stats(answer), answer.reasoning)


def conversation_html(turns, asking: str | None = None, partial: str = "", frame_times=None,
                      duration: float | None = None, thoughts=(), thinking: str = "") -> str:
    """The conversation as safe HTML: every text escaped; the times in answers become chips that seek the player
    (the page's script, assets/seek.js, makes them work). A thinking model's reasoning is a collapsible block
    above its answer, open while it thinks."""
    rows = []
    pending = [(asking, partial)] if asking is not None else []
    thoughts = list(thoughts) + [""] * (len(turns) - len(thoughts)) + ([thinking] if pending else [])
    for i, (question, answer) in enumerate(list(turns) + pending):
        rows.append(f"<div class='video-turn user'>{html.escape(question)}</div>")
        if thoughts[i]:
            opened = " open" if i >= len(turns) and not answer else ""
            rows.append(f"<details class='video-thinking'{opened}><summary>{say('video.thinking')}</summary>"
                        f"<div>{html.escape(thoughts[i])}</div></details>")
        if answer.strip():
            body = seek_html(answer, frame_times, duration)
        else:  # still coming, or an answer of no text (a random-weight model makes such answers)
            body = "<span class='no-text'>" + ("…" if i >= len(turns) else say("video.no_text")) + "</span>"
        rows.append(f"<div class='video-turn bot'>{body}</div>")
    return "<div class='video-conversation'>" + "".join(rows) + "</div>" if rows else ""


def moments_note(phrase: str, count: int) -> str:
    what = html.escape(phrase)
    return f"<div class='moments-title'>{say('video.moments' if count else 'video.no_moment', what=what)}</div>"


__all__ = ["DEFAULT_QUESTION", "STAGE_TEXT", "Answered", "Partial", "Reasoning", "Shown", "Status",
           "VideoChat", "VideoUpdate", "answer_stats",
           "conversation_html", "frames_caption", "gallery_items", "moments_note", "run_video", "sampling_from"]
