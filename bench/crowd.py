"""``python -m bench.crowd --model CKPT``: a crowd of visitors through the page's own queue, against the same
number of streams straight to the same co-launched vLLM server, in one run (issue 30, point 5).

Made for a GPU machine (``../shared/GPU_TESTBED.md``) with the real model or the random-weight 4B checkpoint, and
runs anywhere ``app.py`` runs (``--model tiny`` on a CPU, to check the harness). The app is ``app.py --model CKPT``
in a process group of its own, as users start it, with its engines co-launched.

- Visitors: each its own session, as a browser is: ``POST /gradio_api/queue/join`` for ``/chat`` (``--max-tokens``,
  sampled, random weights answer to the end), then the session's SSE stream, read to the end (no
  ``gradio_client``: on the H100 machine it delivered a stream's updates in one bunch at the end). First output:
  the first update with answer text; tokens: the completion tokens of the final stats line.
- Direct: as many raw OpenAI SSE streams to the app's own server (its port and key read from the server's command
  line), the same prompt and settings.
- Per level (``--levels``, 16, 64 and 128): tokens/s in all (tokens over the level's wall time), first output p50
  and p95, the app process's cores (CPU seconds per second, its engines not counted). Visitors' starts spread over
  half a second. Before the levels the server is warmed (a first batch of each path, not counted).
- ``--profile-level N``: py-spy (``PY_SPY``, a path to its binary) records the app for ``--profile-s`` seconds
  while N visitors stream; the functions that hold the most samples go into the results.

Writes Markdown to ``--out`` (bench/RESULTS-crowd.md) with the headline ``64 visitors: 0.NN of direct``, and the
raw figures beside it as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import secrets
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capacity import MARKER, _join_and_read, _patch, chat_tab_events  # noqa: E402
from bench.common import Child, machine, openai_chunks, quantile, versions, wait_http  # noqa: E402

PROMPT = "Write a long story about a lighthouse keeper."
TOKENS = re.compile(r"(\d+) completion tokens")


def server_of(app_pid: int) -> dict:
    """The co-launched server's port, key and served name, from its command line and environment (a descendant of
    the app's, of the same user)."""
    import psutil

    for proc in psutil.Process(app_pid).children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if "vllm.entrypoints.openai.api_server" not in " ".join(cmd):
            continue
        flags: dict[str, str] = {}
        for i, arg in enumerate(cmd):
            if arg.startswith("--"):
                key, eq, value = arg.partition("=")
                flags[key] = value if eq else (cmd[i + 1] if i + 1 < len(cmd) else "")
        host = flags.get("--host", "127.0.0.1")
        key = proc.environ().get("VLLM_API_KEY") or flags.get("--api-key", "")  # the app passes it in the environment
        return {"base": f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{flags['--port']}/v1",
                "key": key, "model": flags.get("--served-model-name", "")}
    raise RuntimeError("no vLLM server among the app's processes")


async def visitor(http, url: str, fn_index: int, max_tokens: int, start_in: float) -> dict:
    await asyncio.sleep(start_in)
    session = secrets.token_hex(8)
    data = [PROMPT, "", [], 0.7, 0.8, 20, max_tokens, 0.0, "auto"]  # /chat's nine values (thinking last)
    t0 = time.perf_counter()
    first, tokens, ok, error = None, 0, False, None
    async with http.post(f"{url}/gradio_api/queue/join",
                         json={"data": data, "fn_index": fn_index, "session_hash": session}) as r:
        r.raise_for_status()
    async with http.get(f"{url}/gradio_api/queue/data", params={"session_hash": session}) as resp:
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            msg = json.loads(line[5:])
            kind = msg.get("msg")
            out = (msg.get("output") or {}).get("data")
            if kind == "process_generating" and out and first is None and out[1]:
                first = time.perf_counter() - t0  # an update with answer text (a full value or a diff)
            if kind == "process_completed":
                ok = bool(msg.get("success"))
                if ok and out:
                    found = TOKENS.search(str(out[0]))
                    tokens = int(found.group(1)) if found else 0
                else:
                    error = str((msg.get("output") or {}).get("error"))[:120]
                break
            if kind == "close_stream":
                break
    return {"first": first, "end": time.perf_counter(), "tokens": tokens, "ok": ok, "error": error}


async def page_visitor(http, url: str, events: tuple[int, int], max_tokens: int, start_in: float) -> dict:
    """A visitor of the Chat tab, as the browser drives it: the Send step, then the answer step; once the answer's
    message carries the light stream's marker (demo/ui/live.py), its text is read from ``live/TICKET`` as the page's
    script does. First output: from the Send to the first update showing answer text."""
    await asyncio.sleep(start_in)
    session = secrets.token_hex(8)
    send, answer_step = events
    t0 = time.perf_counter()
    first, tokens, ok, error, chat, relay = None, 0, False, None, None, None

    async def drain(ticket: str):
        async with http.get(f"{url}/live/{ticket}") as resp:
            async for line in resp.content:
                if line.startswith(b"event: end"):
                    return

    async for _ in _join_and_read(http, url, send, [PROMPT, None], session):
        pass
    gen = [0.7, 0.8, 20, max_tokens, 0.0]
    async for msg in _join_and_read(http, url, answer_step, [None, "", *gen], session):
        kind = msg.get("msg")
        out = (msg.get("output") or {}).get("data")
        if kind in ("process_generating", "process_completed") and out:
            found = TOKENS.search(str(out))
            tokens = int(found.group(1)) if found else tokens
        if kind == "process_generating" and out:
            chat = out[0] if chat is None else _patch(chat, out[0])
            answered = isinstance(chat, list) and any(isinstance(m, dict) and m.get("role") == "assistant"
                                                      for m in chat)
            if first is None and answered:
                first = time.perf_counter() - t0
            marked = MARKER.search(str(out[0])) if relay is None else None
            if marked:
                relay = asyncio.ensure_future(drain(marked.group(1)))
        if kind == "process_completed":
            ok = bool(msg.get("success"))
            if not ok:
                error = str((msg.get("output") or {}).get("error"))[:120]
            break
        if kind == "close_stream":
            break
    if relay is not None:
        await relay
    return {"first": first, "end": time.perf_counter(), "tokens": tokens, "ok": ok, "error": error,
            "light": relay is not None}


async def direct(http, server: dict, max_tokens: int, start_in: float) -> dict:
    await asyncio.sleep(start_in)
    body = {"model": server["model"], "messages": [{"role": "user", "content": PROMPT}], "stream": True,
            "max_tokens": max_tokens, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
            "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {server['key']}"}
    t0 = time.perf_counter()
    first, tokens, ok = None, 0, False
    async with http.post(f"{server['base']}/chat/completions", json=body, headers=headers) as resp:
        if resp.status != 200:
            return {"first": None, "end": time.perf_counter(), "tokens": 0, "ok": False,
                    "error": f"HTTP {resp.status}: {(await resp.text())[:100]}"}
        async for chunk in openai_chunks(resp):
            if chunk is None:
                ok = True
                break
            if chunk.get("usage"):
                tokens = chunk["usage"].get("completion_tokens", tokens)
            if first is None and any((c.get("delta") or {}).get("content") for c in chunk.get("choices", [])):
                first = time.perf_counter() - t0
    return {"first": first, "end": time.perf_counter(), "tokens": tokens, "ok": ok,
            "error": None if ok else "no [DONE]"}


def cpu_s(proc) -> float:
    try:
        c = proc.cpu_times()
    except Exception:  # noqa: BLE001 - an app process that ended (and was started again) counts no more
        return 0.0
    return c.user + c.system


def app_family(app_pid: int) -> dict:
    """The app's own processes, by name: ``app`` (with ``--app-processes`` above 1, the front and the engines'
    hub) and each app process of the fleet (``p0``, ``p1``, ...); its engines are not counted."""
    import psutil

    app = psutil.Process(app_pid)
    family = {"app": app}
    fleet = [p for p in app.children() if "demo.fleet.child" in " ".join(p.cmdline())]
    for i, proc in enumerate(sorted(fleet, key=lambda p: p.pid)):
        family[f"p{i}"] = proc
    return family


async def level(http, kind: str, n: int, target: dict, max_tokens: int, family: dict) -> dict:
    offsets = [random.uniform(0, 0.5) for _ in range(n)]
    cpu0, t0 = {name: cpu_s(p) for name, p in family.items()}, time.perf_counter()
    if kind == "app":
        runs = await asyncio.gather(*(visitor(http, target["url"], target["fn_index"], max_tokens, o)
                                      for o in offsets), return_exceptions=True)
    elif kind == "page":
        runs = await asyncio.gather(*(page_visitor(http, target["url"], target["page_events"], max_tokens, o)
                                      for o in offsets), return_exceptions=True)
    else:
        runs = await asyncio.gather(*(direct(http, target["server"], max_tokens, o) for o in offsets),
                                    return_exceptions=True)
    # a visitor whose connection broke counts as failed, with its reason (the run goes on)
    runs = [r if isinstance(r, dict) else {"first": None, "end": time.perf_counter(), "tokens": 0, "ok": False,
                                           "error": f"{type(r).__name__}: {r}"[:120]} for r in runs]
    wall = max(r["end"] for r in runs) - t0
    firsts = [r["first"] for r in runs]
    errors = collections.Counter(r["error"] for r in runs if not r["ok"])
    return {"kind": kind, "n": n, "wall_s": round(wall, 2), "tokens": sum(r["tokens"] for r in runs),
            "tokens_per_s": round(sum(r["tokens"] for r in runs) / wall, 1),
            "first_p50_s": quantile(firsts, 0.5), "first_p95_s": quantile(firsts, 0.95),
            "app_cores": round(sum(cpu_s(p) - cpu0[name] for name, p in family.items()) / wall, 2),
            "cores_by_process": {name: round((cpu_s(p) - cpu0[name]) / wall, 2) for name, p in family.items()},
            "failed": sum(not r["ok"] for r in runs),
            "errors": dict(errors), "light": sum(bool(r.get("light")) for r in runs)}


def profile(pid: int, seconds: float, out: Path) -> list[tuple[float, str]] | None:
    """py-spy's samples of ``pid`` for ``seconds``: the 25 functions present in the most samples (share, name)."""
    spy = os.environ.get("PY_SPY")
    if not spy or not Path(spy).exists():
        return None
    subprocess.run([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                    "--format", "raw", "--nonblocking", "-o", str(out)], capture_output=True, timeout=seconds + 60)
    if not out.exists():
        return None
    total, inclusive = 0, collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        seen = set()
        for frame in stack.split(";"):
            name = re.sub(r" \(.*\)$", "", frame)
            where = re.search(r"\(([^:)]*)", frame)
            key = f"{name} ({Path(where.group(1)).name if where else ''})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += int(n)
    return [(round(100 * v / total, 1), k) for k, v in inclusive.most_common(25)] if total else None


def main(argv: list[str] | None = None) -> int:
    import aiohttp

    from demo.engines.server import ServerEndpoint, accepts_stream_interval, free_port

    ap = argparse.ArgumentParser(prog="python -m bench.crowd")
    ap.add_argument("--model", required=True)
    ap.add_argument("--levels", default="16,64,128")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-crowd.md"))
    ap.add_argument("--ready-timeout", type=float, default=900.0)
    ap.add_argument("--profile-level", type=int, default=64)
    ap.add_argument("--profile-s", type=float, default=8.0)
    ap.add_argument("--paths", default="direct,app,page",
                    help="direct (the server itself), app (the /chat API), page (the Chat tab, light stream when busy)")
    ap.add_argument("app_args", nargs="*", help="more app.py flags, after --")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    paths = args.paths.split(",")
    profiled = "page" if "page" in paths else "app"  # what visitors use is what is profiled
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = Path(args.out)
    cmd = [sys.executable, str(ROOT / "app.py"), "--model", args.model, "--app-port", str(port), *args.app_args]
    app = Child(cmd, out.with_suffix(".app.log"))
    res: dict = {"command": "python -m bench.crowd " + shlex.join(argv if argv is not None else sys.argv[1:]),
                 "app_command": shlex.join(cmd[1:]), "levels": [], "started": started}
    try:
        t0 = time.monotonic()
        wait_http(f"{url}/config", args.ready_timeout, app)
        config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
        fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")
        family = app_family(app.proc.pid)
        res["app_processes"] = len(family) - 1 or 1
        # profiled: the one process serving the page, or the first of several (they share the visitors alike)
        profiled_pid = family["p0"].pid if "p0" in family else app.proc.pid

        async def run_all():
            # idle connections dropped before a server's own keep-alive ends (uvicorn: 5 s): one reused just as the
            # server closed it failed a whole run ("Server disconnected")
            conn = aiohttp.TCPConnector(limit=0, keepalive_timeout=2)
            timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
            async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
                while True:  # the engines start beside the page: ask until a visitor is answered
                    if not app.alive():
                        raise RuntimeError(f"app.py exited:\n{app.log_tail()}")
                    one = await visitor(http, url, fn_index, 8, 0)
                    if one["ok"]:
                        break
                    if time.monotonic() - t0 > args.ready_timeout:
                        raise TimeoutError(f"no answer within {args.ready_timeout:.0f} s: {one['error']}")
                    await asyncio.sleep(2)
                res["first_answer_after_launch_s"] = round(time.monotonic() - t0, 1)
                target = {"url": url, "fn_index": fn_index, "server": server_of(app.proc.pid),
                          "page_events": chat_tab_events(config)}
                server = target["server"]  # what the app itself found: does vLLM gather tokens per request?
                res["chunking"] = await asyncio.to_thread(accepts_stream_interval, ServerEndpoint(
                    server["base"], server["key"], server["model"]))
                for kind in paths:  # warm: vLLM's first batches (and CUDA graphs' sizes) not counted
                    await level(http, kind, max(levels), target, 32, family)
                for n in levels:
                    for kind in paths:
                        task = None
                        if kind == profiled and n == args.profile_level:
                            task = asyncio.ensure_future(asyncio.to_thread(
                                profile, profiled_pid, args.profile_s, out.with_suffix(f".profile-{n}.txt")))
                        row = await level(http, kind, n, target, args.max_tokens, family)
                        if task is not None:
                            row["profile"] = await task
                        res["levels"].append(row)
                        print(json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)

        asyncio.run(run_all())
    finally:
        app.stop()
    res["machine"], res["versions"] = machine(), versions()
    try:
        res["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=30).stdout.strip() or "no GPU"
    except (OSError, subprocess.SubprocessError):
        res["gpu"] = "no GPU"
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    out.write_text(render(res, args.max_tokens))
    print(out.read_text())
    return 0


PATHS = {"page": "the Chat tab (light stream when busy)", "app": "the /chat API (Gradio's updates)"}


def render(res: dict, max_tokens: int) -> str:
    rows = {(r["kind"], r["n"]): r for r in res["levels"]}
    ns = sorted({r["n"] for r in res["levels"]})
    head = []
    for kind in PATHS:  # the headline: what a visitor of the page gets, else the API
        if (kind, 64) in rows and ("direct", 64) in rows:
            ratio = rows[(kind, 64)]["tokens_per_s"] / max(rows[("direct", 64)]["tokens_per_s"], 1e-9)
            head = [f"**64 visitors: {ratio:.2f} of direct** ({PATHS[kind]})", ""]
            break
    m = res["machine"]
    lines = ["# A crowd through the page's queue, against direct streams (issue 30)", "",
             f"Generated by `{res['command']}` on {res['started']}: {m.get('cpu', '')} ({m.get('cores', '')} cores), "
             f"{res.get('gpu', '')}; " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()), "",
             f"The app: `{res['app_command']}`; first answer {res.get('first_answer_after_launch_s')} s after launch. "
             f"{max_tokens} tokens, sampled. Visitors are raw queue/join + SSE sessions: `page` drives the Chat tab "
             "as a browser does (the Send step, then the answer step, and `live/TICKET` once the answer's message "
             "carries the light stream's marker); `app` calls the `/chat` API. Direct streams are raw OpenAI SSE to "
             "the app's own server. Starts spread over 0.5 s; one warm round of each path first. Light: visitors "
             "whose answer went on the light stream. vLLM's per-request `stream_interval` (the app asks for more "
             "tokens per chunk when busy): " + {True: "taken by this server", False: "not taken by this server (one "
             "chunk per token)"}.get(res.get("chunking"), "not recorded") + ".", "",
             *head,
             "| visitors | path | tokens/s in all | direct | path / direct | first output p50 / p95 | direct | "
             "app cores | light | failed (path / direct) |", "|---|---|---|---|---|---|---|---|---|---|"]

    def s(x):
        return "n/a" if x is None else f"{x:.2f} s"

    for n in ns:
        d = rows.get(("direct", n))
        for kind in PATHS:
            a = rows.get((kind, n))
            if not a or not d:
                continue
            lines.append(f"| {n} | {kind} | {a['tokens_per_s']:,.0f} | {d['tokens_per_s']:,.0f} | "
                         f"**{a['tokens_per_s'] / max(d['tokens_per_s'], 1e-9):.2f}** | {s(a['first_p50_s'])} / "
                         f"{s(a['first_p95_s'])} | {s(d['first_p50_s'])} / {s(d['first_p95_s'])} | "
                         f"{a['app_cores']:.2f} | {a.get('light', 0)} | {a['failed']} / {d['failed']} |")
    if res.get("app_processes", 1) > 1:
        lines += ["", f"The page was served by {res['app_processes']} app processes (`--app-processes`, demo/fleet); "
                  "app cores above are all of the app's own processes together. By process (`app`: the first, "
                  "which runs the front and the engines' hub; `pN`: the app processes):", ""]
        lines += [f"- {r['n']} {r['kind']}: " + ", ".join(f"{name} {c:.2f}" for name, c in
                                                           r.get("cores_by_process", {}).items())
                  for r in res["levels"] if r["kind"] != "direct"]
    for r in res["levels"]:
        if r.get("profile"):
            lines += ["", f"Profile of the app{' (its first app process)' if res.get('app_processes', 1) > 1 else ''} "
                      f"at {r['n']} visitors, path `{r['kind']}` (py-spy, share of samples "
                      "holding the function):", "", "| share | function |", "|---|---|"]
            lines += [f"| {p:.1f} % | `{name}` |" for p, name in r["profile"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
