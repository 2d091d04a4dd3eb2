"""``python -m bench.memory``: the app's memory after many API callers each sent a large conversation document.

Launches ``app.py --model tiny`` in a process group of its own (its engines start beside it; only the app's own
process is measured), then sends ``/chat`` requests through Gradio's queue protocol as a raw caller does, each
from a session of its own that never closes (API callers do not), each with a document of ``--doc-mb`` MB as its
``history``: text turns that the document's gate reads to the last one and then refuses (its last turn has no
valid role), so no engine work is involved and the figure is the page's own. Reports the app's resident memory
(RSS) idle, after the callers, and again after ``--settle`` seconds; prints one JSON line, and with ``--write``
appends a section to ``bench/RESULTS-memory.md``. The question it answers (issue 26): does Gradio keep every
session's inputs, so that a crowd of API callers holding large documents grows the app without bound?
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

GEN = [0.7, 0.8, 20, 4, 0.0]


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


def fn_index(url: str, api_name: str) -> int:
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=60).read())
    return next(i for i, dep in enumerate(config["dependencies"]) if dep.get("api_name") == api_name)


def call(url: str, body_head: bytes, body_tail: bytes) -> str:
    """One caller: join the queue with the document, read its events to the end; its outcome ("error: ...")."""
    session = secrets.token_hex(8)
    body = body_head + json.dumps(session).encode() + body_tail
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


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory")
    ap.add_argument("--callers", type=int, default=200)
    ap.add_argument("--doc-mb", type=float, default=32.0)
    ap.add_argument("--parallel", type=int, default=4, help="callers at once")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds to wait before the last reading")
    ap.add_argument("--write", action="store_true", help="append the figures to bench/RESULTS-memory.md")
    ap.add_argument("app_args", nargs="*", help="more app.py flags, after --")
    args = ap.parse_args(argv)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(f"/tmp/bench-memory-{port}.log")
    app = Child([sys.executable, str(ROOT / "app.py"), "--model", "tiny", "--app-port", str(port), *args.app_args],
                log)
    res: dict = {"callers": args.callers, "doc_mb": args.doc_mb, "parallel": args.parallel, "settle_s": args.settle,
                 "app_args": args.app_args}
    try:
        wait_http(f"{url}/config", 600, app)
        index = fn_index(url, "chat")
        doc = document(args.doc_mb)
        head = json.dumps({"data": ["Go on.", "", doc, *GEN], "fn_index": index})[:-1].encode() + b', "session_hash": '
        res["body_mb"] = round(len(head) / 1e6, 1)
        outcome = call(url, *_small(index))  # one small call first: the handlers' imports and caches are warm
        time.sleep(2)
        res["idle_mb"] = round(rss_mb(app.proc.pid), 1)
        t0 = time.monotonic()
        with ThreadPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(lambda _: call(url, head, b"}"), range(args.callers)))
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
    with open(path, "a") as fh:
        if new:
            fh.write("# The app's memory under API callers with large documents\n\n"
                     "Each section: one run of the command it names (`bench/memory.py` says what it does).\n")
        fh.write(f"\n## {time.strftime('%Y-%m-%d %H:%M')} · `python -m bench.memory {' '.join(argv)}`\n\n"
                 f"| app RSS idle | after {res['callers']} callers x {res['doc_mb']:g} MB | "
                 f"{res['settle_s']:g} s later | growth | sent in | outcomes |\n"
                 f"|---|---|---|---|---|---|\n"
                 f"| {res['idle_mb']} MB | {res['after_mb']} MB | {res['settled_mb']} MB | {res['growth_mb']} MB | "
                 f"{res['send_s']} s | {res['outcomes']} |\n\n"
                 f"Machine: {res['machine'].get('cpu', '')}, {res['machine'].get('cores', '')} cores.\n")


if __name__ == "__main__":
    sys.exit(main())
