"""The Video tab: a conversation about one clip. The first question reads it and shows the frames the model will
see (each with the time the model is told for it) and their token count; follow-ups reuse those frames. Times in
answers, and the moments "Find moments" asks for, are chips that move the player there."""

from __future__ import annotations

import asyncio
import html
from contextlib import aclosing
from pathlib import Path

import gradio as gr

from ..engines import Engines, VideoSampling
from ..engines.client import request_kwargs
from ..engines.video_via_server import video_messages
from ..errors import MESSAGES, UserFacingError
from ..inputs import conversation_file
from ..inputs.conversation import assistant_turn, clean_text, user_turn
from ..inputs.video_times import moments_prompt, moments_schema, parse_moments
from ..outputs.seek import moments_html
from . import kept, request_view
from .common import closed_with_its_run, params_from, tell, video_slots
from .image_find import THINKING_ROOM
from .video_run import (
    DEFAULT_QUESTION,
    PIXEL_CHOICES,
    STAGE_TEXT,
    Answered,
    Partial,
    Reasoning,
    Shown,
    Status,
    VideoChat,
    conversation_html,
    frames_caption,
    gallery_items,
    moments_note,
    run_video,
    sampling_from,
)

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
MOMENTS_MAX_TOKENS = 512  # twelve moments with short labels


def build_video_tab(engines: Engines, gen_inputs: list, browser: gr.BrowserState) -> kept.OnLoad:
    # this visitor's VideoChat: the clip's frames (about 2 MB of JPEG) and the turns so far; freed after state_ttl
    # without a change, as when the tab closes (the browser's copy restores it at the next visit)
    chat = gr.State(None, time_to_live=engines.settings.state_ttl)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            video = gr.Video(label="Video", sources=["upload"], elem_id="video-input", height=300)
            question = gr.Textbox(value=DEFAULT_QUESTION, label="Question (follow-ups ask about the same frames)",
                                  lines=2, elem_id="video-question")
            with gr.Row():
                ask = gr.Button("Ask", variant="primary", elem_id="video-ask")
                stop = gr.Button("Stop", variant="stop", elem_id="video-stop")
                clear = gr.Button("New conversation", elem_id="video-clear")
            with gr.Row():
                phrase = gr.Textbox(show_label=False, placeholder="Find moments of… (e.g. the man opens the door)",
                                    scale=3, elem_id="video-find")
                find = gr.Button("Find moments", scale=1, elem_id="video-find-btn")
            with gr.Accordion("Frame sampling (for a new conversation)", open=False):
                with gr.Row():
                    fps = gr.Slider(0.25, 8, 2, step=0.25, label="Frames per second")
                    max_frames = gr.Slider(2, 256, 64, step=2, label="Max frames")
                with gr.Row():
                    quality = gr.Dropdown(list(PIXEL_CHOICES), value="360p", label="Max frame size")
                    start = gr.Number(0, label="Start (s)", minimum=0)
                    end = gr.Number(0, label="End (s, 0 = to the end)", minimum=0)
            clip = ASSETS / "example.mp4"
            if clip.is_file():
                gr.Examples([[str(clip), DEFAULT_QUESTION]], inputs=[video, question], label="Example clip")
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="video-status")
            frames = gr.Gallery(label="Frames the model will see", columns=8, height=220, elem_id="video-frames",
                                interactive=False, object_fit="contain")
            tokens = gr.Markdown(elem_id="video-tokens")
            conversation = gr.HTML(elem_id="video-conversation", label="Conversation about the video")
            moments = gr.HTML(elem_id="video-moments")
            stats = gr.Markdown(elem_id="video-stats")
            python, curl = request_view.request_accordion("video")
            download, upload, note = kept.conversation_files_row("video")

    # --- register listeners ---------------------------------------------------------------------------------
    def document(current: VideoChat) -> dict:
        history = [turn for (q, a), t in zip(current.turns, current.thoughts or ("",) * len(current.turns))
                   for turn in (user_turn(q), assistant_turn(a, t))]
        return conversation_file.export("video", history, model=engines.model_name, clip=current.clip)

    async def kept_updates(current: VideoChat | None) -> dict:
        """The browser's copy, the file to download and the note, for the conversation as it is now."""
        if current is None or not current.turns:
            return {browser: kept.EMPTY, download: gr.update(value=None, interactive=False), note: ""}
        try:
            doc = await engines.run_blocking(document, current)
            keep, said = kept.to_keep(doc, "video")
            path = await engines.run_blocking(kept.download_file, doc, "video")
        except OSError:  # a full disk: the page keeps what it shows
            return {}
        return {browser: keep, download: gr.update(value=path, interactive=True), note: said or ""}

    async def answer_end(current: VideoChat, question_text: str, earlier, gen) -> dict:
        """After an answer: its request (the server's form of it, which the worker path equals: the same frames,
        timing and prompt), and the conversation kept."""
        params = params_from(*gen).clamped(engines.settings.video_max_tokens)
        messages, media_io_kwargs = await engines.run_blocking(video_messages, current.clip, question_text, earlier)
        request = request_kwargs(engines.model_name, messages, params, media_io_kwargs=media_io_kwargs)
        py, sh = await engines.run_blocking(request_view.views, request)
        return {python: py, curl: sh, **await kept_updates(current)}

    def shown(current: VideoChat | None) -> dict:
        """The tab showing a conversation (loaded from the browser or a file) or none."""
        if current is None:
            return {chat: None, frames: None, tokens: "", conversation: "", moments: "", stats: "", status: "",
                    python: "", curl: ""}
        plan = current.clip.plan
        budget = engines.video_budget(engines.settings.video_max_tokens)
        return {chat: current, frames: gallery_items(current.clip.images(), plan), moments: "", stats: "",
                tokens: frames_caption(plan, engines.max_model_len, budget), python: "", curl: "",
                status: "Loaded: ask a follow-up about these frames.",
                conversation: conversation_html(current.turns, frame_times=plan.times, duration=current.duration,
                                                thoughts=current.thoughts)}

    def from_loaded(loaded) -> VideoChat | None:
        if loaded is None or loaded.clip is None:
            return None
        thoughts = tuple(t.get("reasoning", "") for t in loaded.history[1::2])
        return VideoChat("", loaded.clip, loaded.video_turns, thoughts)

    async def ask_about(video_path, text, current, sampling: VideoSampling, gen, json_schema=None, on_turn=None):
        """The updates of one question; the conversation grows by the turn when ``on_turn`` is None."""
        same = current is not None and (not video_path or current.video == str(video_path))
        source = current.clip if same else video_path
        turns = current.turns if same else ()
        times = current.clip.plan.times if same else None
        duration = current.duration if same else None
        thoughts = current.thoughts if same else ()
        shown = clean_text(text).strip() or DEFAULT_QUESTION
        counting = False  # the status shows a token count while no text has come
        thinking = ""
        async with aclosing(run_video(engines, source, shown, sampling, params_from(*gen), turns,
                                      json_schema)) as updates:
            async for update in updates:
                match update:
                    case Shown(shown_frames, caption, clip, plan):
                        current = VideoChat(str(video_path), clip)
                        times, duration = plan.times, current.duration
                        yield {frames: gallery_items(shown_frames, plan), tokens: caption, chat: current}
                    case Status(message):
                        counting = message.startswith(STAGE_TEXT["generating"])
                        yield {status: html.escape(message)}
                    case Reasoning(so_far):
                        thinking = so_far
                        if not on_turn:
                            yield {conversation: conversation_html(turns, shown, "", times, duration, thoughts,
                                                                   thinking)}
                    case Partial(so_far):
                        changes = {} if on_turn else {conversation: conversation_html(turns, shown, so_far, times,
                                                                                       duration, thoughts, thinking)}
                        if counting:  # text again: the count would go stale
                            changes[status], counting = STAGE_TEXT["generating"], False
                        if changes:
                            yield changes
                    case Answered(answer, summary, reasoning):  # (the question's ``text`` is not shadowed)
                        if on_turn:
                            yield {status: "Done.", stats: html.escape(summary), **on_turn(current, answer)}
                            return
                        asked_after = current.turns
                        current = current.add(shown, answer, reasoning)
                        yield {status: "Done.", chat: current, stats: html.escape(summary), question: "",
                               conversation: conversation_html(current.turns, frame_times=times, duration=duration,
                                                               thoughts=current.thoughts)}
                        try:  # after the answer is on the page: its request and the copies kept
                            yield await answer_end(current, shown, asked_after, gen)
                        except (UserFacingError, OSError):
                            pass  # (a full disk, an engine gone: the answer is there, nothing more to keep)

    @closed_with_its_run
    async def describe(video_path, text, current, fps_v, max_frames_v, quality_v, start_v, end_v, *gen):
        if not video_path and current is None:  # before anything is cleared: the conversation stays as it is
            tell(MESSAGES["missing"])
            return
        if current is not None and video_path and current.video != str(video_path):  # another video: start over
            current = None
        if current is None:  # a new conversation: nothing of the last one stays on screen
            yield {status: "Reading the video…", stats: "", frames: None, tokens: "", conversation: "", moments: "",
                   chat: None}
        else:
            yield {status: STAGE_TEXT["encoding"], stats: ""}
        try:
            sampling = sampling_from(fps_v, max_frames_v, quality_v, start_v, end_v)
            async with aclosing(ask_about(video_path, text, current, sampling, gen)) as updates:
                async for update in updates:
                    yield update
        except UserFacingError as exc:
            tell(exc)
            yield {status: "⚠️ " + html.escape(str(exc))}

    @closed_with_its_run
    async def find_moments(video_path, text, current, fps_v, max_frames_v, quality_v, start_v, end_v, *gen):
        wanted = " ".join(clean_text(text).split())
        if not wanted:
            tell(MESSAGES["moments_phrase"])
            return
        if not video_path and current is None:
            tell(MESSAGES["missing"])
            return
        if current is not None and video_path and current.video != str(video_path):
            current = None
        yield {status: "Looking for the moments…", moments: "", stats: ""}

        def show(chat_now, answer):  # the moments are not a turn of the conversation
            found = parse_moments(answer, chat_now.duration or None)
            return {moments: moments_note(wanted, len(found)) + moments_html(found, chat_now.clip.plan.times)}

        try:
            sampling = sampling_from(fps_v, max_frames_v, quality_v, start_v, end_v)
            if current is None:  # the schema needs the clip's length: read it first (a conversation starts)
                yield {status: STAGE_TEXT["reading"]}
                params = params_from(*gen).clamped(engines.settings.video_max_tokens)
                shown, clip = await engines.sample_video(str(video_path), sampling, params.max_tokens)
                current = VideoChat(str(video_path), clip)
                caption = frames_caption(clip.plan, engines.max_model_len, engines.video_budget(params.max_tokens))
                yield {chat: current, frames: gallery_items(shown, clip.plan), tokens: caption,
                       conversation: ""}
            gen = list(gen)
            gen[3] = MOMENTS_MAX_TOKENS  # max new tokens: the schema's twelve short items fit
            if engines.reasoning_parser:  # a thinking model reasons first: room for that too
                gen[3] += THINKING_ROOM
            async with aclosing(ask_about(video_path, moments_prompt(wanted), current, sampling, gen,
                                          moments_schema(current.duration), on_turn=show)) as updates:
                async for update in updates:
                    yield update
        except UserFacingError as exc:
            tell(exc)
            yield {status: "⚠️ " + html.escape(str(exc))}

    limit = video_slots(engines.settings)
    buttons = [ask, find, question, phrase]
    runs = ((ask.click, describe, question), (question.submit, describe, question), (find.click, find_moments, phrase),
            (phrase.submit, find_moments, phrase))
    events = []
    for trigger, handler, text in runs:
        # One question at a time about a conversation: a second one started beside it would begin from the same
        # turns, and one of the two turns would be lost. Unlocked after its end, its failure, Stop or a new
        # conversation (a cancelled event's .then runs).
        locked = trigger(lambda: [gr.update(interactive=False)] * 4, None, buttons, queue=False,
                         api_visibility="private")
        ev = locked.then(handler, [video, text, chat, fps, max_frames, quality, start, end, *gen_inputs],
                         [status, frames, tokens, conversation, moments, stats, chat, question, python, curl,
                          browser, download, note],
                         concurrency_id="video", concurrency_limit=limit, api_visibility="private")
        ev.then(lambda: [gr.update(interactive=True)] * 4, None, buttons, queue=False, api_visibility="private")
        events.append(ev)
    stop.click(None, cancels=events, api_visibility="private")
    clear.click(lambda: {**shown(None), browser: kept.EMPTY, download: gr.update(value=None, interactive=False),
                         note: ""},
                outputs=[chat, frames, tokens, conversation, moments, stats, status, python, curl, browser, download,
                         note], cancels=events, queue=False, api_visibility="private")
    # (loading one also empties the player: a clip left there would start a new conversation at the next question)
    every = [chat, frames, tokens, conversation, moments, stats, status, python, curl, video]

    async def load_file(path):
        try:
            loaded = await engines.run_blocking(kept.import_file, path, "video")
            current = from_loaded(loaded)
            if current is None:
                raise conversation_file.ConversationFileError("import_no_video")
            view = await engines.run_blocking(shown, current)
        except UserFacingError as exc:
            tell(exc)
            return {}
        return {**view, video: None, **await kept_updates(current)}

    # A conversation's frames (up to 256) are decoded and checked like a video's: in the video group, so that many
    # loads at once wait their turn in Gradio's queue as videos do (issue 26).
    upload.upload(load_file, [upload], every + [browser, download, note], cancels=events, api_visibility="private",
                  concurrency_id="video", concurrency_limit=limit)
    # The page-load restore cannot wait in that queue (a visitor with nothing kept would wait for a video slot to
    # see the page): a kept conversation is decoded under a bound of its own, as many at once as video slots.
    restoring = asyncio.Semaphore(limit)

    async def come_back(saved):
        """The page (re)loaded: the conversation the browser kept, if any."""
        if not saved:
            return {**await engines.run_blocking(shown, None), note: ""}
        async with restoring:
            loaded, problem = await engines.run_blocking(kept.restore, saved, "video")
        current = from_loaded(loaded)
        view = await engines.run_blocking(shown, current)
        if current is None:
            return {**view, note: problem or ""}
        return {**view, video: None,
                download: gr.update(value=await engines.run_blocking(kept.download_file, saved, "video"),
                                    interactive=True)}

    return kept.OnLoad(come_back, [browser], every + [download, note])
    # Another clip starts a new conversation when it is asked about (describe and find_moments compare the file),
    # not on the player's change event: that reply, unqueued, could land after the question's own first updates
    # and wipe them (the Image tab's New conversation did so to an upload on CI's loaded machine).
