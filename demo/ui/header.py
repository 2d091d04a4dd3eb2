"""The header: title, model, each engine's live status and the device plan; refreshed by a timer.

Every visitor sees it, so it names where the model comes from but never an address or a path on this machine
(the server's URL, the cache folder, an ``--api-base`` with a password in it): those are in the terminal's log.

The device plan and its notes are folded into one line that opens on a tap, so that on a phone the header leaves the
first screen to the conversation (issue 29). Its words come in the visitor's language from the server (Gradio 6.31
translates only the first ``__i18n__`` marker of an HTML value, a probe found): each redraw is that visitor's
request, so :func:`~demo.ui.texts.say` knows the page's language. An engine's start-up phase, and the plan's details
and notes under the fold, are the engines' own lines, as the terminal's log prints them, and stay English.
"""

from __future__ import annotations

import html
import os

import gradio as gr

from ..engines.engines import Engines
from ..engines.model import TINY_MODELS
from ..engines.placement import DevicePlan, Placement
from ..settings import Settings
from .texts import LANGUAGES, request_language, say, texts

TEXTS = texts({
    "header.chip": ("{name}: {state}", "{name}：{state}"),
    "header.server": ("server", "服务器"),
    "header.video worker": ("video worker", "视频进程"),
    "header.ready": ("ready", "就绪"),
    "header.starting": ("starting", "启动中"),
    "header.restarting": ("restarting", "重启中"),
    "header.unresponsive": ("unresponsive", "无响应"),
    "header.error": ("error", "出错"),
    "header.stopped": ("stopped", "已停止"),
    "header.elapsed": (" ({elapsed} s)", "（{elapsed} 秒）"),
    "header.elapsed_last": (" ({elapsed} s; the last start here took {last} s)",
                            "（{elapsed} 秒；上次在本机启动用了 {last} 秒）"),
    "header.pace": ("answers update every {ms} ms", "回答每 {ms} 毫秒更新一次"),
    "header.pace_title": ("How often a streaming answer updates the page now; longer while the app is busy",
                          "流式回答现在多久更新一次页面；应用繁忙时间隔更长"),
    "header.plan": ("Device plan", "设备规划"),
    "header.plan_title": ("The whole device plan and its notes", "完整的设备规划及其说明"),
    "header.note": (" · {n} note", " · {n} 条说明"),
    "header.notes": (" · {n} notes", " · {n} 条说明"),
    "header.server_on": ("server on {where}", "服务器在 {where}"),
    "header.attached": ("attached server", "外接服务器"),
    "header.worker_on": ("video worker on {where}", "视频进程在 {where}"),
    "header.video_via_server": ("video through the server", "视频经由服务器"),
    "header.source_attached": ("served by an attached OpenAI-compatible server", "由外接的 OpenAI 兼容服务器提供"),
    "header.source_tiny": ("{model} random-weight checkpoint (built on this machine: answers are noise)",
                           "{model} 随机权重检查点（在本机生成：回答是无意义的）"),
    "header.source_local": ("a model from a local folder", "本地文件夹中的模型"),
    "header.source_hub": ("{model} from {hub}", "{model}，来自 {hub}"),
})

_DOT = {"ready": "ok", "starting": "wait", "restarting": "wait", "unresponsive": "wait", "error": "bad",
        "stopped": "bad"}


def model_source(settings: Settings, lang: str = "en") -> str:
    """Where the model comes from, as a visitor may read it: a hub id, or only the kind of a local one."""
    model, hub = settings.model, settings.model_source
    if settings.api_base:
        return say("header.source_attached", lang)
    if model in TINY_MODELS:  # "tiny random-weight checkpoint", "tiny-qwen3.5 random-weight checkpoint", ...
        return say("header.source_tiny", lang, model=model)
    if os.path.isdir(os.path.expanduser(model)) or model.startswith(("/", ".", "~")):
        return say("header.source_local", lang)
    return say("header.source_hub", lang, model=model, hub="Hugging Face" if hub == "huggingface" else "ModelScope")


def status_text(st, lang: str = "en") -> str:
    """An engine's chip: 'server: starting (42 s; the last start here took 35 s) - loading the weights' (the phase
    after the dash is the engine's own English line)."""
    name = say(f"header.{st.name}", lang) if f"header.{st.name}" in TEXTS else st.name
    state = say(f"header.{st.state}", lang) if f"header.{st.state}" in TEXTS else st.state
    text = say("header.chip", lang, name=name, state=state)
    if st.state in ("starting", "restarting") and st.last_start_s:
        text += say("header.elapsed_last", lang, elapsed=f"{st.elapsed:.0f}", last=f"{st.last_start_s:.0f}")
    elif st.state in ("starting", "restarting", "unresponsive"):
        text += say("header.elapsed", lang, elapsed=f"{st.elapsed:.0f}")
    if st.detail:
        text += f" - {st.detail}"
    return text


def header_html(engines: Engines, source: str, lang: str = "en") -> str:
    """``source``: :func:`model_source` in ``lang``, worked out once (every visitor's timer redraws this:
    :func:`redraw_every`)."""
    statuses = "".join(
        f"<span class='engine {_DOT.get(st.state, 'wait')}' data-engine='{html.escape(st.name)}' "
        f"data-state='{st.state}'>{html.escape(status_text(st, lang))}</span>"
        for st in engines.statuses())
    return (
        f"<div class='app-header' lang='{lang}'>"
        f"<div class='title-row'><h1>{html.escape(title(engines))}</h1>"
        f"<span class='model'>{html.escape(engines.settings.served_model_name)} · vLLM · "
        f"{html.escape(source)}</span></div>"
        f"<div class='status-row'>{statuses}{_pace(engines, lang)}</div>"
        f"{plan_html(engines.plan, lang)}</div>")


def plan_html(plan: DevicePlan, lang: str = "en") -> str:
    """The plan folded: one summary line (its short form) that a tap opens onto the whole plan and its notes.

    A checkbox and its label, not ``<details>``: the timer replaces this HTML every few seconds, and Gradio 6.31's
    gr.HTML patches the DOM in place, setting the new markup's attributes and removing the others. A ``<details>``
    opened by a tap carries an ``open`` attribute that the next redraw removes (closed again within a second while an
    engine starts); a checkbox's checked state is a property that no attribute carries, so the patch leaves it, and
    the CSS (assets/style.css, "the plan's fold") shows the details beside a checked box. No script, nothing on the
    server per visitor. Tested by tests/app/test_browser_phone.py, across a redraw.
    """
    notes = len(plan.notes)
    count = say("header.note" if notes == 1 else "header.notes", lang, n=notes) if notes else ""
    return (
        "<div class='plan'>"
        "<input type='checkbox' id='plan-open' class='plan-toggle' aria-controls='plan-details'>"
        f"<label for='plan-open' class='plan-summary' title='{html.escape(say('header.plan_title', lang))}'>"
        f"<span class='plan-label'>{html.escape(say('header.plan', lang))}</span> "
        f"<span class='plan-short'>{html.escape(short_plan(plan, lang))}</span>"
        f"<span class='plan-count'>{count}</span></label>"
        f"<div class='plan-details' id='plan-details'><div class='plan-row'>{html.escape(plan.describe())}</div>"
        + "".join(f"<div class='plan-note'>{html.escape(note)}</div>" for note in plan.notes)
        + "</div></div>")


def short_plan(plan: DevicePlan, lang: str = "en") -> str:
    """Where each engine runs, in a few words: 'server on GPU 0 · video worker on GPU 1,2 (TP 2)'."""
    server = say("header.server_on", lang, where=_where(plan.server)) if plan.server else say("header.attached", lang)
    video = (say("header.worker_on", lang, where=_where(plan.worker)) if plan.worker
             else say("header.video_via_server", lang))
    return f"{server} · {video}"


def _where(place: Placement) -> str:
    if place.device == "cpu":
        return "CPU"
    tp = f" (TP {place.tensor_parallel_size})" if place.tensor_parallel_size > 1 else ""
    return "GPU " + ",".join(str(g) for g in place.gpus) + tp


def title(engines: Engines) -> str:
    """The page's title: the model's family as its own config says (Qwen3-VL, Qwen3.5, their MoE editions)."""
    return engines.card.describe() if engines.card else "Qwen3-VL"


def _pace(engines: Engines, lang: str = "en") -> str:
    """The interval between two updates of an answer now: stretched while the app is busy (demo/engines/pacing.py)."""
    ms = round(engines.pacers.interval() * 1000)
    if ms <= 0:
        return ""
    return (f"<span class='pace' data-interval-ms='{ms}' title='{html.escape(say('header.pace_title', lang))}'>"
            f"{html.escape(say('header.pace', lang, ms=ms))}</span>")


STARTING_S = 1.0  # how often every open tab redraws the header while an engine starts (or restarts)
SETTLED_S = 5.0  # and once every engine is ready: each tick is a request, so a hundred open tabs were 100 a second


def redraw_every(statuses) -> float:
    """Seconds between two redraws of a tab's header, from the engines' states."""
    return SETTLED_S if statuses and all(st.state == "ready" for st in statuses) else STARTING_S


def build_header(engines: Engines):
    """The header, and the step that redraws it at once in the visitor's language when the page loads (the page's
    own value is English; without that step a Chinese page showed an English header until the timer's first tick)."""
    sources = {lang: model_source(engines.settings, lang) for lang in LANGUAGES}
    box = gr.HTML(header_html(engines, sources["en"]), elem_id="app-header")
    timer = gr.Timer(STARTING_S)

    def drawn() -> str:
        lang = request_language()  # this visitor's page (its cookie), else its browser's
        return header_html(engines, sources[lang], lang)

    def redraw(every: float):
        wanted = redraw_every(engines.statuses())
        return drawn(), (wanted if every != wanted else gr.skip())

    timer.tick(redraw, inputs=timer, outputs=[box, timer], queue=False, show_progress="hidden",
               api_visibility="private")
    return drawn, box
