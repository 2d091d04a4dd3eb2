"""``python -m bench.memory``: the app's memory after many API callers each sent a large conversation document,
or (``--visitors N``) after many visitors each held a video conversation and closed their tab.

Launches ``app.py --model tiny`` in a process group of its own (its engines start beside it; only the app's own
process is measured), then sends ``/chat`` requests through Gradio's queue protocol as a raw caller does, each
from a session of its own that never closes (API callers do not), each with a document of ``--doc-mb`` MB as its
``history``: text turns that the document's gate reads to the last one and then refuses (its last turn has no
valid role), so no engine work is involved and the figure is the page's own. Reports the app's resident memory
(RSS) idle, after the callers, and again after ``--settle`` seconds; prints one JSON line, and with ``--write``
appends a section to ``bench/RESULTS-memory.md``. The question it answers (issue 26): does Gradio keep every
session's inputs, so that a crowd of API callers holding large documents grows the app without bound?

``--visitors N`` (issue 30): each visitor is a tab as Gradio sees one: its heartbeat stream open
(``/gradio_api/heartbeat/{session}``), the Video tab's page-load restore of a kept video conversation
(``--frames`` frames of 640x360, about 2 MB of JPEG, into that session's ``gr.State``, no engine work), then the
heartbeat closed, as a closed tab closes it. The app runs with ``--closed-state-ttl`` 10 s; the last reading comes
``--settle`` seconds after the last visitor left.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from .common import ROOT, Child, machine, wait_http

GEN = [0.7, 0.8, 20, 4, 0.0, "auto"]  # temperature, top_p, top_k, max_tokens, presence_penalty, thinking


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def document(mb: float) -> dict:
    """A conversation document of about ``mb`` MB that the gate reads through and refuses at its last turn."""
    from demo.inputs.conversation_file import FORMAT, VERSION

    turn_chars = 100_000
    n = max(2, int(mb * 1_000_000 / turn_chars))
    turns = [{"role": ("user", "assistant")[i % 2], "content": "x" * turn_chars} for i in range(n)]
    turns.append({"role": "nobody", "content": "the end"})
    return {"format": FORMAT, "version": VERSION, "tab": "chat", "model": "m", "turns": turns}


def video_document(frames: int) -> dict:
    """A kept video conversation of ``frames`` noisy 640x360 frames (JPEG does not shrink noise: about 130 KB each)."""
    import numpy as np
    from PIL import Image

    from demo.inputs.conversation_file import export
    from demo.inputs.video_clip import VideoClip
    from demo.inputs.video_frames import FramePlan

    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)) for _ in range(frames)]
    plan = FramePlan(tuple(range(0, 15 * frames, 15)), 640, 360, sample_fps=2.0, visual_tokens=frames * 240,
                     source_fps=30.0, source_frames=15 * frames)
    turns = [{"role": "user", "content": "What happens?"}, {"role": "assistant", "content": "Snow on a screen."}]
    return export("video", turns, model="m", clip=VideoClip.from_frames(pictures, plan))


def restore_index(url: str, tab: str) -> int:
    """The fn_index of ``tab``'s page-load restore: the event whose only input is the tab's BrowserState."""
    from demo.ui.kept import STORAGE_KEY

    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=60).read())
    comp = next(c["id"] for c in config["components"]
                if c.get("props", {}).get("storage_key") == STORAGE_KEY.format(tab=tab))
    return next(i for i, dep in enumerate(config["dependencies"]) if dep["inputs"] == [comp] and dep.get("backend_fn"))


def visit(url: str, body_head: bytes, body_tail: bytes) -> str:
    """One visitor: heartbeat open (a tab), the restore in that session, heartbeat closed; its outcome."""
    import http.client
    from urllib.parse import urlsplit

    session = secrets.token_hex(8)
    where = urlsplit(url)
    tab = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    tab.request("GET", f"/gradio_api/heartbeat/{session}")
    beat = tab.getresponse()  # the stream stays open: Gradio takes the session for an open tab
    try:
        return _join(url, session, body_head + json.dumps(session).encode() + body_tail)
    finally:
        beat.close()
        tab.close()  # the tab closes: Gradio marks its session closed


def _join(url: str, session: str, body: bytes) -> str:
    req = urllib.request.Request(f"{url}/gradio_api/queue/join", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        resp.read()
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=300) as resp:
        for line in resp:
            line = line.decode().strip()
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    out = event.get("output", {})
                    return "ok" if event.get("success") else f"error: {str(out.get('error'))[:80]}"
    return "no end"


def fn_index(url: str, api_name: str) -> int:
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=60).read())
    return next(i for i, dep in enumerate(config["dependencies"]) if dep.get("api_name") == api_name)


def call(url: str, body_head: bytes, body_tail: bytes) -> str:
    """One caller: join the queue with the document, read its events to the end; its outcome ("error: ...")."""
    session = secrets.token_hex(8)
    return _join(url, session, body_head + json.dumps(session).encode() + body_tail)


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory")
    ap.add_argument("--callers", type=int, default=200)
    ap.add_argument("--doc-mb", type=float, default=32.0)
    ap.add_argument("--visitors", type=int, default=0, help="tabs with a video conversation instead of API callers")
    ap.add_argument("--frames", type=int, default=16, help="frames of each visitor's video conversation")
    ap.add_argument("--parallel", type=int, default=4, help="callers at once")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds to wait before the last reading")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS-memory.md")
    ap.add_argument("app_args", nargs="*", help="more app.py flags, after --")
    args = ap.parse_args(argv)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(f"/tmp/bench-memory-{port}.log")
    extra = ["--closed-state-ttl", "10"] if args.visitors else []
    app = Child([sys.executable, str(ROOT / "app.py"), "--model", "tiny", "--app-port", str(port), *extra,
                 *args.app_args], log)
    res: dict = {"callers": args.callers, "doc_mb": args.doc_mb, "parallel": args.parallel, "settle_s": args.settle,
                 "app_args": extra + args.app_args}
    if args.visitors:
        res.update(visitors=args.visitors, frames=args.frames)
    try:
        wait_http(f"{url}/config", 600, app)
        index = fn_index(url, "chat")
        if args.visitors:
            doc = video_document(args.frames)
            head = json.dumps({"data": [doc], "fn_index": restore_index(url, "video")})[:-1].encode() + \
                b', "session_hash": '
            count, one = args.visitors, visit
        else:
            doc = document(args.doc_mb)
            head = json.dumps({"data": ["Go on.", "", doc, *GEN], "fn_index": index})[:-1].encode() + \
                b', "session_hash": '
            count, one = args.callers, call
        res["body_mb"] = round(len(head) / 1e6, 1)
        outcome = call(url, *_small(index))  # one small call first: the handlers' imports and caches are warm
        time.sleep(2)
        res["idle_mb"] = round(rss_mb(app.proc.pid), 1)
        t0 = time.monotonic()
        with ThreadPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(lambda _: one(url, head, b"}"), range(count)))
        res["send_s"] = round(time.monotonic() - t0, 1)
        res["outcomes"] = {o: outcomes.count(o) for o in set(outcomes)}
        res["warm_call"] = outcome
        res["after_mb"] = round(rss_mb(app.proc.pid), 1)
        time.sleep(args.settle)
        res["settled_mb"] = round(rss_mb(app.proc.pid), 1)
        res["growth_mb"] = round(res["settled_mb"] - res["idle_mb"], 1)
    finally:
        app.stop()
    res["machine"] = machine()
    print(json.dumps(res))
    if args.write:
        _write(res, argv if argv is not None else sys.argv[1:])
    return 0


def _small(index: int) -> tuple[bytes, bytes]:
    head = json.dumps({"data": ["Go on.", "", [], *GEN], "fn_index": index})[:-1].encode() + b', "session_hash": '
    return head, b"}"


def _write(res: dict, argv: list[str]) -> None:
    path = ROOT / "bench" / "RESULTS-memory.md"
    new = not path.exists()
    crowd = (f"{res['visitors']} visitors x a {res['frames']}-frame video conversation, tabs closed"
             if res.get("visitors") else f"{res['callers']} callers x {res['doc_mb']:g} MB")
    with open(path, "a") as fh:
        if new:
            fh.write("# The app's memory under API callers with large documents\n\n"
                     "Each section: one run of the command it names (`bench/memory.py` says what it does).\n")
        fh.write(f"\n## {time.strftime('%Y-%m-%d %H:%M')} · `python -m bench.memory {' '.join(argv)}`\n\n"
                 f"| app RSS idle | after {crowd} | "
                 f"{res['settle_s']:g} s later | growth | sent in | outcomes |\n"
                 f"|---|---|---|---|---|---|\n"
                 f"| {res['idle_mb']} MB | {res['after_mb']} MB | {res['settled_mb']} MB | {res['growth_mb']} MB | "
                 f"{res['send_s']} s | {res['outcomes']} |\n\n"
                 f"Machine: {res['machine'].get('cpu', '')}, {res['machine'].get('cores', '')} cores.\n")


if __name__ == "__main__":
    sys.exit(main())
