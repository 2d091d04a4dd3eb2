"""The Live tab (issue 29, item 1): the camera streams, a frame every few seconds is kept in a short rolling window,
and "Ask" sends the window's frames, with the real times they were taken, as a video through the server; the answer
streams, and the frames the model saw are shown with their times.

Per visitor, only the window (:class:`demo.inputs.camera_clip.LiveWindow`, in ``gr.State``): at most
``camera_clip.MAX_FRAMES`` small JPEGs, those older than the window forgotten as new ones come. The frames the page
shows are data URLs in the page, not files in Gradio's cache: nothing of the camera is written to disk.

Screen sharing is not offered: Gradio's webcam input (6.31) opens cameras only (``getUserMedia``; its one
``getDisplayMedia`` call records the whole Gradio tab for its own screen recorder), and a screen source would take a
custom component or script of our own.
"""

from __future__ import annotations

import base64
import html
import time
from contextlib import aclosing
from functools import partial

import gradio as gr

from ..engines.engines import Engines
from ..engines.video_events import Delta, Done, Progress, Queued, Stage, Thinking
from ..errors import UserFacingError, VideoError
from ..inputs.camera_clip import LiveClip, LiveWindow, take
from ..inputs.conversation import clean_text
from .common import closed_with_its_run, params_from, tell
from .texts import request_language, say, t, texts
from .video_run import answer_stats

TEXTS = texts({
    "live.camera": ("Camera", "摄像头"),
    "live.hint": ("Press **Record** under the camera. A frame is kept every few seconds for a short window, and "
                  "nothing older: ask about what is happening now or in the last seconds. Screen sharing is not "
                  "offered here (Gradio's camera input opens cameras only).",
                  "点击摄像头下方的**录制**。每隔几秒保留一帧，只保留一个短窗口内的画面，更早的不留："
                  "可以问现在或最近几秒发生了什么。这里不提供屏幕共享（Gradio 的摄像头输入只能打开摄像头）。"),
    "live.interval": ("Seconds between kept frames", "保留帧的间隔（秒）"),
    "live.window": ("Window: seconds kept", "窗口：保留的秒数"),
    "live.question": ("Question about now or the last few seconds", "关于现在或最近几秒的问题"),
    "live.placeholder": ("What is happening right now?", "现在正在发生什么？"),
    "live.ask": ("Ask", "提问"),
    "live.stop": ("Stop", "停止"),
    "live.frames": ("Frames the model saw", "模型看到的画面"),
    "live.frames_note": ("Under each frame: the time the model is told (seconds from the first frame it got) · how "
                         "long before the question the frame was taken.",
                         "每帧下方：告诉模型的时间（从它收到的第一帧起的秒数）· 这一帧比提问早多少秒拍下。"),
    "live.no_frames": ("No frames yet: press Record under the camera.", "还没有画面：请点击摄像头下方的“录制”。"),
    "live.window_state": ("Frames in the window: {count} (one every {interval:.0f} s, the last {span:.0f} s); the "
                          "newest taken {newest:.0f} s after the camera started",
                          "窗口中有 {count} 帧（每 {interval:.0f} 秒一帧，最近 {span:.0f} 秒）；"
                          "最新一帧摄于摄像头开始后第 {newest:.0f} 秒"),
    "live.no_text": ("(an answer without text)", "（没有文字的回答）"),
    "live.sending": ("Sending {count} frames…", "正在发送 {count} 帧…"),
    "live.generating": ("Generating the answer…", "正在生成回答…"),
    "live.tokens": ("Generating the answer… {tokens} tokens so far", "正在生成回答… 已生成 {tokens} 个 token"),
    "live.done": ("Done.", "完成。"),
    "live.thinking": ("Thinking", "思考过程"),
})

INTERVAL = (1, 5, 2)  # seconds between kept frames: (least, most, default)
WINDOW = (4, 30, 10)  # seconds the window keeps: (least, most, default)
# The camera sends a frame this often and the handler keeps those due (a stream's rate is fixed when the page is
# built, the interval is each visitor's): the interval's least value.
STREAM_EVERY = INTERVAL[0]
# Camera streams served at once. Each holds one of Gradio's worker slots while it runs (the queue runs a stream as
# one long event), so they are bounded apart from the answers; after STREAM_TURN_S a stream ends and the browser
# starts it again at the back of the queue, so that more visitors than slots take turns.
LIVE_STREAMS = 8
STREAM_TURN_S = 120
# The browser's camera at a modest size: a frame is kept at most 640x360 anyway (camera_clip.STORED_PIXELS), and
# smaller frames are quicker to send every second.
CAMERA_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
# Stop ends the camera's stream as the camera's own Stop button does (Gradio then closes the stream event): that
# button is clicked unless it shows Record (its icon's title, which Gradio does not translate). Again a moment later:
# when a stream's turn ends (STREAM_TURN_S) the browser shows Record for an instant before it streams again.
STOP_CAMERA = """() => {
  const stop = () => {
    const button = document.querySelector("#live-camera .capture-button");
    if (button && !button.querySelector("[title='start recording']")) button.click();
  };
  stop();
  setTimeout(stop, 1500);
}"""


def _number(value, least: float, most: float, default: float) -> float:
    """A control's value held to its range (anything else is the default)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return min(most, max(least, value)) if value == value else default


def window_line(window: LiveWindow | None, interval: float, span: float) -> str:
    """The line under the camera: how many frames a question would send now."""
    recent = window.recent(time.monotonic(), span) if window is not None else ()
    if not recent:
        return say("live.no_frames")
    return say("live.window_state", count=len(recent), interval=interval, span=span, newest=recent[-1].t)


def on_frame(image, window: LiveWindow | None, interval, span):
    """The camera sent a frame (every STREAM_EVERY seconds while it streams): kept when due, the window trimmed.
    Cheap by design: no engine, and a frame that is not due is not even encoded."""
    interval = _number(interval, *INTERVAL)
    span = _number(span, *WINDOW)
    now = time.monotonic()
    if window is not None and image is not None and not window.due(now, interval):
        return gr.skip(), gr.skip()
    window = take(window, image, now, interval, span)
    return window, window_line(window, interval, span)


def frames_html(shown: LiveClip) -> str:
    """The frames the model saw, each with its caption, as images inside the page (data URLs: no file is written)."""
    figures = "".join(
        f"<figure class='live-frame'><img alt='' src='data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for jpeg, caption in zip(shown.clip.jpegs, shown.captions))
    return f"<div class='live-frames'>{figures}</div>"


def answer_html(question: str, answer: str, reasoning: str = "", done: bool = False) -> str:
    """The question and its answer so far, escaped; a thinking model's reasoning folded above the answer."""
    rows = [f"<div class='video-turn user'>{html.escape(question)}</div>"]
    if reasoning:
        opened = "" if answer or done else " open"
        rows.append(f"<details class='video-thinking'{opened}><summary>{html.escape(say('live.thinking'))}"
                    f"</summary><div>{html.escape(reasoning)}</div></details>")
    if answer.strip():
        body = html.escape(answer).replace("\n", "<br>")
    else:  # still coming, or an answer of no text (a random-weight model makes such answers)
        body = "<span class='no-text'>" + (html.escape(say("live.no_text")) if done else "…") + "</span>"
    rows.append(f"<div class='video-turn bot'>{body}</div>")
    return "<div class='video-conversation live-answer'>" + "".join(rows) + "</div>"


@closed_with_its_run
async def answer_live(engines: Engines, status, frames, answer, stats, window: LiveWindow | None, text, span,
                      *gen):
    """Ask: the window's recent frames sent as a video through the server (always: the clip is made here, not read
    from a file a worker could read), the answer streamed. An empty window is a sentence, and the page keeps what
    it showed."""
    asked = time.monotonic()
    span = _number(span, *WINDOW)
    question = clean_text(text or "").strip() or say("live.placeholder")
    try:
        if window is None or not window.recent(asked, span):
            raise VideoError("live_empty", seconds=span)
        params = params_from(*gen).clamped(engines.settings.video_max_tokens)
        shown = await engines.run_blocking(window.clip, asked, span, engines.video_budget(params.max_tokens))
    except UserFacingError as exc:
        tell(exc)
        return
    yield {frames: frames_html(shown), answer: answer_html(question, ""), stats: "",
           status: say("live.sending", count=shown.clip.plan.nframes)}
    partial_text = reasoning = ""
    try:
        async with aclosing(engines.answer_video(shown.clip, question, params=params, via_server=True)) as events:
            async for ev in events:
                match ev:
                    case Delta(piece):
                        partial_text += piece
                        yield {answer: answer_html(question, partial_text, reasoning)}
                    case Thinking(piece):
                        reasoning += piece
                        yield {answer: answer_html(question, partial_text, reasoning)}
                    case Progress(tokens) if not partial_text:
                        yield {status: say("live.tokens", tokens=tokens)}
                    case Stage("generating"):
                        yield {status: say("live.generating")}
                    case Done(result):
                        yield {answer: answer_html(question, result.text, result.reasoning, done=True),
                               status: say("live.done"),
                               stats: f"<span class='answer-stats'>{html.escape(answer_stats(result))}</span>"}
                    case Stage() | Progress() | Queued():
                        pass
    except UserFacingError as exc:
        tell(exc)
        yield {status: "⚠️ " + html.escape(exc.sentence(request_language()))}


def build_camera_tab(engines: Engines, gen_inputs: list) -> None:
    # this visitor's rolling window (at most camera_clip.MAX_FRAMES small JPEGs); freed after state_ttl without a
    # change, as when the tab closes
    window = gr.State(None, time_to_live=engines.settings.state_ttl)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            # not mirrored: the model must see the scene as it is (a mirrored frame reverses any writing in it)
            camera = gr.Image(sources=["webcam"], streaming=True, type="pil", label=t("live.camera"), height=320,
                              elem_id="live-camera",
                              webcam_options=gr.WebcamOptions(mirror=False, constraints=CAMERA_CONSTRAINTS))
            held = gr.Markdown(t("live.no_frames"), elem_id="live-window")
            gr.Markdown(t("live.hint"), elem_classes=["live-hint"])
            with gr.Row():
                interval = gr.Slider(*INTERVAL, step=1, label=t("live.interval"), elem_id="live-interval")
                span = gr.Slider(*WINDOW, step=1, label=t("live.window"), elem_id="live-span")
            question = gr.Textbox(label=t("live.question"), placeholder=t("live.placeholder"), lines=2,
                                  elem_id="live-question")
            with gr.Row():
                ask = gr.Button(t("live.ask"), variant="primary", elem_id="live-ask")
                stop = gr.Button(t("live.stop"), variant="stop", elem_id="live-stop")
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="live-status")
            gr.Markdown(t("live.frames"), elem_classes=["live-frames-title"])
            frames = gr.HTML(elem_id="live-frames")
            gr.Markdown(t("live.frames_note"), elem_classes=["live-hint"])
            answer = gr.HTML(elem_id="live-answer")
            stats = gr.Markdown(elem_id="live-stats")

    # --- register listeners ---------------------------------------------------------------------------------
    camera.stream(on_frame, [camera, window, interval, span], [window, held], stream_every=STREAM_EVERY,
                  time_limit=STREAM_TURN_S, concurrency_id="live-camera", concurrency_limit=LIVE_STREAMS,
                  show_progress="hidden", api_visibility="private")
    handler = partial(answer_live, engines, status, frames, answer, stats)
    handler.__name__ = "answer_live"  # type: ignore[attr-defined]  # Gradio names the page's endpoint after it
    events = []
    for trigger in (ask.click, question.submit):
        # one answer at a time: a second Ask would stream into the same place
        lock = trigger(lambda: gr.update(interactive=False), None, ask, queue=False, api_visibility="private")
        ev = lock.then(handler, [window, question, span, *gen_inputs], [status, frames, answer, stats],
                       concurrency_id="server", api_visibility="private")
        ev.then(lambda: gr.update(interactive=True), None, ask, queue=False, api_visibility="private")
        events.append(ev)
    # Stop: the camera's stream ends (in the browser, as its own Stop does) and a running answer is cancelled
    stop.click(None, js=STOP_CAMERA, cancels=events, api_visibility="private")
