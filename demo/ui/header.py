"""The header: title, model, each engine's live status and the device plan; refreshed by a timer.

Every visitor sees it, so it names where the model comes from but never an address or a path on this machine
(the server's URL, the cache folder, an ``--api-base`` with a password in it): those are in the terminal's log.

The device plan and its notes are folded into one line that opens on a tap, so that on a phone the header leaves the
first screen to the conversation (issue 29). Its words stay English: Gradio 6.31 translates only the first
``__i18n__`` marker of an HTML value (a probe, issue 29's report), and most of the header is built from the engines'
own English lines anyway.
"""

from __future__ import annotations

import html
import os

import gradio as gr

from ..engines.engines import Engines
from ..engines.model import TINY_MODELS
from ..engines.placement import DevicePlan, Placement
from ..settings import Settings

_DOT = {"ready": "ok", "starting": "wait", "restarting": "wait", "unresponsive": "wait", "error": "bad",
        "stopped": "bad"}


def model_source(settings: Settings) -> str:
    """Where the model comes from, as a visitor may read it: a hub id, or only the kind of a local one."""
    model, hub = settings.model, settings.model_source
    if settings.api_base:
        return "served by an attached OpenAI-compatible server"
    if model in TINY_MODELS:  # "tiny random-weight checkpoint", "tiny-qwen3.5 random-weight checkpoint", ...
        return f"{model} random-weight checkpoint (built on this machine: answers are noise)"
    if os.path.isdir(os.path.expanduser(model)) or model.startswith(("/", ".", "~")):
        return "a model from a local folder"
    return f"{model} from {'Hugging Face' if hub == 'huggingface' else 'ModelScope'}"


def header_html(engines: Engines, source: str) -> str:
    """``source``: :func:`model_source`, worked out once (every visitor's timer redraws this: :func:`redraw_every`)."""
    statuses = "".join(
        f"<span class='engine {_DOT.get(st.state, 'wait')}' data-engine='{html.escape(st.name)}' "
        f"data-state='{st.state}'>{html.escape(st.describe())}</span>"
        for st in engines.statuses())
    return (
        "<div class='app-header'>"
        f"<div class='title-row'><h1>{html.escape(title(engines))}</h1>"
        f"<span class='model'>{html.escape(engines.settings.served_model_name)} · vLLM · "
        f"{html.escape(source)}</span></div>"
        f"<div class='status-row'>{statuses}{_pace(engines)}</div>"
        f"{plan_html(engines.plan)}</div>")


def plan_html(plan: DevicePlan) -> str:
    """The plan folded: one summary line (its short form) that a tap opens onto the whole plan and its notes.

    A checkbox and its label, not ``<details>``: the timer replaces this HTML every few seconds, and Gradio 6.31's
    gr.HTML patches the DOM in place, setting the new markup's attributes and removing the others. A ``<details>``
    opened by a tap carries an ``open`` attribute that the next redraw removes (closed again within a second while an
    engine starts); a checkbox's checked state is a property that no attribute carries, so the patch leaves it, and
    the CSS (assets/style.css, "the plan's fold") shows the details beside a checked box. No script, nothing on the
    server per visitor. Tested by tests/app/test_browser_phone.py, across a redraw.
    """
    notes = len(plan.notes)
    count = f" · {notes} note{'s' if notes != 1 else ''}" if notes else ""
    return (
        "<div class='plan'>"
        "<input type='checkbox' id='plan-open' class='plan-toggle' aria-controls='plan-details'>"
        "<label for='plan-open' class='plan-summary' title='The whole device plan and its notes'>"
        f"<span class='plan-label'>Device plan</span> <span class='plan-short'>{html.escape(short_plan(plan))}</span>"
        f"<span class='plan-count'>{count}</span></label>"
        f"<div class='plan-details' id='plan-details'><div class='plan-row'>{html.escape(plan.describe())}</div>"
        + "".join(f"<div class='plan-note'>{html.escape(note)}</div>" for note in plan.notes)
        + "</div></div>")


def short_plan(plan: DevicePlan) -> str:
    """Where each engine runs, in a few words: 'server on GPU 0 · video worker on GPU 1,2 (TP 2)'."""
    server = f"server on {_where(plan.server)}" if plan.server else "attached server"
    video = f"video worker on {_where(plan.worker)}" if plan.worker else "video through the server"
    return f"{server} · {video}"


def _where(place: Placement) -> str:
    if place.device == "cpu":
        return "CPU"
    tp = f" (TP {place.tensor_parallel_size})" if place.tensor_parallel_size > 1 else ""
    return "GPU " + ",".join(str(g) for g in place.gpus) + tp


def title(engines: Engines) -> str:
    """The page's title: the model's family as its own config says (Qwen3-VL, Qwen3.5, their MoE editions)."""
    return engines.card.describe() if engines.card else "Qwen3-VL"


def _pace(engines: Engines) -> str:
    """The interval between two updates of an answer now: stretched while the app is busy (demo/engines/pacing.py)."""
    ms = round(engines.pacers.interval() * 1000)
    if ms <= 0:
        return ""
    return (f"<span class='pace' data-interval-ms='{ms}' title='How often a streaming answer updates the page now; "
            f"longer while the app is busy'>answers update every {ms} ms</span>")


STARTING_S = 1.0  # how often every open tab redraws the header while an engine starts (or restarts)
SETTLED_S = 5.0  # and once every engine is ready: each tick is a request, so a hundred open tabs were 100 a second


def redraw_every(statuses) -> float:
    """Seconds between two redraws of a tab's header, from the engines' states."""
    return SETTLED_S if statuses and all(st.state == "ready" for st in statuses) else STARTING_S


def build_header(engines: Engines) -> None:
    source = model_source(engines.settings)
    box = gr.HTML(header_html(engines, source), elem_id="app-header")
    timer = gr.Timer(STARTING_S)

    def redraw(every: float):
        wanted = redraw_every(engines.statuses())
        return header_html(engines, source), (wanted if every != wanted else gr.skip())

    timer.tick(redraw, inputs=timer, outputs=[box, timer], queue=False, show_progress="hidden",
               api_visibility="private")
