"""Figure 5: start-up. Launch to ready for the server, the video worker and the whole app, split into import,
model load and compile/warm-up from the engines' own log lines, each stamped as it appears (our clock, 50 ms)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from .common import PY, ROOT, Child, LogStamper, register_group, wait_http
from .services import CACHE, child_env, engine_settings

# Milestones in vLLM 0.32's log (CPU build), in start order; the first match of each counts.
MILESTONES = [
    ("banner", re.compile(r"\[api_utils\.py:\d+\].*version \d|non-default args")),
    ("engine_core", re.compile(r"Initializing a V1 LLM engine")),
    ("load_start", re.compile(r"Starting to load model")),
    ("load_done", re.compile(r"Loading weights took")),
    ("warmup_start", re.compile(r"Warming up model for the compilation")),
    ("warmup_done", re.compile(r"Warming up done")),
    ("init_done", re.compile(r"init engine \(profile, create kv cache, warmup model\) took")),
]
DURATIONS = {  # durations vLLM states itself
    "weights_s": re.compile(r"Loading weights took ([\d.]+) seconds"),
    "model_init_s": re.compile(r"Initializing model took ([\d.]+) seconds"),
    "init_engine_s": re.compile(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s"),
    "mm_warmup_s": re.compile(r"Multi-modal warmup completed in ([\d.]+)s"),
}


def parse(lines: list[tuple[float, str]], ready_s: float) -> dict:
    marks, stated = {}, {}
    for t, ln in lines:
        for name, rx in MILESTONES:
            if name not in marks and rx.search(ln):
                marks[name] = t
        for name, rx in DURATIONS.items():
            m = rx.search(ln)
            if m and name not in stated:
                stated[name] = float(m.group(1))
    compile_note = "no compile line seen"
    text = "\n".join(ln for _, ln in lines)
    if "Compiling model again due to a load failure" in text:
        reason = re.search(r"Compiling model again due to a load failure.*?reason: (.*)", text)
        compile_note = ("compiled again: the cached AOT artefact failed to load"
                        + (f" ({reason.group(1).strip()[:80]})" if reason else ""))
    elif "Directly load AOT compilation" in text or "Directly load the compiled graph" in text:
        compile_note = "compiled graph loaded from vLLM's cache"
    elif "saved AOT compiled function" in text or "Compiling a graph" in text:
        compile_note = "compiled (no cache entry yet)"

    def span(a, b):
        return marks[b] - marks[a] if a in marks and b in marks else None

    phases = {
        "import_and_args": marks.get("banner"),
        "processor_and_engine_spawn": span("banner", "engine_core"),
        "worker_spawn_and_import": span("engine_core", "load_start"),
        "model_load": span("load_start", "load_done"),
        "compile_and_warmup": span("warmup_start", "warmup_done"),
        "kv_cache_and_rest": span("warmup_done", "init_done"),
        "until_ready": (ready_s - marks["init_done"]) if "init_done" in marks else None,
    }
    return {"ready_s": ready_s, "marks": marks, "phases": phases, "stated": stated, "compile": compile_note}


def import_seconds(modules: str, trials: int = 1) -> list[float]:
    """Seconds for a fresh interpreter to ``import`` ``modules`` (the .pth start-up hook included)."""
    out = []
    for _ in range(trials):
        t0 = time.monotonic()
        subprocess.run([PY, "-c", f"import {modules}"], check=True, cwd=str(ROOT), capture_output=True,
                       timeout=300)
        out.append(time.monotonic() - t0)
    return out


def worker(log_dir: Path, timeout: float = 900.0) -> dict:
    """The video worker alone, started as the app starts it (``demo.engines.video_worker.VideoWorker``)."""
    from demo.engines.engines import make_plan
    from demo.engines.model import resolve_model
    from demo.engines.model_card import read_card
    from demo.engines.video_worker import VideoWorker


    settings = engine_settings()
    model = resolve_model(settings)
    plan = make_plan(settings, read_card(model).footprint)  # the app's plan
    w = VideoWorker(settings, str(model), plan.worker, log_dir)
    if w.log_path.exists():
        w.log_path.unlink()
    w.log_path.parent.mkdir(parents=True, exist_ok=True)
    w.log_path.touch()
    launched = time.monotonic()
    stamper = LogStamper(w.log_path, launched)
    w.start()
    try:
        t_end = time.monotonic() + 30
        while w.pid is None and time.monotonic() < t_end:
            time.sleep(0.05)
        register_group(w.pid)  # the worker calls setsid(): its pid is its group
        w.wait_ready(timeout)
        ready = time.monotonic() - launched
    finally:
        lines = stamper.stop()
        w.stop()
    res = parse(lines, ready)
    res["phases"]["import_and_args"] = res["marks"].get("banner")  # the worker's first vLLM line
    return res


def whole_app(log_dir: Path, port: int, timeout: float = 900.0, cache_dir: Path | None = None,
              extra_args: tuple[str, ...] = (), env: dict | None = None, name: str = "whole-app") -> dict:
    """``app.py --model tiny`` co-launching both engines: page up, then a /chat answer, then a /describe_video
    answer (polling each until it succeeds). ``cache_dir`` and ``env`` (``VLLM_CACHE_ROOT``) make a cold start
    possible without touching the user's own caches."""
    from gradio_client import Client, handle_file


    cache_dir = cache_dir or CACHE
    cmd = [PY, str(ROOT / "app.py"), "--model", "tiny", "--cache-dir", str(cache_dir), "--cpu-kv-cache-gib", "1",
           "--port", "0", "--startup-timeout", str(int(timeout)), *extra_args]
    child = Child(cmd, log_dir / f"{name}.log", env=child_env(GRADIO_SERVER_PORT=str(port), **(env or {})))
    try:
        url = f"http://127.0.0.1:{port}"
        page = wait_http(url + "/config", timeout, child) - child.started
        client = Client(url, verbose=False)
        chat = video = None
        deadline = time.monotonic() + timeout
        clip = str(ROOT / "assets" / "example.mp4")
        while time.monotonic() < deadline and (chat is None or video is None):
            if not child.alive():
                raise RuntimeError(f"app.py exited:\n{child.log_tail()}")
            if chat is None:
                try:
                    client.predict("hello", "", [], 0.0, 1.0, -1, 4, 0.0, api_name="/chat")
                    chat = time.monotonic() - child.started
                except Exception:
                    pass
            if video is None:
                try:
                    client.predict(handle_file(clip), "Describe this video.", 2.0, 4, 0.0, 1.0, -1, 4, 0.0,
                                   api_name="/describe_video")
                    video = time.monotonic() - child.started
                except Exception:
                    pass
            if chat is None or video is None:
                time.sleep(1.0)
        client.close()
        from demo.engines.startup import StartTimes

        recorded = StartTimes(Path(cache_dir) / "logs" / "start-times.json").all()  # what the app itself recorded
        engines = {key.split(" · ")[0]: seconds for key, seconds in recorded.items()}
        return {"page_s": page, "chat_s": chat, "video_s": video, "engines": engines}
    finally:
        child.stop()


# Issue 17's goals for `app.py --model tiny` on a 2-core machine without a GPU: the first chat answer within
# 120 s of launch from the second start on, within 300 s on a cold cache.
COLD_GOAL_S, WARM_GOAL_S = 300.0, 120.0


def app_starts(log_dir: Path, free_port, warm_rounds: int = 3, log=print) -> dict:
    """The whole app launched as a newcomer does: once on a cold cache (a new cache folder and a new
    ``VLLM_CACHE_ROOT``: the tiny checkpoint is built, nothing compiled or cached), then ``warm_rounds`` times on
    the same caches, then once more with both engines started together (``--engine-start together``), for the
    default order (server first on a machine without a GPU) to be compared with in the same run."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    cache, vllm_cache = root / "app-cache", root / "vllm-cache"
    env = {"VLLM_CACHE_ROOT": str(vllm_cache)}
    rounds = []
    try:
        for i in range(1 + warm_rounds):
            kind = "cold" if i == 0 else "warm"
            r = whole_app(log_dir, free_port(), cache_dir=cache, env=env, name=f"app-start-{i}-{kind}")
            rounds.append({"kind": kind, "order": "server-first", **r})
            log(f"app start {i} ({kind}): {r}")
        r = whole_app(log_dir, free_port(), cache_dir=cache, env=env, extra_args=("--engine-start", "together"),
                      name="app-start-together")
        rounds.append({"kind": "warm", "order": "together", **r})
        log(f"app start (warm, together): {r}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"rounds": rounds, "cold_goal_s": COLD_GOAL_S, "warm_goal_s": WARM_GOAL_S}
