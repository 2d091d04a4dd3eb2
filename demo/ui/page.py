"""Assemble the page from the per-tab builders, and the arguments ``launch()`` gets from the settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gradio as gr

from ..engines.engines import Engines
from ..heap import exempt_from_collection, keep_giving_back
from ..inputs.conversation import UPLOAD_HOURS
from ..settings import Settings
from ..stored_secret import stored_secret
from . import kept, live, texts
from .admission import admit_from_load
from .api import build_api
from .camera_tab import LIVE_STREAMS, build_camera_tab
from .chat_tab import build_chat_tab
from .common import generation_accordion, video_slots
from .document_tab import build_document_tab
from .header import build_header
from .image_tab import build_image_tab
from .lean_blocks import LeanBlocks
from .local_files import local_only_everywhere
from .sessions import forget_finished_bodies, lean_sessions
from .texts import t
from .video_tab import build_video_tab

TEXTS = texts.texts({
    "tab.chat": ("Chat", "聊天"),
    "tab.image": ("Image", "图像"),
    "tab.video": ("Video", "视频"),
    "tab.live": ("Live", "实时"),
    "tab.document": ("Document", "文档"),
})

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
# The header's language switch: Gradio's own locale change (its Settings panel calls the same function of its core
# module, which the page has loaded already); where that module cannot be found, it opens Settings instead.
SWITCH_LANGUAGE = (ASSETS / "lang_switch.js").read_text()
# Uploads and generated files in Gradio's cache: swept hourly, each deleted three hours after it was written
# (a conversation re-reads its images on every turn, so not sooner), and all of them when the page closes.
DELETE_CACHE = (3600, UPLOAD_HOURS * 3600)


def skip_missing_matplotlib() -> None:
    """Gradio runs every handler call, so every streamed update, inside a matplotlib backend manager that
    imports matplotlib on entry and on exit. Without matplotlib installed (the app does not need it) each of
    those imports searches sys.path again: about 8 % of the event loop's time at 32 streams (py-spy,
    bench/RESULTS.md figure 6). Marked absent once, they fail at once."""
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        sys.modules["matplotlib"] = None  # type: ignore[assignment]  # "import matplotlib" raises ImportError


def skip_queue_analytics(demo: gr.Blocks) -> None:
    """Gradio's queue summarises its last 10,000 events with pandas (a DataFrame, a group-by, percentiles) when
    each event starts and when it ends, for its monitoring dashboard, which this app does not serve
    (``enable_monitoring=False``): 5 ms per summary at 100 events, 17 ms at 10,000, measured here, on a worker thread
    that holds the GIL. For 256 visitors arriving at once that is seconds of the app's one core. Summarised never,
    and a thousand events kept instead of 10,000 (a Gradio that renames these fails
    tests/unit/test_queue_analytics.py)."""
    queue = demo._queue
    if not hasattr(queue, "ANAYLTICS_CACHE_FREQUENCY") or not hasattr(queue, "ANALYTICS_MAX_EVENTS"):
        raise RuntimeError("this Gradio's queue keeps its analytics differently: see demo/ui/page.py")
    queue.ANAYLTICS_CACHE_FREQUENCY = 2**62  # (Gradio's spelling) events between two summaries
    queue.ANALYTICS_MAX_EVENTS = 1000


def build_demo(settings: Settings, engines: Engines) -> gr.Blocks:
    """The whole page. Per-user data lives in ``gr.State`` inside the tabs; nothing per-user is global."""
    skip_missing_matplotlib()
    # LeanBlocks: an output an event leaves alone costs no component rebuilt (demo/ui/lean_blocks.py)
    with LeanBlocks(title="Qwen3-VL on vLLM", fill_width=True, delete_cache=DELETE_CACHE) as demo:
        header_drawn, header = build_header(engines)
        # the page's language, as the browser translated it: assets/lang.js keeps the cookie the server reads
        gr.Markdown(t("lang.code"), elem_id="page-lang", visible="hidden")
        gr.Button(t("lang.switch"), elem_id="lang-switch", size="sm").click(
            None, js=SWITCH_LANGUAGE, api_visibility="private")
        # Conversations kept in each visitor's browser. Outside the tabs: a BrowserState reads localStorage when
        # it is mounted, and a tab not shown yet mounts nothing (the page-load restore then got no value). The
        # secret is stable, so a restarted app still reads what it stored.
        secret = stored_secret(settings.cache_dir, "browser-state-secret")
        browsers = {tab: kept.browser_state(tab, secret) for tab in ("chat", "image", "video")}
        with gr.Tabs():
            with gr.Tab(t("tab.chat"), id="chat"):
                chat_slot = gr.Column()
            with gr.Tab(t("tab.image"), id="image"):
                image_slot = gr.Column()
            with gr.Tab(t("tab.video"), id="video"):
                video_slot = gr.Column()
            with gr.Tab(t("tab.live"), id="live"):
                live_slot = gr.Column()
            with gr.Tab(t("tab.document"), id="document"):
                document_slot = gr.Column()
        gen_inputs = generation_accordion(engines.card)
        with chat_slot:
            on_load = [build_chat_tab(engines, gen_inputs, browsers["chat"], settings.light_stream)]
        with image_slot:
            on_load.append(build_image_tab(engines, gen_inputs, browsers["image"], settings.light_stream))
        with video_slot:
            on_load.append(build_video_tab(engines, gen_inputs, browsers["video"]))
        with live_slot:
            build_camera_tab(engines, gen_inputs)
        with document_slot:
            build_document_tab(engines, gen_inputs)
        for step in on_load:
            demo.load(step.fn, step.inputs, step.outputs, api_visibility="private")
        # the header in the visitor's language at once (after the tabs' steps: raw callers index events by order)
        demo.load(header_drawn, None, header, queue=False, show_progress="hidden", api_visibility="private")
        build_api(engines)
    local_only_everywhere(demo)
    lean_sessions(settings.closed_state_ttl)  # no copy of every input per session (issue 26); closed tabs freed
    keep_giving_back()  # freed memory back to the system, not kept at the busiest moment's mark
    # vLLM batches requests: let many answers run at once; the queue turns away what it cannot hold.
    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.max_queue_size)
    skip_queue_analytics(demo)  # no pandas summary at every event's start and end
    forget_finished_bodies(demo._queue)  # a 32 MB request is not kept until the next event
    admit_from_load(demo, engines, settings)  # more answers while the server and the app keep up (issue 30)
    exempt_from_collection()  # the page, built once, is not walked by every full garbage collection
    return demo


def page_script(*names: str) -> str:
    """One script for ``launch(js=...)`` (it takes one function) from the assets' scripts, each a function."""
    return "() => {\n" + "".join(f"({(ASSETS / name).read_text().strip()})();\n" for name in names) + "}"


def launch_kwargs(settings: Settings) -> dict:
    """``launch()`` arguments: theme and CSS (Gradio 6 takes them here), limits, and nothing extra exposed."""
    return dict(
        server_name=settings.host,
        server_port=settings.app_port,
        share=settings.share,
        theme=gr.themes.Soft(primary_hue="violet", secondary_hue="indigo"),
        css_paths=[ASSETS / "style.css"],
        # time chips seek the Video tab's player; the light stream; the page's language told to the server
        js=page_script("seek.js", "live.js", "lang.js"),
        # every text in English and Chinese, the browser's language chosen (after build_demo: all registered)
        i18n=texts.i18n(),
        app_kwargs={"routes": live.routes()},  # the light stream's route, before Gradio's own
        max_file_size=f"{settings.max_file_size_mb}mb",
        # every session's state and updated components are kept until this many newer sessions came (issue 26)
        state_session_capacity=settings.session_capacity,
        footer_links=["api", "gradio", "settings"],  # Settings: the language (and the theme)
        enable_monitoring=False,
        mcp_server=False,
        # Gradio's run history page (/gradio_api/runs) and its bucket routes, which can save runs to a Hugging Face
        # bucket with a token the host holds: nothing a demo needs (issue 26)
        run_history=False,
        show_error=True,
        # Gradio's worker slots (one per running event, async or not) and threads for the page's quick synchronous
        # steps (adding a message, clearing); the answers themselves are async and hold no thread. Sized so that
        # the most answers admitted and a full house of videos still leave some free.
        # (each Live camera's stream is one long event holding a slot: LIVE_STREAMS of them at most)
        max_threads=max(40, max(settings.concurrency_limit, settings.max_concurrency) + video_slots(settings)
                        + LIVE_STREAMS + 8),
        allowed_paths=[str(ASSETS)],  # the example photographs and clip, nothing else
        favicon_path=str(ASSETS / "favicon.png") if (ASSETS / "favicon.png").is_file() else None,
    )

