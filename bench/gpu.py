"""``python -m bench.gpu --model CKPT``: what a GPU decides, measured on a machine with a CUDA GPU.

For anyone with a CUDA GPU and the CUDA build of vLLM, with the real model or the random full-size checkpoint
(shared/gpu/build_full.py). Through the app's own engine layer (``demo.engines.engines.Engines``: its device plan,
server command and video worker) and, for reference, straight to the same server with the ``openai`` SDK:

- start-up of each engine, cold (an empty vLLM compile cache) and warm (the same cache again), and whether
  the two engines were ready together;
- memory of each engine from vLLM's own log lines (weights, KV cache, CUDA graphs) and ``nvidia-smi``;
- chat and image: time to first token and tokens/s per stream at 1, 8 and 32 users, app layer and direct;
- video: through the worker (the seed's offline ``LLM``) and through the server (``video_url``), the same clip.

Writes the tables to ``--out`` (bench/RESULTS-gpu.md) and the raw figures beside it as JSON. Gradio's own
overhead is not measured here: the CPU benchmark (``python -m bench``) does that on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import quantile  # noqa: E402

# vLLM's own log lines (0.26 and 0.32 print them alike); the last of each in an engine's log counts.
MEMORY_LINES = {
    "weights_gib": r"Model loading took ([\d.]+) GiB",
    "kv_cache_gib": r"(?:Available KV cache memory: ([\d.]+) GiB|reserved ([\d.]+) GiB memory for KV Cache)",
    "kv_tokens": r"KV cache size: ([\d,]+) tokens",
    "cuda_graphs_gib": r"Graph capturing finished in [\d.]+ secs?, took ([\d.]+) GiB",
    "torch_peak_gib": r"torch peak memory increase: ([\d.]+) ?GiB",
    "init_engine_s": r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s",
    "compile_s": r"init engine \(profile, create kv cache, warmup model\) took [\d.]+ s \(compilation: ([\d.]+) s",
}


def parse_memory(log_text: str) -> dict[str, float]:
    """Each figure of :data:`MEMORY_LINES` found in ``log_text`` (its last occurrence)."""
    out = {}
    for key, pattern in MEMORY_LINES.items():
        found = re.findall(pattern, log_text)
        if found:
            last = found[-1]
            value = next((v for v in last if v), "") if isinstance(last, tuple) else last
            if value:
                out[key] = float(value.replace(",", ""))
    return out


def gpu_processes() -> list[dict]:
    """Every compute process on the GPUs with its memory (MiB), as nvidia-smi lists them."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            rows.append({"pid": int(parts[0]), "mib": float(parts[1]) if parts[1].replace(".", "").isdigit() else None})
    return rows


def group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


# --- streams ------------------------------------------------------------------------------------------------
async def app_stream(engines, messages, params) -> dict:
    from demo.engines.client import AnswerStats

    start, first, stats = time.perf_counter(), None, None
    async with aclosing(engines.stream_chat(messages, params)) as items:
        async for item in items:
            if isinstance(item, str) and first is None:
                first = time.perf_counter() - start
            elif isinstance(item, AnswerStats):
                stats = item
    total = time.perf_counter() - start
    tokens = stats.completion_tokens if stats else 0
    return {"ttft": first, "total": total, "tokens": tokens, "prompt": stats.prompt_tokens if stats else 0}


async def direct_stream(client, model: str, messages, params) -> dict:
    start, first, usage = time.perf_counter(), None, None
    stream = await client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True},
        temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
        presence_penalty=params.presence_penalty, extra_body={"top_k": params.top_k})
    async with stream:
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if first is None and any(c.delta and c.delta.content for c in chunk.choices):
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    return {"ttft": first, "total": total, "tokens": usage.completion_tokens if usage else 0,
            "prompt": usage.prompt_tokens if usage else 0}


def per_stream_rate(r: dict) -> float | None:
    """Decode tokens/s of one stream: tokens after the first over the time after the first."""
    if r["ttft"] is None or r["tokens"] < 2 or r["total"] <= r["ttft"]:
        return None
    return (r["tokens"] - 1) / (r["total"] - r["ttft"])


async def level(run_one, users: int) -> dict:
    start = time.perf_counter()
    results = await asyncio.gather(*(run_one() for _ in range(users)))
    wall = time.perf_counter() - start
    rates = [per_stream_rate(r) for r in results]
    return {"users": users, "ttft_p50": quantile([r["ttft"] for r in results], 0.5),
            "ttft_p95": quantile([r["ttft"] for r in results], 0.95),
            "tok_s_p50": quantile(rates, 0.5), "aggregate_tok_s": sum(r["tokens"] for r in results) / wall,
            "tokens": sum(r["tokens"] for r in results), "prompt": results[0]["prompt"], "wall": wall}


async def rounds_of(run_one, users: int, rounds: int) -> dict:
    """``rounds`` rounds of ``users`` streams at once: the median round by first-token p50, and every round's."""
    results = [await level(run_one, users) for _ in range(rounds)]
    ordered = sorted(results, key=lambda r: r["ttft_p50"] if r["ttft_p50"] is not None else float("inf"))
    median = ordered[len(ordered) // 2]
    return {**median, "rounds": rounds, "ttft_p50_rounds": [r["ttft_p50"] for r in results],
            "aggregate_rounds": [r["aggregate_tok_s"] for r in results]}


async def workloads(engines, users: list[int], max_tokens: int, log, rounds: int = 3) -> dict:
    from demo.engines.client import GenerationParams, make_client
    from demo.inputs.conversation import to_openai, user_turn

    params = GenerationParams(temperature=0.7, top_p=0.8, top_k=20, max_tokens=max_tokens, presence_penalty=0.0)
    ep = engines.server.endpoint
    client = make_client(ep.base_url, ep.api_key, 600)
    chat = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    question = user_turn("Describe this image.", [str(ROOT / "assets" / "coffee.jpg")])
    image = await asyncio.to_thread(to_openai, [question], "")
    out = {}
    for name, messages in (("chat", chat), ("image", image)):
        await direct_stream(client, ep.model, messages, params)  # one warm-up of each kind, not counted
        for n in users:
            for path, one in (("app", lambda m=messages: app_stream(engines, m, params)),
                              ("direct", lambda m=messages: direct_stream(client, ep.model, m, params))):
                r = await rounds_of(one, n, rounds)
                out.setdefault(name, []).append({"path": path, **r})
                log(f"{name} {path} x{n}: ttft p50 by round {r['ttft_p50_rounds']}, {r['tok_s_p50']} tok/s per "
                    f"stream, {r['aggregate_tok_s']:.0f} tok/s in all")
    await client.close()
    return out


async def video_runs(engines, max_tokens: int, log) -> dict:
    from demo.engines.params import GenerationParams, VideoSampling
    from demo.engines.video_events import Delta, Done, Frames

    clip = str(ROOT / "assets" / "example.mp4")
    sampling = VideoSampling(fps=2.0, max_frames=64, max_pixels=640 * 360)
    question = "Describe this video."
    params = GenerationParams(max_tokens=max_tokens, presence_penalty=0.0)
    out = {}
    paths = [("server", lambda: engines.answer_video(clip, question, sampling, params, via_server=True))]
    if engines.worker is not None:
        paths.insert(0, ("worker", lambda: engines.answer_video(clip, question, sampling, params)))
    for name, make in paths:
        for attempt in ("warm-up", "timed"):
            start, first, answer, frames = time.perf_counter(), None, None, None
            async with aclosing(make()) as events:
                async for ev in events:
                    if isinstance(ev, Frames):
                        frames = ev.plan.nframes
                    elif isinstance(ev, Delta) and first is None:
                        first = time.perf_counter() - start
                    elif isinstance(ev, Done):
                        answer = ev.answer
            total = time.perf_counter() - start
            if attempt == "timed":
                out[name] = {"total_s": total, "ttft_s": first, "frames": frames,
                             "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                             "generate_s": answer.generate_s, "finish": answer.finish_reason}
                log(f"video via {name}: {out[name]}")
    return out


# --- start-up -----------------------------------------------------------------------------------------------
def start_engines(settings, log_dir: Path, log) -> tuple[object, dict]:
    from demo.engines.engines import Engines

    offsets = {p.name: p.stat().st_size for p in log_dir.glob("*.log")} if log_dir.exists() else {}
    t0 = time.monotonic()
    engines = Engines.create(settings, log_dir=log_dir)
    engines.start()
    ready: dict[str, float] = {}
    deadline = t0 + settings.startup_timeout
    while time.monotonic() < deadline:
        for st in engines.statuses():
            if st.state == "ready" and st.name not in ready:
                ready[st.name] = time.monotonic() - t0
                log(f"{st.name} ready after {ready[st.name]:.1f} s")
            if st.state in ("error", "stopped"):
                engines.stop()
                raise RuntimeError(f"{st.name}: {st.describe()}")
        if len(ready) == len(engines.statuses()):
            break
        time.sleep(0.5)
    else:
        engines.stop()
        raise RuntimeError("the engines did not start in time")
    memory = {}
    for p in sorted(log_dir.glob("*.log")):
        with open(p, errors="replace") as f:
            f.seek(offsets.get(p.name, 0))
            memory[p.stem] = parse_memory(f.read())
    groups = {"server": group_of(engines.server.pid) if engines.server.pid else None}
    procs = gpu_processes()
    by_engine: dict[str, float] = {}
    for proc in procs:
        g = group_of(proc["pid"])
        name = "server" if g is not None and g == groups["server"] else "video worker"
        by_engine[name] = by_engine.get(name, 0.0) + (proc["mib"] or 0.0) / 1024
    return engines, {"ready_s": ready, "plan": engines.plan.describe(), "notes": list(engines.plan.notes),
                     "log_memory": memory, "nvidia_smi_gib": by_engine}


# --- report -------------------------------------------------------------------------------------------------
def f(x, digits=2, unit="") -> str:
    return "–" if x is None else f"{x:.{digits}f}{unit}"


def render(res: dict) -> str:
    lines = ["# GPU benchmark (`python -m bench.gpu`)", "",
             f"Machine: {res['machine']}. vLLM {res['vllm']}. Model: {res['model']}. Command: `{res['command']}`.",
             f"Run on {res['date']}.", ""]
    lines += ["## Start-up and memory", "",
              "| phase | plan | server ready | video worker ready | apart |", "|---|---|---|---|---|"]
    for phase in ("cold", "warm"):
        s = res["startup"].get(phase)
        if not s:
            continue
        r = s["ready_s"]
        both = [v for v in r.values()]
        apart = (max(both) - min(both)) / max(both) if len(both) == 2 and max(both) else None
        lines.append(f"| {phase} | {s['plan']} | {f(r.get('server'), 0, ' s')} | {f(r.get('video worker'), 0, ' s')} "
                     f"| {f(apart * 100 if apart is not None else None, 0, ' %')} of the slower |")
    lines += ["", "Memory of each engine, from vLLM's log lines of the cold start and `nvidia-smi` once both were "
              "ready (GiB; KV tokens as vLLM counts them):", "",
              "| engine | weights | KV cache | KV tokens | CUDA graphs | torch peak | init (compile) | nvidia-smi |",
              "|---|---|---|---|---|---|---|---|"]
    cold = res["startup"].get("cold", {})
    for log_name, engine in (("vllm-server", "server"), ("video-worker", "video worker")):
        m = cold.get("log_memory", {}).get(log_name, {})
        if not m:
            continue
        lines.append(f"| {engine} | {f(m.get('weights_gib'))} | {f(m.get('kv_cache_gib'))} | "
                     f"{f(m.get('kv_tokens'), 0)} | {f(m.get('cuda_graphs_gib'))} | {f(m.get('torch_peak_gib'))} | "
                     f"{f(m.get('init_engine_s'), 0, ' s')} ({f(m.get('compile_s'), 0, ' s')}) | "
                     f"{f(cold.get('nvidia_smi_gib', {}).get(engine))} |")
    for note in cold.get("notes", []):
        lines.append(f"- plan note: {note}")
    for name in ("chat", "image"):
        rows = res["workloads"].get(name, [])
        if not rows:
            continue
        lines += ["", f"## {name.capitalize()}: {res['max_tokens']} tokens per answer, "
                      f"prompt {rows[0]['prompt']} tokens",
                  f"(the median of {rows[0].get('rounds', 1)} rounds by first-token p50; the slowest round's p50 "
                  "beside it)", "",
                  "| users | path | first token p50 | p95 | slowest round p50 | tokens/s per stream (p50) | "
                  "tokens/s in all |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            worst = max((x for x in r.get("ttft_p50_rounds", [r["ttft_p50"]]) if x is not None), default=None)
            lines.append(f"| {r['users']} | {r['path']} | {f(r['ttft_p50'] and r['ttft_p50'] * 1000, 0, ' ms')} | "
                         f"{f(r['ttft_p95'] and r['ttft_p95'] * 1000, 0, ' ms')} | "
                         f"{f(worst and worst * 1000, 0, ' ms')} | {f(r['tok_s_p50'], 0)} | "
                         f"{f(r['aggregate_tok_s'], 0)} |")
    if res.get("video"):
        lines += ["", f"## Video: assets/example.mp4, fps 2, at most 64 frames at 640x360, {res['max_tokens']} tokens",
                  "", "| path | frames | prompt tokens | first text | answer done | generation | tokens/s |",
                  "|---|---|---|---|---|---|---|"]
        for path, v in res["video"].items():
            rate = v["completion_tokens"] / v["generate_s"] if v.get("generate_s") else None
            lines.append(f"| {path} | {v['frames']} | {v['prompt_tokens']} | {f(v['ttft_s'], 2, ' s')} | "
                         f"{f(v['total_s'], 2, ' s')} | {f(v['generate_s'], 2, ' s')} | {f(rate, 0)} |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    try:
        names = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                                "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        names = "no nvidia-smi"
    return f"{names.replace(chr(10), '; ')}; {os.cpu_count()} CPU cores; {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a checkpoint folder or hub id, as app.py's --model")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS-gpu.md"))
    ap.add_argument("--users", default="1,8,32")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--skip-warm", action="store_true", help="no second (warm) start")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each user level")
    ap.add_argument("app_args", nargs="*", help="more app.py flags, after --")
    args = ap.parse_args(argv)

    import signal

    from demo.engines.vllm_flags import installed_vllm
    from demo.settings import Settings

    def on_term(signum, frame):  # a time limit's SIGTERM still stops the engines and writes what was measured
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    def log(msg: str) -> None:
        print(f"[bench.gpu {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    cache = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    os.environ["VLLM_CACHE_ROOT"] = str(cache / "vllm")  # cold: an empty compile cache, then reused when warm
    settings = Settings.from_args(["--model", args.model, "--cache-dir", str(cache / "app"), "--port", "0",
                                   *args.app_args])
    users = [int(u) for u in args.users.split(",")]
    res = {"machine": machine(), "vllm": installed_vllm(), "model": args.model, "max_tokens": args.max_tokens,
           "command": "python -m bench.gpu " + " ".join(argv if argv is not None else sys.argv[1:]),
           "date": time.strftime("%Y-%m-%d"), "startup": {}, "workloads": {}, "video": {}}
    log_dir = cache / "logs"
    try:
        engines, res["startup"]["cold"] = start_engines(settings, log_dir, log)
        try:
            res["workloads"] = asyncio.run(workloads(engines, users, args.max_tokens, log, args.rounds))
            res["video"] = asyncio.run(video_runs(engines, args.max_tokens, log))
        finally:
            engines.stop()
        left = gpu_processes()
        res["left_after_stop"] = left
        log(f"GPU processes after stop: {left}")
        if not args.skip_warm:
            engines, res["startup"]["warm"] = start_engines(settings, log_dir, log)
            engines.stop()
    finally:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
        out.write_text(render(res))
        for p in log_dir.glob("*.log"):
            shutil.copy(p, out.parent / f"gpu-{p.name}")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
