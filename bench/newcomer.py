"""``python -m bench.newcomer``: how long a new visitor waits for a first output while the room is busy (issue 30).

``app.py --model tiny`` with both engines (the server and the video worker), launched as users run it, twice in
one run: as configured (pacing and admission from load) and with the old fixed behaviour (``--max-concurrency
32 --pace-budget 0``: 32 answers at once, one update per 40 ms whatever the load). Each time the room is filled
with ``--videos`` video answers (``/describe_video``, the example clip) and ``--chats`` long chat answers
(``/chat``, greedy, ``--long-tokens``), every one a session of its own read to its end over the queue protocol
as a browser does; once they all run, ``--newcomers`` new visitors ask a short ``/chat`` question one after the
other. Each newcomer's wait is split into:

- queue: from joining to Gradio's ``process_starts`` (the page's queue let the event run);
- engine: the app's own time to the first token from vLLM, as its stats line says ("first token X s");
- app: the rest of the time to the first output the visitor saw (preparing the request, the update's way out).

Prints one JSON line and a Markdown table; ``--out`` writes the table to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Child, machine, wait_http  # noqa: E402

FIRST = re.compile(r"first token ([0-9.]+) s")


def fn_indices(url: str) -> dict[str, int]:
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=60).read())
    return {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}


async def session(http, url: str, fn_index: int, data: list, on_start=None) -> dict:
    """One visitor's event through the queue, read to its end: when it started, its first output, its stats."""
    sid = secrets.token_hex(8)
    t0 = time.perf_counter()
    out = {"started": None, "first": None, "stats": "", "ok": False, "error": None}
    async with http.post(f"{url}/gradio_api/queue/join",
                         json={"data": data, "fn_index": fn_index, "session_hash": sid}) as r:
        if r.status != 200:
            out["error"] = f"HTTP {r.status}"
            return out
    async with http.get(f"{url}/gradio_api/queue/data", params={"session_hash": sid}) as resp:
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            msg = json.loads(line[5:])
            kind = msg.get("msg")
            if kind == "process_starts" and out["started"] is None:
                out["started"] = time.perf_counter() - t0
                if on_start is not None:
                    on_start()
            data_out = (msg.get("output") or {}).get("data")
            if kind == "process_generating" and data_out and out["first"] is None and data_out[1]:
                out["first"] = time.perf_counter() - t0
            if kind == "process_completed":
                out["ok"] = bool(msg.get("success"))
                if out["ok"] and data_out:
                    out["stats"] = str(data_out[0])
                else:
                    out["error"] = str((msg.get("output") or {}).get("error"))[:120]
                break
            if kind == "close_stream":
                break
    return out


def upload(url: str, path: Path) -> dict:
    import mimetypes
    import uuid

    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: {mimetypes.guess_type(path.name)[0]}\r\n\r\n").encode()
    body += path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{url}/gradio_api/upload", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        server_path = json.loads(resp.read())[0]
    return {"path": server_path, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


async def one_room(label: str, app_args: list[str], args, log_dir: Path) -> dict:
    import aiohttp

    from demo.engines.server import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = Child([sys.executable, str(ROOT / "app.py"), "--model", "tiny", "--app-port", str(port), *app_args],
                log_dir / f"newcomer-{label}.log")
    try:
        await asyncio.to_thread(wait_http, f"{url}/config", 600, app)
        index = fn_indices(url)
        clip = upload(url, ROOT / "assets" / "example.mp4")  # as a raw caller sends a file
        short = ["Say hello.", "", [], 0.7, 0.8, 20, 32, 0.0, "auto"]  # the API's values, thinking last
        long_chat = ["Write a very long story about the sea.", "", [], 0.0, 0.8, 20, args.long_tokens, 0.0, "auto"]
        video = [clip, "Describe this video in detail.", 2.0, 8, 0.0, 0.8, 20, args.long_tokens, 0.0, "auto"]
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None)) as http:
            # both engines answer, once each, shortly
            for name, data in (("chat", short), ("describe_video", video[:7] + [8, 0.0, "auto"])):
                while not (await session(http, url, index[name], data))["ok"]:
                    if not app.alive():
                        raise RuntimeError(app.log_tail())
                    await asyncio.sleep(3)
            started = {"n": 0}

            def count():
                started["n"] += 1

            room = [asyncio.ensure_future(session(http, url, index["describe_video"], video, count))
                    for _ in range(args.videos)]
            room += [asyncio.ensure_future(session(http, url, index["chat"], long_chat, count))
                     for _ in range(args.chats)]
            while started["n"] < min(len(room), args.videos * 2 + 32) and not all(t.done() for t in room):
                await asyncio.sleep(0.5)  # the room is full: every answer the page admits at once has started
            await asyncio.sleep(args.settle)
            newcomers = []
            for _ in range(args.newcomers):
                newcomers.append(await session(http, url, index["chat"], short))
            busy = sum(not t.done() for t in room)
            for t in room:
                t.cancel()
            await asyncio.gather(*room, return_exceptions=True)
    finally:
        app.stop()
    rows = []
    for n in newcomers:
        engine = float(FIRST.search(n["stats"]).group(1)) if FIRST.search(n["stats"]) else None
        queue = n["started"]
        first = n["first"]
        app_s = (first - queue - engine) if None not in (first, queue, engine) else None
        rows.append({"first": first, "queue": queue, "engine": engine, "app": app_s, "ok": n["ok"],
                     "error": n["error"]})
    return {"label": label, "app_args": app_args, "newcomers": rows, "room_still_running": busy}


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(results: list[dict], args) -> str:
    def s(x):
        return "n/a" if x is None else f"{x:.2f} s"

    lines = [f"A new visitor's `/chat` (32 tokens) while {args.videos} video answers and {args.chats} long chats "
             f"({args.long_tokens} tokens) run; median of {args.newcomers} newcomers, one after the other.", "",
             "| app | first output | queue | engine (first token) | app | room still running | every first output |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        rows = r["newcomers"]
        lines.append(f"| {r['label']} (`{' '.join(r['app_args']) or 'defaults'}`) "
                     f"| {s(med([x['first'] for x in rows]))} "
                     f"| {s(med([x['queue'] for x in rows]))} | {s(med([x['engine'] for x in rows]))} | "
                     f"{s(med([x['app'] for x in rows]))} | {r['room_still_running']} | "
                     f"{', '.join(s(x['first']) for x in rows)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.newcomer")
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--chats", type=int, default=32)
    ap.add_argument("--long-tokens", type=int, default=4096)
    ap.add_argument("--newcomers", type=int, default=5)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds after the room is full")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    log_dir = ROOT / "bench" / "output" / "logs"
    results = []
    for label, app_args in (("as configured", []), ("fixed, before issue 30", ["--max-concurrency", "32",
                                                                              "--pace-budget", "0"])):
        results.append(asyncio.run(one_room(label, app_args, args, log_dir)))
    text = table(results, args)
    print(json.dumps({"results": results, "machine": machine()}, default=str))
    print(text)
    if args.out:
        command = " ".join(argv if argv is not None else sys.argv[1:])
        args.out.write_text(f"Generated by `python -m bench.newcomer {command}` "
                            f"on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
