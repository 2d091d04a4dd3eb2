"""RESULTS.md from one run's raw figures: machine, versions, command, one table per figure against its goal,
then the analysis (``bench/ANALYSIS.md``, written by hand from the measurements, included verbatim)."""

from __future__ import annotations

import math
from pathlib import Path

from demo.settings import Settings

from . import concurrency, image_prep, streaming, video_prep
from .common import Summary, verdict

ANALYSIS = Path(__file__).resolve().parent / "ANALYSIS.md"

# The goals of issue 6.
TTFT_MARGIN_S = 0.020  # added time to first token <= floor + 20 ms
TOTAL_RATIO = 1.10  # total time of a 256-token answer <= 1.10 x direct
CONC_RATIO = 0.9  # at 16 users >= 0.9 x direct throughput
VIDEO_SPEEDUP = 2.0  # 120 s 1080p: >= 2x faster ...
VIDEO_MEMORY = 0.25  # ... and <= 1/4 of the peak memory
IMAGE_BYTES = 5.0  # >= 5x fewer bytes with the same visual tokens


def ms(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{1000 * x:.0f} ms"


def fmt_ms(s: Summary) -> str:
    return s.fmt(1000, 0, " ms")


def paired(trials: list[dict], kind: str, field: str, op) -> Summary:
    """Per round: op(app, direct) for the app and direct trials of the same kind, in run order."""
    app = [t for t in trials if t["path"] == "app" and t["kind"] == kind]
    direct = [t for t in trials if t["path"] == "direct" and t["kind"] == kind]
    vals = [op(a[field], d[field]) for a, d in zip(app, direct) if a[field] is not None and d[field] is not None]
    return Summary.of(vals)


def section_streaming(r: dict | None) -> list[str]:
    out = ["## 1. Streaming overhead", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    trials = r["trials"]
    s = streaming.summarise(r)
    floor = s.get(("floor", "floor"))
    limit = floor["ttft"].median + TTFT_MARGIN_S
    out += [f"Prompt {r['prompt']!r} (text) and `assets/coffee.jpg` with {streaming.IMAGE_QUESTION!r} (image), "
            f"greedy, `max_tokens` {r['max_tokens']}; every answer ran the full {r['max_tokens']} tokens "
            f"(checked from `usage`). Rounds interleave app, direct, floor (text), app, direct (image), the order "
            f"rotating from round to round; "
            f"{len([t for t in trials if t['path'] == 'floor'])} rounds. The floor endpoint yields "
            f"{r['floor_n']} items with no work. Figures: median (p25–p75, n).", "",
            "| | through the app | direct (openai SDK) | Gradio floor | added by the app (paired per round) |",
            "|---|---|---|---|---|"]
    for kind in ("text", "image"):
        a, d = s.get(("app", kind)), s.get(("direct", kind))
        if not a or not d:
            continue
        add_ttft = paired(trials, kind, "ttft", lambda x, y: x - y)
        ratio = paired(trials, kind, "total", lambda x, y: x / y)
        out.append(f"| time to first token, {kind} | {fmt_ms(a['ttft'])} | {fmt_ms(d['ttft'])} | "
                   f"{fmt_ms(floor['ttft']) if kind == 'text' else '–'} | {fmt_ms(add_ttft)} |")
        out.append(f"| total, {r['max_tokens']} tokens, {kind} | {fmt_ms(a['total'])} | {fmt_ms(d['total'])} | "
                   f"{fmt_ms(floor['total']) if kind == 'text' else '–'} | ×{ratio.fmt(1, 2)} |")
        out.append(f"| streamed updates, {kind} | {a['updates'].fmt(1, 0)} | {d['updates'].fmt(1, 0)} "
                   f"(non-empty deltas) | {floor['updates'].fmt(1, 0) if kind == 'text' else '–'} | |")
    out += ["", "| goal | limit | result | |", "|---|---|---|---|"]
    for kind in ("text", "image"):
        if ("app", kind) not in s:
            continue
        add_ttft = paired(trials, kind, "ttft", lambda x, y: x - y)
        ratio = paired(trials, kind, "total", lambda x, y: x / y)
        out.append(f"| time to first token added, {kind} | floor + 20 ms = {ms(limit)} | {ms(add_ttft.median)} | "
                   f"{verdict(add_ttft.median <= limit)} |")
        out.append(f"| total time, {r['max_tokens']}-token answer, {kind} | ≤ ×{TOTAL_RATIO:.2f} direct | "
                   f"×{ratio.median:.2f} | {verdict(ratio.median <= TOTAL_RATIO)} |")
        app_u = [t["updates"] for t in trials if t["path"] == "app" and t["kind"] == kind]
        dir_u = [t["updates"] for t in trials if t["path"] == "direct" and t["kind"] == kind]
        over = [_updates_over_budget(t) for t in trials if t["path"] == "app" and t["kind"] == kind]
        coalesced = max(over) <= 0 if over else None
        out.append(f"| updates coalesced, {kind} | at most the first, one per {ms(STREAM_INTERVAL_S)} and the last | "
                   f"{min(app_u)}–{max(app_u)} updates (the server's {min(dir_u)}–{max(dir_u)} non-empty deltas) | "
                   f"{verdict(coalesced)} |")
        app_t = [t["tokens"] for t in trials if t["path"] == "app" and t["kind"] == kind]
        whole = all(n == r["max_tokens"] for n in app_t) if app_t else None
        out.append(f"| no token lost, {kind} | the app's answers carry all {r['max_tokens']} tokens | "
                   f"{min(app_t) if app_t else '–'}–{max(app_t) if app_t else '–'} | {verdict(whole)} |")
    out += ["", "Random weights emit byte-level tokens that are not whole characters: the server streams "
            "those as empty deltas, so non-empty deltas are fewer than tokens. The app sends the first text at "
            "once, then at most one update per stream interval carrying every delta since the last, then the "
            "rest at the end: fewer updates than deltas, and no token lost.", ""]
    return out


def section_concurrency(r: dict | None) -> list[str]:
    out = ["## 2. Concurrency", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    s = concurrency.summarise(r)
    rounds = len({x["round"] for x in r["rounds"]})
    out += [f"Each user sends {r['per_user']} requests back to back ({r['max_tokens']} tokens each, greedy, "
            f"the prompt of figure 1); app users are separate `gradio_client` clients (as separate browsers), "
            f"direct users separate `openai` clients; {rounds} rounds, app and direct alternating. Completed "
            "requests per second: median (p25–p75, n).", "",
            "| users | through the app | direct | app / direct (per round) | goal | result |",
            "|---|---|---|---|---|---|"]
    for users, v in s.items():
        goal = f"≥ {CONC_RATIO}" if users == max(s) and users >= 16 else "–"
        ok = v["ratio"].median >= CONC_RATIO if goal != "–" else None
        errors = f" ({v['errors']} failed requests)" if v["errors"] else ""
        out.append(f"| {users} | {v['app'].fmt(1, 2, ' req/s')} | {v['direct'].fmt(1, 2, ' req/s')} | "
                   f"{v['ratio'].fmt(1, 2)}{errors} | {goal} | {verdict(ok) if ok is not None else ''} |")
    out.append("")
    top = max(s)
    v = s[top]
    cpu = v.get("cpu", {})
    if cpu.get("app"):
        names = sorted({k for c in cpu.values() for k in c})
        out += [f"CPU seconds per completed request at {top} users, by process (the machine has "
                "2 cores shared by all of them): median.", "",
                "| path | " + " | ".join(names) + " | total |", "|---|" + "---|" * (len(names) + 1)]
        for path in ("app", "direct"):
            c = cpu.get(path)
            if not c:
                continue
            meds = {k: c[k].median if k in c else 0.0 for k in names}
            out.append(f"| {path} | " + " | ".join(f"{1000 * meds[k]:.0f} ms" for k in names)
                       + f" | {1000 * sum(meds.values()):.0f} ms |")
        out.append("")
    return out


def section_video(r: dict | None) -> list[str]:
    out = ["## 3. Video preparation", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    s = video_prep.summarise(r)
    out += ["Generated H.264 clips (30 fps, libx264 `veryfast`, CRF 23, moving textured content). The app's path: "
            "`video_frames.probe` + `plan_frames` + `read_frames` (OpenCV, in order, only kept frames converted "
            "and resized) + `np.stack`, then the worker's `process_vision_info` on that frame list. The "
            "reference: `qwen_vl_utils.process_vision_info` on the file with its default reader (decord), given "
            "the same `nframes` and `resized_height`/`resized_width`. Each trial is a fresh process that imports "
            "the same modules (torch, OpenCV, qwen-vl-utils) before the clock starts; seconds exclude imports. "
            "Memory: the process's peak resident set (VmHWM) above its resident set after those imports, i.e. "
            "what the path itself takes; the whole-process peaks are in brackets. (In the app, the reading runs "
            "in `video_frames.read_clip`'s child, which has no torch, and the vision step in the worker, which "
            "holds vLLM anyway.) Median (p25–p75, n).", "",
            "| clip | kept | reference s | app s (read + worker) | speedup | reference memory | app memory | "
            "app / reference memory | goal | result |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, v in s.items():
        is_goal = label.startswith("120 s") and "1080p" in label
        ok = (v["speedup"] >= VIDEO_SPEEDUP and v["memory_ratio"] <= VIDEO_MEMORY) if is_goal else None
        goal = f"≥ {VIDEO_SPEEDUP:.0f}x, ≤ {VIDEO_MEMORY:.2f}" if is_goal else "–"
        out.append(
            f"| {label} ({v['src']}) | {v['frames']} × {v['size']} | {v['ref_s'].fmt(1, 2)} | "
            f"{v['app_s'].fmt(1, 2)} ({v['app_read_s'].median:.2f} + {v['app_vision_s'].median:.2f}) | "
            f"{v['speedup']:.1f}x | {v['ref_inc'].median:.2f} GiB ({v['ref_peak'].median:.2f}) | "
            f"{v['app_inc'].median:.2f} GiB ({v['app_peak'].median:.2f}) | "
            f"{v['memory_ratio']:.2f} ({v['memory_ratio_process']:.2f}) | {goal} | "
            f"{verdict(ok) if ok is not None else ''} |")
    base = Summary.of(x["base"].median for x in s.values())
    same = all(v["same_shape"] for v in s.values()) and all(v["same_indices"] for v in s.values())
    key = next((k for k in s if k.startswith("120 s") and "1080p" in k), None)
    if key:
        v = s[key]
        out += ["", f"On the 120 s 1080p clip: speed {verdict(v['speedup'] >= VIDEO_SPEEDUP)} "
                f"({v['speedup']:.2f}x), memory {verdict(v['memory_ratio'] <= VIDEO_MEMORY)} "
                f"({v['memory_ratio']:.2f} of the reference's; whole processes {v['memory_ratio_process']:.2f})."]
    shapes = "the same tensor shape and the same frame indices" if same else "DIFFERENT shapes or frame indices"
    out += ["", f"Resident memory after imports, before reading: {base.median:.2f} GiB in both. Both methods "
            f"returned {shapes} for every clip.", ""]
    return out


def section_image(r: dict | None) -> list[str]:
    out = ["## 4. Image preparation", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    s = image_prep.summarise(r)
    w, h = r["size"]
    a, o = s["app"], s["original"]
    out += [f"A generated {w}×{h} ({w * h / 1e6:.0f} MP) photo-like JPEG of {r['file_bytes'] / 1e6:.2f} MB, quality "
            f"92. The app: `check_image` + `image_part` (decode, upright, downscale to {r['max_pixels']:,} pixels, "
            "JPEG, data URL). The original: the file's bytes as a data URL, with the server told the same pixel "
            f"budget (`mm_processor_kwargs.max_pixels` = {r['max_pixels']:,}). Request: `max_tokens` 1 (the "
            "image's cost). Median (p25–p75, n).", "",
            "| | bytes sent | preparation | request | total | prompt tokens |", "|---|---|---|---|---|---|"]
    for name, v in (("the app", a), ("the original file", o)):
        toks = ", ".join(str(t) for t in v["prompt_tokens"]) or "error: " + "; ".join(v["errors"])[:200]
        out.append(f"| {name} | {v['bytes'].median / 1e6:.3f} MB | {fmt_ms(v['prep_s'])} | {fmt_ms(v['request_s'])} | "
                   f"{fmt_ms(v['total_s'])} | {toks} |")
    unb = r["original_unbounded"]
    out += ["", "The original with the server's own budget (the real model's processor: 16.7 MP): "
            + (f"{unb['prompt_tokens']} prompt tokens." if unb["prompt_tokens"] else f"refused: {unb['error']}"),
            f"Text alone: {r['text_prompt_tokens']} prompt tokens.", "",
            "| goal | result | |", "|---|---|---|",
            f"| ≥ {IMAGE_BYTES:.0f}x fewer bytes | {s['bytes_ratio']:.1f}x | "
            f"{verdict(s['bytes_ratio'] >= IMAGE_BYTES)} |",
            f"| the same visual tokens | app {', '.join(map(str, a['prompt_tokens']))} vs original "
            f"{', '.join(map(str, o['prompt_tokens'])) or 'n/a'} | {verdict(s['same_tokens'])} |"]
    out.append("")
    return out


def app_start_rows(r: dict) -> list[str]:
    """The whole app launched as a newcomer does (cold, then warm), each start's goal and verdict."""
    st = r.get("app_starts")
    if not st:
        return []
    f = lambda x: "did not succeed" if x is None else f"{x:.0f} s"  # noqa: E731
    out = ["`scripts/run.sh --model tiny` as a newcomer runs it: `app.py --model tiny`, launched cold (a new cache "
           "folder and a new `VLLM_CACHE_ROOT`: the tiny checkpoint is built, nothing is cached), then warm on the "
           "same caches, then once with both engines started together for comparison. Seconds from launch; the "
           "engines' own start times are those the app recorded (`start-times.json`, shown in the page while the "
           "next start runs).", "",
           "| start | caches | engine order | page | first chat answer | first video answer | server ready in | "
           "worker ready in | goal (first chat) | result |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for i, row in enumerate(st["rounds"], 1):
        goal = st["cold_goal_s"] if row["kind"] == "cold" else st["warm_goal_s"]
        chat = row.get("chat_s")
        ok = chat is not None and chat <= goal
        eng = row.get("engines") or {}
        judged = (f"≤ {goal:.0f} s | {verdict(ok)}" if row["order"] == "server-first"
                  else "– (the other order, for comparison) | –")
        out.append(f"| {i} | {row['kind']} | {row['order']} | {f(row.get('page_s'))} | **{f(chat)}** | "
                   f"{f(row.get('video_s'))} | {f(eng.get('server'))} | {f(eng.get('video worker'))} | "
                   f"{judged} |")
    return out + [""]


def app_start_summary(st: dict) -> tuple[str, bool] | None:
    rounds = (st or {}).get("app_starts", {}).get("rounds") or []
    first = [r for r in rounds if r["order"] == "server-first"]
    if not first:
        return None
    cold = [r["chat_s"] for r in first if r["kind"] == "cold"]
    warm = [r["chat_s"] for r in first if r["kind"] == "warm"]
    goals = (st["app_starts"]["cold_goal_s"], st["app_starts"]["warm_goal_s"])
    ok = (all(c is not None and c <= goals[0] for c in cold)
          and bool(warm) and all(w is not None and w <= goals[1] for w in warm))
    f = lambda x: "none" if x is None else f"{x:.0f}"  # noqa: E731
    text = (f"first chat: cold {', '.join(f(c) for c in cold)} s (≤ {goals[0]:.0f}); warm "
            f"{', '.join(f(w) for w in warm)} s (≤ {goals[1]:.0f})")
    return text, ok


def section_startup(r: dict | None, quick: bool) -> list[str]:
    out = ["## 5. Start-up", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    out += app_start_rows(r)
    out += ["Seconds from launch. Phases come from the engines' log lines, stamped as they appear: import = "
            "launch to vLLM's first log line (Python, torch, vLLM, argument parsing); model load = \"Starting to "
            "load model\" to \"Loading weights took\"; compile/warm-up = \"Warming up model for the compilation\" "
            "to \"Warming up done\" (torch.compile, the vision encoder's profile run); the rest is the API "
            "server's processor set-up, spawning the engine process and its worker (each imports vLLM again), "
            "the KV cache and the HTTP server.", "",
            "| | ready | import | processor + engine spawn | worker spawn + import | model load | "
            "compile / warm-up | KV cache + rest | until ready | compile cache |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, key in (("vLLM server", "server"), ("video worker", "worker")):
        v = r.get(key)
        if not v:
            continue
        p = v["phases"]
        f = lambda x: "n/a" if x is None else f"{x:.1f} s"  # noqa: E731
        out.append(f"| {name} | **{v['ready_s']:.1f} s** | {f(p['import_and_args'])} | "
                   f"{f(p['processor_and_engine_spawn'])} | {f(p['worker_spawn_and_import'])} | "
                   f"{f(p['model_load'])} | {f(p['compile_and_warmup'])} | {f(p['kv_cache_and_rest'])} | "
                   f"{f(p['until_ready'])} | {v['compile']} |")
    out.append("")
    extra = []
    if r.get("import_vllm_s"):
        extra.append(f"`python -c \"import vllm\"` alone: {r['import_vllm_s'][0]:.1f} s")
    if r.get("import_app_s"):
        extra.append(f"`import gradio, demo.ui` (the app's imports): {r['import_app_s'][0]:.1f} s")
    if r.get("app_attached_page_s") is not None:
        extra.append(f"`app.py --api-base` (attached, no engine) until its page answers: "
                     f"{r['app_attached_page_s']:.1f} s")
    wa = r.get("whole_app")  # runs before the app-start rounds had it
    if wa:
        f = lambda x: "did not succeed" if x is None else f"{x:.1f} s"  # noqa: E731
        extra.append(f"whole app (`app.py --model tiny`, both engines co-launched): page answers after "
                     f"{f(wa['page_s'])}, first `/chat` answer after **{f(wa['chat_s'])}**, first "
                     f"`/describe_video` answer after **{f(wa['video_s'])}**")
    for v, name in ((r.get("server"), "server"), (r.get("worker"), "worker")):
        if v and v.get("stated"):
            extra.append(f"vLLM's own figures ({name}): " + ", ".join(f"{k} {x:g} s" for k, x in v["stated"].items()))
    if quick:
        extra.append("`--quick` measures the server and the attached app only (the worker and the whole app "
                     "take minutes).")
    out += [f"- {e}" for e in extra] + [""]
    return out


CAP_USERS, CAP_CORES, CAP_P95_MS, STOP_MS = 64, 1.0, 150.0, 100.0
# streams: (most app cores, most p95 delay in ms), every one with 0 tokens lost: issue 6 at 64, issue 30 at 16 and 256
CAP_GOALS = {16: (None, 60.0), CAP_USERS: (CAP_CORES, CAP_P95_MS), 256: (1.0, 300.0)}


def section_capacity(r: dict | None) -> list[str]:
    out = ["## 6. Capacity at a GPU's token rate", ""]
    if not r:
        return out + ["Not measured in this run.", ""]
    out += [f"`bench/token_source.py` streams every request at {r['rate']:g} tokens/s "
            f"({r['seconds']:g} s each); the app (`{r['app_command']}`) is attached to it; direct clients read the "
            "source itself. One asyncio client process (aiohttp) for all streams, starts spread over one second. "
            "Cores: CPU seconds per second of the run, by process. Delay: from a token's emission to its arrival at "
            "the client, over every token of every stream. Paths: `direct` (the source itself), `app` (the `/chat` "
            "API, every update through Gradio's queue), `page` (the Chat tab as a browser drives it: its Send step, "
            "its answer step, and the light stream `live/TICKET` once the answer's message names it).", "",
            "| streams | path | app cores | source cores | client cores | p50 delay | p95 delay | tokens lost | "
            "failed | updates / stream / s | goal | result |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        c = row["cores"]
        goal, ok = "", None
        if row["kind"] in ("app", "page") and row["users"] in CAP_GOALS:
            cores, p95 = CAP_GOALS[row["users"]]
            goal = (f"≤ {cores:g} core, " if cores else "") + f"p95 ≤ {p95:.0f} ms, 0 lost"
            ok = (cores is None or c["app"] <= cores) and row["p95_ms"] <= p95 and row["lost"] == 0
        out.append(f"| {row['users']} | {row['kind']} | {c['app']:.2f} | {c['source']:.2f} | {c['client']:.2f} | "
                   f"{row['p50_ms']:.0f} ms | {row['p95_ms']:.0f} ms | {row['lost']} | {row['failed']} | "
                   f"{row['updates_per_s']:.1f} | {goal} | {verdict(ok) if ok is not None else ''} |")
    if any("app-front" in row["cores"] for row in r["rows"]):
        out += ["", "App cores are all of the app's own processes (`--app-processes` above 1, demo/fleet). By process "
                "(`front`: the app's first process, with the front and the engines' hub; `pN`: the app processes):",
                ""]
        out += [f"- {row['users']} {row['kind']}: " + ", ".join(
                    f"{name.removeprefix('app-')} {c:.2f}" for name, c in row["cores"].items()
                    if name == "app-front" or name.startswith("app-p")) for row in r["rows"] if row["kind"] != "direct"]
    out += ["", "## 7. Stop latency", "",
            "From the cancel (Gradio's `/gradio_api/cancel`, what Stop and `job.cancel()` send; for the direct path, "
            "closing the response) to the source seeing its stream closed (end-of-file on its socket). Before the "
            "first token: the request waits on a 5 s prefill; after: five tokens have arrived. Median (p25–p75, n).",
            "", "| path | before the first token | after the first token | goal | result |", "|---|---|---|---|---|"]
    for path in ("app", "direct"):
        before = Summary.of(r["stop_s"][f"{path}_before_first_token"])
        after = Summary.of(r["stop_s"][f"{path}_after_first_token"])
        ok = max(before.hi, after.hi) * 1000 <= STOP_MS if path == "app" else None
        out.append(f"| {path} | {before.fmt(1000, 1, ' ms')} | {after.fmt(1000, 1, ' ms')} | "
                   f"{'every stop ≤ ' + str(int(STOP_MS)) + ' ms' if path == 'app' else ''} | "
                   f"{verdict(ok) if ok is not None else ''} |")
    return out + [""]


def render(res: dict) -> str:
    m, v = res["machine"], res["versions"]
    lines = ["# Benchmarks: the app's own costs (tiny checkpoint)", "",
             f"Generated by `{res['command']}` (from the repository root, with `.venv/bin/python`) on "
             f"{res['started']}, in {res.get('elapsed_s', 0) / 60:.1f} minutes."
             + (" **--quick: a tiny setting that checks the harness; its figures mean little.**"
                if res["quick"] else ""), "",
             "These figures are the app's costs around the model (Gradio, the SDK, reading video and images), "
             "which do not depend on the model's size; the model is the tiny random-weight Qwen3-VL checkpoint "
             "served by the real vLLM CPU engine, which generates far faster than a real 4B model would, so the "
             "app's per-token costs weigh more here than they will in use.", "",
             "## Machine and versions", "",
             f"- CPU: {m['cpu']} ({m['cores']} cores; {m['cpu_flags'] or 'no AVX2/AVX-512 flags seen'}), "
             f"RAM {m['ram_gib']} GiB ({m['available_gib_at_start']} GiB available at start), {m['os']}",
             f"- Load average (1, 5, 15 min) at start: {m['load_avg_at_start']}"
             + (f", at the end: {res['load_avg_at_end']}" if res.get("load_avg_at_end") else "")
             + "; other engines/apps running at start: "
             f"{len(res.get('others_at_start', []))}, at the end: {len(res.get('others_at_end', []))}"
             + (" (**shared machine: the figures are noisy**)" if res.get("others_at_start") or
                res.get("others_at_end") else ""),
             f"- Python {m['python']}; " + ", ".join(f"{k} {x}" for k, x in v.items()), ""]
    if res.get("skipped"):
        lines += [f"Left out on request: {', '.join(res['skipped'])}.", ""]
    if res.get("errors"):
        lines += ["**Errors in this run:**", ""] + [f"- {k}: `{e[:500]}`" for k, e in res["errors"].items()] + [""]
    lines += _summary(res)
    lines += section_streaming(res.get("streaming"))
    lines += section_concurrency(res.get("concurrency"))
    lines += section_video(res.get("video"))
    lines += section_image(res.get("image"))
    lines += section_startup(res.get("startup"), res["quick"])
    lines += section_capacity(res.get("capacity"))
    if ANALYSIS.exists() and not res["quick"]:
        lines += [ANALYSIS.read_text().strip(), ""]
    return "\n".join(lines)


# The coalescing goal of issue 11 (first text at once, then at most one update per interval, the rest flushed at
# the end), at the app's default --stream-interval, which is what the benchmark runs it with.
STREAM_INTERVAL_S = Settings.stream_interval


def _updates_over_budget(trial: dict) -> float:
    """Updates beyond what the interval allows for the trial's duration (first + one per interval + last)."""
    return trial["updates"] - (trial["total"] / STREAM_INTERVAL_S + 2)


def _summary(res: dict) -> list[str]:
    """One line per goal, for the top of the report."""
    rows = []
    r = res.get("streaming")
    if r:
        s = streaming.summarise(r)
        limit = s[("floor", "floor")]["ttft"].median + TTFT_MARGIN_S
        t = paired(r["trials"], "text", "ttft", lambda x, y: x - y).median
        q = paired(r["trials"], "text", "total", lambda x, y: x / y).median
        rows.append(f"| 1 | TTFT added ≤ floor + 20 ms ({ms(limit)}) | {ms(t)} | {verdict(t <= limit)} |")
        rows.append(f"| 1 | total ≤ ×{TOTAL_RATIO} direct ({r['max_tokens']} tokens) | ×{q:.2f} | "
                    f"{verdict(q <= TOTAL_RATIO)} |")
        app = [x for x in r["trials"] if x["path"] == "app" and x["kind"] == "text"]
        whole = all(x["tokens"] == r["max_tokens"] for x in app)
        within = all(_updates_over_budget(x) <= 0 for x in app)
        rows.append(f"| 1 | updates coalesced (≤ 1 per {ms(STREAM_INTERVAL_S)}), no token lost | "
                    f"{max(x['updates'] for x in app)} updates at most, {min(x['tokens'] for x in app)} tokens at "
                    f"least | {verdict(whole and within)} |")
    r = res.get("concurrency")
    if r:
        s = concurrency.summarise(r)
        top = max(s)
        ratio = s[top]["ratio"].median
        rows.append(f"| 2 | {top} users ≥ {CONC_RATIO} of direct throughput | {ratio:.2f} | "
                    f"{verdict(ratio >= CONC_RATIO) if top >= 16 else 'n/a (quick)'} |")
    r = res.get("video")
    if r:
        s = video_prep.summarise(r)
        key = next((k for k in s if k.startswith("120 s") and "1080p" in k), None)
        if key:
            v = s[key]
            rows.append(f"| 3 | 120 s 1080p: ≥ {VIDEO_SPEEDUP:.0f}x faster, ≤ {VIDEO_MEMORY} of the memory | "
                        f"{v['speedup']:.1f}x, {v['memory_ratio']:.2f} | "
                        f"{verdict(v['speedup'] >= VIDEO_SPEEDUP and v['memory_ratio'] <= VIDEO_MEMORY)} |")
        else:
            k, v = next(iter(s.items()))
            rows.append(f"| 3 | (quick: {k} only) | {v['speedup']:.1f}x, {v['memory_ratio']:.2f} | n/a |")
    r = res.get("image")
    if r:
        s = image_prep.summarise(r)
        rows.append(f"| 4 | ≥ {IMAGE_BYTES:.0f}x fewer bytes, same visual tokens | {s['bytes_ratio']:.1f}x, "
                    f"tokens {'equal' if s['same_tokens'] else 'differ'} | "
                    f"{verdict(s['bytes_ratio'] >= IMAGE_BYTES and s['same_tokens'])} |")
    st = res.get("startup") or {}
    if st.get("server"):
        parts = [f"server {st['server']['ready_s']:.0f} s"]
        if st.get("worker"):
            parts.append(f"worker {st['worker']['ready_s']:.0f} s")
        if st.get("whole_app") and st["whole_app"].get("video_s"):
            parts.append(f"whole app {st['whole_app']['video_s']:.0f} s")
        rows.append(f"| 5 | start-up of each engine alone (no goal: reported) | {', '.join(parts)} | – |")
    summary = app_start_summary(st)
    if summary:
        rows.append(f"| 5 | app's first chat answer ≤ {st['app_starts']['cold_goal_s']:.0f} s cold, "
                    f"≤ {st['app_starts']['warm_goal_s']:.0f} s warm | {summary[0]} | {verdict(summary[1])} |")
    r = res.get("capacity")
    if r:
        row = next((x for x in r["rows"] if x["kind"] == "app" and x["users"] == CAP_USERS), None)
        if row:
            ok = row["cores"]["app"] <= CAP_CORES and row["p95_ms"] <= CAP_P95_MS and row["lost"] == 0
            rows.append(f"| 6 | {CAP_USERS} streams at {r['rate']:g} tokens/s: app ≤ {CAP_CORES:g} core, p95 delay "
                        f"≤ {CAP_P95_MS:.0f} ms, 0 lost | {row['cores']['app']:.2f} cores, {row['p95_ms']:.0f} ms, "
                        f"{row['lost']} lost | {verdict(ok)} |")
        stops = [x for k, v in r["stop_s"].items() if k.startswith("app") for x in v]
        if stops:
            rows.append(f"| 7 | Stop closes the stream within {STOP_MS:.0f} ms | slowest {1000 * max(stops):.0f} ms "
                        f"of {len(stops)} | {verdict(1000 * max(stops) <= STOP_MS)} |")
    if not rows:
        return []
    return ["## Summary", "", "| figure | goal | result | |", "|---|---|---|---|"] + rows + [""]
