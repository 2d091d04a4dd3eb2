"""The header: title, model, each engine's live status and the device plan; refreshed by a timer."""

from __future__ import annotations

import html

import gradio as gr

from ..engines import Engines

_DOT = {"ready": "ok", "starting": "wait", "restarting": "wait", "unresponsive": "wait", "error": "bad", "stopped": "bad"}


def header_html(engines: Engines) -> str:
    statuses = "".join(
        f"<span class='engine {_DOT.get(st.state, 'wait')}' data-engine='{html.escape(st.name)}' "
        f"data-state='{st.state}'>{html.escape(st.describe())}</span>"
        for st in engines.statuses())
    where = engines.server.endpoint.base_url
    return (
        "<div class='app-header'>"
        "<div class='title-row'><h1>Qwen3-VL</h1>"
        f"<span class='model'>{html.escape(engines.settings.served_model_name)} · vLLM · "
        f"{html.escape(str(engines.model_path or engines.settings.model))}</span></div>"
        f"<div class='status-row'>{statuses}</div>"
        f"<div class='plan-row'>Server at {html.escape(where)} · {html.escape(engines.plan.describe())}</div>"
        + "".join(f"<div class='plan-note'>{html.escape(note)}</div>" for note in engines.plan.notes)
        + "</div>")


def build_header(engines: Engines) -> None:
    box = gr.HTML(header_html(engines), elem_id="app-header")
    timer = gr.Timer(1.0)
    timer.tick(lambda: header_html(engines), outputs=box, queue=False, show_progress="hidden",
               api_visibility="private")
