"""What the Video tab does: a question or a "Find moments" streamed onto the page, the conversation kept in the
browser and the Download button, and the page for a conversation started afresh, loaded from a file or restored.

The page's state changes are plain functions of the tab's :class:`VideoView` and the visitor's :class:`VideoChat`
(tests/unit/test_video_tab.py runs them without a browser or an engine); the handlers, which take the engines and
the view as arguments, run them around :func:`run_video`'s updates.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from functools import partial
from typing import cast

import gradio as gr

from ..engines.client import request_kwargs
from ..engines.engines import Engines
from ..engines.params import GenerationParams
from ..engines.video_via_server import video_messages
from ..errors import UserFacingError
from ..inputs import conversation_file
from ..inputs.conversation import assistant_turn, clean_text, user_turn
from ..inputs.video_clip import VideoClip
from ..inputs.video_times import moments_prompt, moments_schema, parse_moments
from ..outputs.seek import moments_html
from . import kept, request_view
from .common import closed_with_its_run, localized, params_from, tell
from .image_find import THINKING_ROOM
from .texts import request_language, say, texts
from .video_run import (
    DEFAULT_QUESTION,
    Answered,
    Partial,
    Reasoning,
    Shown,
    Status,
    VideoChat,
    VideoUpdate,
    conversation_html,
    frames_caption,
    gallery_items,
    moments_note,
    run_video,
    sampling_from,
    stage_text,
)

TEXTS = texts({
    "video.reading": ("Reading the video…", "正在读取视频……"),
    "video.loaded": ("Loaded: ask a follow-up about these frames.", "已加载：可以就这些帧继续提问。"),
    "video.looking": ("Looking for the moments…", "正在查找片段……"),
    "video.done": ("Done.", "完成。"),
})

MOMENTS_MAX_TOKENS = 512  # twelve moments with short labels


@dataclass(frozen=True)
class VideoView:
    """The Video tab's components that its handlers read or change."""

    chat: gr.State  # this visitor's VideoChat, None before a conversation
    video: gr.Video
    question: gr.Textbox
    ask: gr.Button
    phrase: gr.Textbox  # what "Find moments" looks for
    find: gr.Button
    status: gr.Markdown
    frames: gr.Gallery
    tokens: gr.Markdown  # the frames' caption: their count, size and visual tokens
    conversation: gr.HTML
    moments: gr.HTML
    stats: gr.Markdown
    python: gr.Code
    curl: gr.Code
    browser: gr.BrowserState
    download: gr.DownloadButton
    note: gr.Markdown  # what the page says about keeping (too large for the browser, a file that did not load)

    @property
    def asking_inputs(self) -> list:
        """What a question locks until its answer ends: the buttons and text boxes that start one."""
        return [self.ask, self.find, self.question, self.phrase]


# --- the page's state changes ----------------------------------------------------------------------------------


def locked(view: VideoView) -> dict:
    """While a question runs: nothing can start a second one into the same conversation (both would begin from
    the same turns, and one of the two turns would be lost)."""
    return {component: gr.update(interactive=False) for component in view.asking_inputs}


def unlocked(view: VideoView) -> dict:
    """After a question's end, its failure, Stop or a new conversation: the inputs come back."""
    return {component: gr.update(interactive=True) for component in view.asking_inputs}


def continued(current: VideoChat | None, video_path) -> VideoChat | None:
    """The conversation a question about ``video_path`` continues: none when another clip is in the player (the
    player's own change event does not start over: see demo/ui/video_tab.py)."""
    if current is not None and video_path and current.video != str(video_path):
        return None
    return current


def starting(view: VideoView, current: VideoChat | None) -> dict:
    """A question's first updates: a new conversation leaves nothing of the last one on screen; a follow-up keeps
    its frames and turns."""
    if current is None:
        return {view.status: say("video.reading"), view.stats: "", view.frames: None, view.tokens: "",
                view.conversation: "", view.moments: "", view.chat: None}
    return {view.status: stage_text("encoding"), view.stats: ""}


def failed(view: VideoView, exc: Exception) -> dict:
    """The status after a question failed with ``exc``'s sentence (the toast says it too)."""
    return {view.status: "⚠️ " + html.escape(localized(exc, request_language()))}


def forgotten(view: VideoView) -> dict:
    """Nothing kept: the browser's copy emptied, nothing to download, no note."""
    return {view.browser: kept.EMPTY, view.download: gr.update(value=None, interactive=False), view.note: ""}


def empty_page(view: VideoView) -> dict:
    """The tab with no conversation."""
    return {view.chat: None, view.frames: None, view.tokens: "", view.conversation: "", view.moments: "",
            view.stats: "", view.status: "", view.python: "", view.curl: ""}


def cleared(view: VideoView) -> dict:
    """"New conversation": the page empty, and nothing kept of the last one."""
    return {**empty_page(view), **forgotten(view)}


def conversation_page(view: VideoView, current: VideoChat | None, max_model_len: int, budget: int) -> dict:
    """The tab showing a conversation (loaded from the browser or a file), or none. Decodes its frames: run it
    off the event loop."""
    if current is None:
        return empty_page(view)
    plan = current.clip.plan
    return {view.chat: current, view.frames: gallery_items(current.clip.images(), plan), view.moments: "",
            view.stats: "", view.tokens: frames_caption(plan, max_model_len, budget), view.python: "",
            view.curl: "", view.status: say("video.loaded"),
            view.conversation: conversation_html(current.turns, frame_times=plan.times, duration=current.duration,
                                                 thoughts=current.thoughts)}


def from_loaded(loaded: conversation_file.Loaded | None) -> VideoChat | None:
    """The conversation of an opened document: none when it holds no clip (a Chat or Image tab's document)."""
    if loaded is None or loaded.clip is None:
        return None
    thoughts = tuple(t.get("reasoning", "") for t in loaded.history[1::2])
    return VideoChat("", loaded.clip, loaded.video_turns, thoughts)


def document(current: VideoChat, model: str) -> dict:
    """The conversation as the document the browser keeps and the Download button gives."""
    history = [turn for (q, a), t in zip(current.turns, current.thoughts or ("",) * len(current.turns))
               for turn in (user_turn(q), assistant_turn(a, t))]
    return conversation_file.export("video", history, model=model, clip=current.clip)


@dataclass(frozen=True)
class Asking:
    """A question on its way: the conversation it adds to (None until a new one's file is read), and what the
    page shows of the conversation while the answer comes."""

    video: str  # the file asked about: a conversation it starts keeps its name
    question: str  # as shown and sent
    chat: VideoChat | None = None
    turns: tuple[tuple[str, str], ...] = ()  # those before the question
    thoughts: tuple[str, ...] = ()
    times: list[float] | None = None  # the frames' times, which the answer's chips point at
    duration: float | None = None
    thinking: str = ""  # a thinking model's reasoning so far
    counting: bool = False  # the status shows a token count while no text has come


def asking(video_path, text: str, current: VideoChat | None) -> Asking:
    """A question about ``video_path`` (none: the conversation's own clip), which continues ``current`` when that
    is about the same file."""
    question = clean_text(text).strip() or DEFAULT_QUESTION
    if current is None or (video_path and current.video != str(video_path)):
        return Asking(str(video_path), question)
    return Asking(str(video_path), question, current, current.turns, current.thoughts, current.clip.plan.times,
                  current.duration)


def clip_read(view: VideoView, video: str, frames, caption: str, clip: VideoClip, plan) -> tuple[VideoChat, dict]:
    """A file read: the conversation it starts, and its frames with their caption on the page."""
    chat = VideoChat(video, clip)
    return chat, {view.frames: gallery_items(frames, plan), view.tokens: caption, view.chat: chat}


def streamed(view: VideoView, now: Asking, update: VideoUpdate, redraw: bool) -> tuple[Asking, dict]:
    """What one update of the answer's progress (not its end) does to the question and to the page; ``redraw``:
    the conversation shows the answer as it grows ("Find moments" does not: its answer is no turn)."""
    match update:
        case Shown(frames, caption, clip, plan):
            chat, changes = clip_read(view, now.video, frames, caption, clip, plan)
            return replace(now, chat=chat, times=plan.times, duration=chat.duration), changes
        case Status(message):
            return (replace(now, counting=message.startswith(stage_text("generating"))),
                    {view.status: html.escape(message)})
        case Reasoning(so_far):
            now = replace(now, thinking=so_far)
            return now, ({view.conversation: drawing(now, "")} if redraw else {})
        case Partial(so_far):
            changes = {view.conversation: drawing(now, so_far)} if redraw else {}
            if now.counting:  # text again: the count would go stale
                changes[view.status] = stage_text("generating")
                now = replace(now, counting=False)
            return now, changes
    return now, {}


def drawing(now: Asking, so_far: str) -> str:
    """The conversation with the answer so far under the question."""
    return conversation_html(now.turns, now.question, so_far, now.times, now.duration, now.thoughts, now.thinking)


def answered(view: VideoView, now: Asking, answer: str, reasoning: str, summary: str) -> tuple[VideoChat, dict]:
    """The answer came: the conversation with its turn, and the page showing it (the question box emptied)."""
    chat = cast(VideoChat, now.chat).add(now.question, answer, reasoning)  # (a file's answer comes after Shown)
    return chat, {view.status: say("video.done"), view.chat: chat, view.stats: html.escape(summary), view.question: "",
                  view.conversation: conversation_html(chat.turns, frame_times=now.times, duration=now.duration,
                                                       thoughts=chat.thoughts)}


def moments_found(view: VideoView, wanted: str, chat: VideoChat, answer: str) -> dict:
    """The moments of ``wanted`` an answer names, as chips (they are not a turn of the conversation)."""
    found = parse_moments(answer, chat.duration or None)
    return {view.moments: moments_note(wanted, len(found)) + moments_html(found, chat.clip.plan.times)}


def moments_params(engines: Engines, params: GenerationParams) -> GenerationParams:
    """The settings of a "Find moments" answer: room for the schema's twelve short items, and for a thinking
    model's reasoning before them (none when the model can skip it: Engines.for_a_schema)."""
    params = engines.for_a_schema(params)
    return replace(params, max_tokens=MOMENTS_MAX_TOKENS + (THINKING_ROOM if engines.thinks(params) else 0))


# --- the handlers -----------------------------------------------------------------------------------------------


async def kept_updates(engines: Engines, view: VideoView, current: VideoChat | None) -> dict:
    """The browser's copy, the file to download and the note, for the conversation as it is now."""
    if current is None or not current.turns:
        return forgotten(view)
    try:
        doc = await engines.run_blocking(document, current, engines.model_name)
        keep, said = kept.to_keep(doc, "video")
        path = await engines.run_blocking(kept.download_file, doc, "video")
    except OSError:  # a full disk: the page keeps what it shows
        return {}
    return {view.browser: keep, view.download: gr.update(value=path, interactive=True), view.note: said or ""}


async def answer_end(engines: Engines, view: VideoView, current: VideoChat, question_text: str, earlier,
                     params: GenerationParams) -> dict:
    """After an answer: its request (the server's form of it, which the worker path equals: the same frames,
    timing and prompt), and the conversation kept."""
    params = params.clamped(engines.settings.video_max_tokens)
    messages, media_io_kwargs = await engines.run_blocking(video_messages, current.clip, question_text, earlier)
    request = request_kwargs(engines.model_name, messages, params, media_io_kwargs=media_io_kwargs)
    py, sh = await engines.run_blocking(request_view.views, request)
    return {view.python: py, view.curl: sh, **await kept_updates(engines, view, current)}


async def ask_about(engines: Engines, view: VideoView, video_path, text: str, current: VideoChat | None, sampling,
                    params: GenerationParams, json_schema: dict | None = None,
                    on_turn: Callable[[VideoChat, str], dict] | None = None):
    """The updates of one question; the conversation grows by the turn when ``on_turn`` is None."""
    now = asking(video_path, text, current)
    source = now.chat.clip if now.chat is not None else video_path
    async with aclosing(run_video(engines, source, now.question, sampling, params, now.turns,
                                  json_schema)) as updates:
        async for update in updates:
            if not isinstance(update, Answered):
                now, changes = streamed(view, now, update, redraw=on_turn is None)
                if changes:
                    yield changes
                continue
            if on_turn is not None:
                yield {view.status: say("video.done"), view.stats: html.escape(update.stats),
                       **on_turn(cast(VideoChat, now.chat), update.text)}
                return
            asked_after = cast(VideoChat, now.chat).turns
            chat, changes = answered(view, now, update.text, update.reasoning, update.stats)
            yield changes
            try:  # after the answer is on the page: its request and the copies kept
                yield await answer_end(engines, view, chat, now.question, asked_after, params)
            except (UserFacingError, OSError):
                pass  # (a full disk, an engine gone: the answer is there, nothing more to keep)


@closed_with_its_run
async def describe(engines: Engines, view: VideoView, video_path, text, current, fps_v, max_frames_v, quality_v,
                   start_v, end_v, *gen):
    """Ask (or Enter in the question): the answer streamed into the conversation about the clip."""
    if not video_path and current is None:  # before anything is cleared: the conversation stays as it is
        tell("missing")
        return
    current = continued(current, video_path)
    yield starting(view, current)
    try:
        sampling = sampling_from(fps_v, max_frames_v, quality_v, start_v, end_v)
        async with aclosing(ask_about(engines, view, video_path, text, current, sampling,
                                      params_from(*gen))) as updates:
            async for update in updates:
                yield update
    except UserFacingError as exc:
        tell(exc)
        yield failed(view, exc)


@closed_with_its_run
async def find_moments(engines: Engines, view: VideoView, video_path, text, current, fps_v, max_frames_v,
                       quality_v, start_v, end_v, *gen):
    """"Find moments": the times of what the phrase describes, as chips under the conversation."""
    wanted = " ".join(clean_text(text).split())
    if not wanted:
        tell("moments_phrase")
        return
    if not video_path and current is None:
        tell("missing")
        return
    current = continued(current, video_path)
    yield {view.status: say("video.looking"), view.moments: "", view.stats: ""}
    try:
        sampling = sampling_from(fps_v, max_frames_v, quality_v, start_v, end_v)
        if current is None:  # the schema needs the clip's length: read it first (a conversation starts)
            yield {view.status: stage_text("reading")}
            params = params_from(*gen).clamped(engines.settings.video_max_tokens)
            shown, clip = await engines.sample_video(str(video_path), sampling, params.max_tokens)
            caption = frames_caption(clip.plan, engines.max_model_len, engines.video_budget(params.max_tokens))
            current, changes = clip_read(view, str(video_path), shown, caption, clip, clip.plan)
            yield {**changes, view.conversation: ""}
        async with aclosing(ask_about(engines, view, video_path, moments_prompt(wanted), current, sampling,
                                      moments_params(engines, params_from(*gen)),
                                      moments_schema(current.duration),
                                      on_turn=partial(moments_found, view, wanted))
                            ) as updates:
            async for update in updates:
                yield update
    except UserFacingError as exc:
        tell(exc)
        yield failed(view, exc)


async def page_of(engines: Engines, view: VideoView, current: VideoChat | None) -> dict:
    """:func:`conversation_page` off the event loop (a conversation's frames are decoded)."""
    return await engines.run_blocking(conversation_page, view, current, engines.max_model_len,
                                      engines.video_budget(engines.settings.video_max_tokens))


async def load_file(engines: Engines, view: VideoView, path):
    """"Load conversation": a downloaded video conversation back on the page (its clip's frames, its turns); the
    player is emptied, since a clip left there would start a new conversation at the next question."""
    try:
        loaded = await engines.run_blocking(kept.import_file, path, "video")
        current = from_loaded(loaded)
        if current is None:
            raise conversation_file.ConversationFileError("import_no_video")
        shown = await page_of(engines, view, current)
    except UserFacingError as exc:
        tell(exc)
        return {}
    return {**shown, view.video: None, **await kept_updates(engines, view, current)}


async def come_back(engines: Engines, view: VideoView, restoring: asyncio.Semaphore, saved):
    """The page (re)loaded: the conversation the browser kept, if any (or why it could not be taken back).
    ``restoring`` bounds how many are decoded at once."""
    if not saved:
        return {**await page_of(engines, view, None), view.note: ""}
    async with restoring:
        loaded, problem = await engines.run_blocking(kept.restore, saved, "video")
    current = from_loaded(loaded)
    shown = await page_of(engines, view, current)
    if current is None:
        return {**shown, view.note: problem or ""}
    return {**shown, view.video: None,
            view.download: gr.update(value=await engines.run_blocking(kept.download_file, saved, "video"),
                                     interactive=True)}
