"""The Video tab: a conversation about one clip. The first question reads it and shows the frames the model will
see (each with the time the model is told for it) and their token count; follow-ups reuse those frames. Times in
answers, and the moments "Find moments" asks for, are chips that move the player there.

This module builds the tab's components and wires its events; what the events do is in
:mod:`demo.ui.video_answering`."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import gradio as gr

from ..engines.engines import Engines
from ..inputs.video_frames import MAX_FRAMES, MIN_FRAMES, PIXEL_CHOICES
from . import kept, request_view
from .common import video_slots
from .texts import t, texts
from .video_answering import VideoView, cleared, come_back, describe, find_moments, load_file, locked, unlocked
from .video_run import DEFAULT_QUESTION

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"

TEXTS = texts({
    "video.video": ("Video", "视频"),
    "video.question": ("Question (follow-ups ask about the same frames)", "问题（追问针对同一组帧）"),
    "video.ask": ("Ask", "提问"),
    "video.stop": ("Stop", "停止"),
    "video.new": ("New conversation", "新对话"),
    "video.find_hint": ("Find moments of… (e.g. the man opens the door)", "查找片段……（例如：男人打开了门）"),
    "video.find": ("Find moments", "查找片段"),
    "video.sampling": ("Frame sampling (for a new conversation)", "抽帧设置（对新对话生效）"),
    "video.fps": ("Frames per second", "每秒帧数"),
    "video.max_frames": ("Max frames", "最多帧数"),
    "video.quality": ("Max frame size", "最大帧尺寸"),
    "video.start": ("Start (s)", "开始（秒）"),
    "video.end": ("End (s, 0 = to the end)", "结束（秒，0 表示到结尾）"),
    "video.example": ("Example clip", "示例视频"),
    "video.frames": ("Frames the model will see", "模型将看到的帧"),
    "video.conversation": ("Conversation about the video", "关于这段视频的对话"),
})


def bound(fn, *args):
    """``fn`` with its first arguments given, under its own name: Gradio names a page event's endpoint after its
    function (a bare partial would be "partial"), and the page's endpoints keep the names they had."""
    handler = functools.partial(fn, *args)
    handler.__name__ = fn.__name__
    return handler


def build_video_tab(engines: Engines, gen_inputs: list, browser: gr.BrowserState) -> kept.OnLoad:
    # this visitor's VideoChat: the clip's frames (about 2 MB of JPEG) and the turns so far; freed after state_ttl
    # without a change, as when the tab closes (the browser's copy restores it at the next visit)
    chat = gr.State(None, time_to_live=engines.settings.state_ttl)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            video = gr.Video(label=t("video.video"), sources=["upload"], elem_id="video-input", height=300)
            question = gr.Textbox(value=DEFAULT_QUESTION, label=t("video.question"), lines=2, elem_id="video-question")
            with gr.Row():
                ask = gr.Button(t("video.ask"), variant="primary", elem_id="video-ask")
                stop = gr.Button(t("video.stop"), variant="stop", elem_id="video-stop")
                clear = gr.Button(t("video.new"), elem_id="video-clear")
            with gr.Row():
                phrase = gr.Textbox(show_label=False, placeholder=t("video.find_hint"), scale=3, elem_id="video-find")
                find = gr.Button(t("video.find"), scale=1, elem_id="video-find-btn")
            with gr.Accordion(t("video.sampling"), open=False):
                with gr.Row():
                    fps = gr.Slider(0.25, 8, 2, step=0.25, label=t("video.fps"))
                    max_frames = gr.Slider(MIN_FRAMES, MAX_FRAMES, 64, step=2, label=t("video.max_frames"))
                with gr.Row():
                    quality = gr.Dropdown(list(PIXEL_CHOICES), value="360p", label=t("video.quality"))
                    start = gr.Number(0, label=t("video.start"), minimum=0)
                    end = gr.Number(0, label=t("video.end"), minimum=0)
            clip = ASSETS / "example.mp4"
            if clip.is_file():
                gr.Examples([[str(clip), DEFAULT_QUESTION]], inputs=[video, question], label=t("video.example"))
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="video-status")
            frames = gr.Gallery(label=t("video.frames"), columns=8, height=220, elem_id="video-frames",
                                interactive=False, object_fit="contain")
            tokens = gr.Markdown(elem_id="video-tokens")
            conversation = gr.HTML(elem_id="video-conversation", label=t("video.conversation"))
            moments = gr.HTML(elem_id="video-moments")
            stats = gr.Markdown(elem_id="video-stats")
            python, curl = request_view.request_accordion("video")
            download, upload, note = kept.conversation_files_row("video")
    view = VideoView(chat, video, question, ask, phrase, find, status, frames, tokens, conversation, moments, stats,
                     python, curl, browser, download, note)

    # --- register listeners ---------------------------------------------------------------------------------
    # Another clip starts a new conversation when it is asked about (describe and find_moments compare the file),
    # not on the player's change event: that reply, unqueued, could land after the question's own first updates
    # and wipe them (the Image tab's New conversation did so to an upload on CI's loaded machine).
    limit = video_slots(engines.settings)
    buttons = view.asking_inputs
    asked, looked_for = bound(describe, engines, view), bound(find_moments, engines, view)
    runs = ((ask.click, asked, question), (question.submit, asked, question), (find.click, looked_for, phrase),
            (phrase.submit, looked_for, phrase))
    events = []
    for trigger, handler, text in runs:
        # One question at a time about a conversation: a second one started beside it would begin from the same
        # turns, and one of the two turns would be lost. Unlocked after its end, its failure, Stop or a new
        # conversation (a cancelled event's .then runs).
        lock = trigger(lambda: locked(view), None, buttons, queue=False, api_visibility="private")
        ev = lock.then(handler, [video, text, chat, fps, max_frames, quality, start, end, *gen_inputs],
                       [status, frames, tokens, conversation, moments, stats, chat, question, python, curl,
                        browser, download, note],
                       concurrency_id="video", concurrency_limit=limit, api_visibility="private")
        ev.then(lambda: unlocked(view), None, buttons, queue=False, api_visibility="private")
        events.append(ev)
    stop.click(None, cancels=events, api_visibility="private")
    clear.click(lambda: cleared(view),
                outputs=[chat, frames, tokens, conversation, moments, stats, status, python, curl, browser, download,
                         note], cancels=events, queue=False, api_visibility="private")
    # (loading one also empties the player: a clip left there would start a new conversation at the next question)
    every = [chat, frames, tokens, conversation, moments, stats, status, python, curl, video]
    # A conversation's frames (up to 256) are decoded and checked like a video's: in the video group, so that many
    # loads at once wait their turn in Gradio's queue as videos do (issue 26).
    upload.upload(bound(load_file, engines, view), [upload], every + [browser, download, note], cancels=events,
                  api_visibility="private", concurrency_id="video", concurrency_limit=limit)
    # The page-load restore cannot wait in that queue (a visitor with nothing kept would wait for a video slot to
    # see the page): a kept conversation is decoded under a bound of its own, as many at once as video slots.
    restoring = asyncio.Semaphore(limit)
    return kept.OnLoad(bound(come_back, engines, view, restoring), [browser], every + [download, note])
