"""Figures 6 and 7: the app's capacity at a GPU's token rate, and how fast Stop reaches the server.

The real engine on these CPUs makes tokens far slower than a GPU, so here (and only here) the app is attached
to ``bench/token_source.py``, which streams every request at 60 tokens a second at little CPU cost. The app is
the real ``app.py --api-base ...`` in its own process (its CPU measured with psutil), with room for every stream
(``--concurrency-limit 128``: the default 32 would queue the rest, which is a choice, not a capacity).

Clients: one asyncio process with aiohttp, speaking Gradio's queue protocol (``/gradio_api/queue/join``, then
the session's SSE stream, diffs applied) and, for the reference, OpenAI's SSE straight from the source. No
``gradio_client``: it runs a thread and a full JSON diff per update per job, which at 128 streams would measure
itself. The clients' own CPU is reported beside the app's, to show they are not the limit.

Paths: ``direct`` (the source itself), ``app`` (the ``/chat`` API: every update through Gradio's queue) and
``page`` (the Chat tab as a browser drives it: the Send step, then the answer step, whose message carries the light
stream's marker when the app is busy, demo/ui/live.py; its text then comes from ``live/TICKET``, as assets/live.js
reads it).

Per stream: every token carries its emission time, so its delay to the client is known exactly; tokens lost are
those sent but not in the final answer; updates are SSE messages with new output.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import statistics
import time
import urllib.request

from .common import PY, ROOT, Child, openai_chunks, quantile, wait_http

PROMPT = "Write a long story about the sea."
DIFF_ACTIONS = ("replace", "append", "add", "delete")
MARKER = re.compile(r'<span class="live-text live-([\w-]+)"></span>')


def _apply(value: str, update) -> str:
    """A streamed output: a full value, or Gradio's diff of the last one (string paths are [] only)."""
    if isinstance(update, list) and update and isinstance(update[0], list) and update[0][:1] and \
            update[0][0] in DIFF_ACTIONS:
        for action, _path, piece in update:
            value = value + piece if action == "append" else piece
        return value
    return update if isinstance(update, str) else value


class Tokens:
    """Arrival delays of the stamped tokens in a growing text."""

    def __init__(self):
        self.parsed = 0
        self.delays: list[float] = []
        self.count = 0

    def see(self, text: str, now: float) -> None:
        end = text.rfind("|")
        if end < self.parsed:
            return
        for stamp in text[self.parsed:end].split("|"):
            try:
                self.delays.append(now - float(stamp))
                self.count += 1
            except ValueError:
                pass
        self.parsed = end + 1


async def app_stream(http, url: str, fn_index: int, max_tokens: int, start_in: float) -> dict:
    await asyncio.sleep(start_in)
    session = secrets.token_hex(8)
    data = [PROMPT, "", [], 0.7, 0.8, 20, max_tokens, 0.0, "auto"]  # /chat's nine values (thinking last)
    async with http.post(f"{url}/gradio_api/queue/join",
                         json={"data": data, "fn_index": fn_index, "session_hash": session}) as r:
        r.raise_for_status()
    tokens, answer, updates, t0, ok = Tokens(), "", 0, time.time(), False
    async with http.get(f"{url}/gradio_api/queue/data", params={"session_hash": session}) as resp:
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            msg = json.loads(line[5:])
            kind = msg.get("msg")
            if kind in ("process_generating", "process_completed") and msg.get("output", {}).get("data"):
                answer = _apply(answer, msg["output"]["data"][1])
                tokens.see(answer, time.time())
                updates += kind == "process_generating"
            if kind == "process_completed":
                ok = bool(msg.get("success"))
                break
            if kind == "close_stream":
                break
    return {"delays": tokens.delays, "received": tokens.count, "updates": updates, "s": time.time() - t0, "ok": ok}


def chat_tab_events(config: dict) -> tuple[int, int]:
    """The Chat tab's Send step and the answer step after it (the page's own events, by their place in the config)."""
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    deps = config["dependencies"]
    send = next(i for i, d in enumerate(deps) if [ids["chat-send"], "click"] in d["targets"])
    return send, next(i for i, d in enumerate(deps) if d.get("trigger_after") == send)


def _patch(value, diff):
    """Gradio's diff applied in place (gradio_client's ``apply_diff`` copies the whole value first)."""
    for action, path, piece in diff:
        if not path:
            value = piece if action == "replace" else value + piece if action == "append" else value
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        key = path[-1]
        if action == "replace":
            target[key] = piece
        elif action == "append":
            target[key] += piece
        elif action == "add":
            target.insert(int(key), piece) if isinstance(target, list) else target.__setitem__(key, piece)
        elif action == "delete":
            del target[int(key) if isinstance(target, list) else key]
    return value


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


async def _join_and_read(http, url: str, fn_index: int, data: list, session: str):
    """Join the queue for a page event; yield its SSE messages to the last one."""
    async with http.post(f"{url}/gradio_api/queue/join",
                         json={"data": data, "fn_index": fn_index, "session_hash": session}) as r:
        r.raise_for_status()
    async with http.get(f"{url}/gradio_api/queue/data", params={"session_hash": session}) as resp:
        async for line in resp.content:
            if line.startswith(b"data:"):
                msg = json.loads(line[5:])
                yield msg
                if msg.get("msg") in ("process_completed", "close_stream"):
                    return


async def page_stream(http, url: str, events: tuple[int, int], max_tokens: int, start_in: float) -> dict:
    """One visitor of the Chat tab: its Send step, then its answer; the answer's text from the chat box's message
    (Gradio's updates) or, once the message carries the light stream's marker, from ``live/TICKET``."""
    await asyncio.sleep(start_in)
    session = secrets.token_hex(8)
    send, answer_step = events
    async for _ in _join_and_read(http, url, send, [PROMPT, None], session):
        pass
    tokens, updates, t0, ok, relay = Tokens(), 0, time.time(), False, None
    shown = ""  # the answer as the page shows it: the message's text, then what the light stream adds

    async def follow(ticket: str, first: str):
        nonlocal shown, updates
        shown = first
        async with http.get(f"{url}/live/{ticket}") as resp:
            event = None
            async for line in resp.content:
                line = line.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event is None:
                    shown += json.loads(line[5:])
                    updates += 1
                    tokens.see(shown, time.time())
                elif not line and event == "end":
                    return

    gen = [0.7, 0.8, 20, max_tokens, 0.0]
    chat = None  # the chat box's value, as the page holds it (Gradio sends a generator's updates as diffs)
    async for msg in _join_and_read(http, url, answer_step, [None, "", *gen], session):
        kind = msg.get("msg")
        data = msg.get("output", {}).get("data")
        if kind in ("process_generating", "process_completed") and data:
            chat = data[0] if chat is None or kind == "process_completed" else _patch(chat, data[0])
            texts = [t for t in _strings(chat) if "|" in t]  # the answer's message (its tokens are stamped)
            if texts and relay is None:
                text = texts[-1]
                marked = MARKER.search(text)
                if marked:  # the rest comes on the light stream
                    relay = asyncio.ensure_future(follow(marked.group(1), text[:marked.start()]))
                    text = text[:marked.start()]
                shown = text
                updates += 1
                tokens.see(text, time.time())
        if kind in ("process_completed", "close_stream"):
            ok = bool(msg.get("success"))
            if relay is not None:
                await relay
            break
    return {"delays": tokens.delays, "received": tokens.count, "updates": updates, "s": time.time() - t0, "ok": ok,
            "light": relay is not None}


async def direct_stream(http, base: str, max_tokens: int, start_in: float) -> dict:
    await asyncio.sleep(start_in)
    body = {"model": "Qwen3-VL-4B-Instruct", "messages": [{"role": "user", "content": PROMPT}], "stream": True,
            "max_tokens": max_tokens}
    tokens, answer, updates, t0, ok = Tokens(), "", 0, time.time(), False
    async with http.post(f"{base}/chat/completions", json=body) as resp:
        async for chunk in openai_chunks(resp):
            if chunk is None:
                ok = True
                break
            for choice in chunk.get("choices", []):
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    answer += piece
                    updates += 1
                    tokens.see(answer, time.time())
    return {"delays": tokens.delays, "received": tokens.count, "updates": updates, "s": time.time() - t0, "ok": ok}


def _ms(seconds: float | None) -> float:
    return float("nan") if seconds is None else 1000 * seconds


def _cpu(proc) -> float:
    if proc is None:
        return 0.0
    c = proc.cpu_times()
    return c.user + c.system


async def one_level(http, kind: str, users: int, max_tokens: int, rate: float, target: dict, procs: dict) -> dict:
    # Starts spread over one second, as visitors arrive (all in one instant would be a lockstep burst).
    offsets = [random.uniform(0, 1.0) for _ in range(users)]
    before = {name: _cpu(p) for name, p in procs.items()}
    t0 = time.time()
    if kind == "app":
        runs = await asyncio.gather(*[app_stream(http, target["url"], target["fn_index"], max_tokens, o)
                                      for o in offsets])
    elif kind == "page":
        runs = await asyncio.gather(*[page_stream(http, target["url"], target["page_events"], max_tokens, o)
                                      for o in offsets])
    else:
        runs = await asyncio.gather(*[direct_stream(http, target["base"], max_tokens, o) for o in offsets])
    wall = time.time() - t0
    cpu = {name: (_cpu(p) - before[name]) / wall for name, p in procs.items()}
    if any(name.startswith("app-p") for name in cpu):  # several app processes: "app" is all of the app's own
        cpu["app-front"] = cpu["app"]
        cpu["app"] = sum(c for name, c in cpu.items() if name == "app-front" or name.startswith("app-p"))
    delays = [d for r in runs for d in r["delays"]]
    return {"kind": kind, "users": users, "wall_s": wall, "cores": cpu,
            "p50_ms": _ms(quantile(delays, 0.5)), "p95_ms": _ms(quantile(delays, 0.95)),
            "lost": sum(max_tokens - r["received"] for r in runs), "failed": sum(not r["ok"] for r in runs),
            "updates_per_s": statistics.mean(r["updates"] / r["s"] for r in runs if r["s"] > 0),
            "tokens_per_s": rate, "light": sum(bool(r.get("light")) for r in runs)}


def _post(url: str, payload: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload or {}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _records(source: str) -> list[dict]:
    with urllib.request.urlopen(f"{source}/stats", timeout=30) as resp:
        return list(json.load(resp).values())


async def stop_latency(http, kind: str, target: dict, source: str, before_first: bool) -> float:
    """Seconds from the cancel (Gradio's /cancel, or closing the response) to the source seeing the stream
    closed; before the first token (a 5 s prefill) or after a few tokens arrived."""
    _post(f"{source}/stats/reset")
    prompt = PROMPT + (" prefill=5" if before_first else "")
    cancelled_at = None
    if kind == "app":
        session = secrets.token_hex(8)
        async with http.post(f"{target['url']}/gradio_api/queue/join", json={
                "data": [prompt, "", [], 0.7, 0.8, 20, 600, 0.0, "auto"], "fn_index": target["fn_index"],
                "session_hash": session}) as r:
            event_id = (await r.json())["event_id"]
        answer, tokens = "", Tokens()
        async with http.get(f"{target['url']}/gradio_api/queue/data", params={"session_hash": session}) as resp:
            async for line in resp.content:
                if not line.startswith(b"data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_generating":
                    answer = _apply(answer, msg["output"]["data"][1])
                    tokens.see(answer, time.time())
                ready = (msg.get("msg") == "process_starts" and before_first) or tokens.count >= 5
                if ready and cancelled_at is None:
                    if before_first:
                        await asyncio.sleep(0.5)  # the request has reached the source and waits on its prefill
                    cancelled_at = time.time()
                    async with http.post(f"{target['url']}/gradio_api/cancel", json={
                            "session_hash": session, "fn_index": target["fn_index"], "event_id": event_id}) as r:
                        await r.read()
                if msg.get("msg") in ("process_completed", "close_stream"):
                    break
    else:
        body = {"model": "Qwen3-VL-4B-Instruct", "messages": [{"role": "user", "content": prompt}],
                "stream": True, "max_tokens": 600}
        resp = await http.post(f"{target['base']}/chat/completions", json=body)
        answer, tokens = "", Tokens()
        if before_first:
            await asyncio.sleep(0.5)
        else:
            async for line in resp.content:
                if line.startswith(b"data:") and b"|" in line:
                    tokens.count += 1
                    if tokens.count >= 5:
                        break
        cancelled_at = time.time()
        resp.close()
    for _ in range(200):  # the source notes the close at once; give its record a moment to be written
        recs = _records(source)
        if recs and recs[-1]["closed"]:
            return recs[-1]["closed"] - cancelled_at
        if recs and recs[-1]["done"]:
            raise RuntimeError("the stream ran to its end: the cancel did not reach the source")
        await asyncio.sleep(0.05)
    raise RuntimeError("the source never saw the stream closed")


def run(log_dir, port_of, levels=(1, 16, 64, 128), seconds: float = 8.0, rate: float = 60.0, stop_trials: int = 8,
        log=print, paths=("direct", "app", "page"), app_processes: int = 1) -> dict:
    import aiohttp
    import psutil

    from .services import child_env

    source_port, app_port = port_of(), port_of()
    source_child = Child([PY, "-m", "bench.token_source", "--port", str(source_port), "--rate", str(rate)],
                         log_dir / "token-source.log", env=child_env())
    source = f"http://127.0.0.1:{source_port}"
    app_child = None
    try:
        wait_http(source + "/health", 60, source_child)
        cmd = [PY, str(ROOT / "app.py"), "--model", "tiny", "--api-base", f"{source}/v1", "--api-key", "unused",
               "--concurrency-limit", str(max(levels)), "--max-queue-size", str(2 * max(levels)),
               "--app-processes", str(app_processes)]
        app_child = Child(cmd, log_dir / "app-capacity.log", env=child_env(GRADIO_SERVER_PORT=str(app_port)))
        url = f"http://127.0.0.1:{app_port}"
        wait_http(url + "/config", 300, app_child)
        config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
        fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")
        target = {"url": url, "fn_index": fn_index, "base": f"{source}/v1", "page_events": chat_tab_events(config)}
        procs = {"app": psutil.Process(app_child.proc.pid), "source": psutil.Process(source_child.proc.pid),
                 "client": psutil.Process(os.getpid())}
        # with --app-processes above 1: each app process too ("app" is then the front and the engines' hub)
        fleet = [p for p in procs["app"].children() if "demo.fleet.child" in " ".join(p.cmdline())]
        procs.update({f"app-p{i}": p for i, p in enumerate(sorted(fleet, key=lambda p: p.pid))})
        max_tokens = int(seconds * rate)

        async def measure():
            # idle connections dropped before the app's keep-alive ends (uvicorn: 5 s): one reused just as the app
            # closed it failed a whole run ("Server disconnected")
            conn = aiohttp.TCPConnector(limit=0, keepalive_timeout=2)
            timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
            async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
                await asyncio.gather(app_stream(http, url, fn_index, 16, 0), direct_stream(http, target["base"], 16, 0))
                rows = []
                for users in levels:
                    for kind in paths:
                        log(f"capacity: {users} {kind} streams at {rate:g} tokens/s")
                        rows.append(await one_level(http, kind, users, max_tokens, rate, target, procs))
                        log(json.dumps({k: v for k, v in rows[-1].items()}, default=str))
                stops = {}
                for kind in ("direct", "app"):
                    for before_first in (True, False):
                        key = f"{kind}_{'before' if before_first else 'after'}_first_token"
                        log(f"stop latency: {key}")
                        stops[key] = [await stop_latency(http, kind, target, source, before_first)
                                      for _ in range(stop_trials)]
                return rows, stops

        rows, stops = asyncio.run(measure())
        return {"rate": rate, "seconds": seconds, "levels": list(levels), "rows": rows, "stop_s": stops,
                "app_command": " ".join(cmd[1:])}
    finally:
        for child in (app_child, source_child):
            if child is not None:
                child.stop()


if __name__ == "__main__":  # the two figures alone (python -m bench runs them with the others)
    import argparse
    import shlex
    import sys
    from pathlib import Path

    from demo.engines.server import free_port

    from . import report
    from .common import machine, versions

    p = argparse.ArgumentParser(prog="python -m bench.capacity")
    p.add_argument("--levels", default="1,16,64,128")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--stop-trials", type=int, default=8)
    p.add_argument("--paths", default="direct,app,page", help="which of direct, app (/chat API), page (the Chat tab)")
    p.add_argument("--out", type=Path, default=None, help="write figures 6 and 7 as Markdown here")
    p.add_argument("--app-processes", type=int, default=1, help="app.py's --app-processes")
    a = p.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    result = run(ROOT / "bench" / "output" / "logs", free_port, tuple(int(x) for x in a.levels.split(",")),
                 a.seconds, stop_trials=a.stop_trials, paths=tuple(a.paths.split(",")), app_processes=a.app_processes)
    print(json.dumps(result, indent=1, default=str))
    if a.out:
        m, v = machine(), versions()
        head = ["# Capacity and Stop latency (figures 6 and 7 of `python -m bench`, run alone)", "",
                f"Generated by `python -m bench.capacity {shlex.join(sys.argv[1:])}` on {started}: {m['cpu']} "
                f"({m['cores']} cores), Python {m['python']}; " + ", ".join(f"{k} {x}" for k, x in v.items()), ""]
        a.out.write_text("\n".join(head + report.section_capacity(result)))
