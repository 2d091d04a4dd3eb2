"""``python -m bench`` (full run, writes bench/RESULTS.md) or ``python -m bench --quick --out PATH``.

One command, one run, five figures side by side on the tiny checkpoint:
  1. streaming overhead (app vs openai SDK direct vs Gradio's floor, interleaved)
  2. concurrency (1, 4, 16 users through the app vs direct)
  3. video preparation (the app's path vs qwen_vl_utils + decord, fresh process per trial)
  4. image preparation (12 MP photo: the app's data URL vs the original file)
  5. start-up (server, worker, whole app; import / load / compile split from the engines' logs)
  6. capacity at a GPU's token rate (1-128 streams of 60 tokens/s from bench/token_source.py, app vs direct)
  7. Stop latency (cancel to the server-side stream closed, before and after the first token)
Every process started here runs in its own process group and is stopped before the command returns.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
import traceback
from pathlib import Path

from . import capacity, clips, concurrency, image_prep, report, services, startup, streaming, video_prep
from .common import ROOT, machine, other_engines, versions, wait_for_memory

DEFAULT_OUT = ROOT / "bench" / "RESULTS.md"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny setting for the test suite: few trials, short clip, no worker/whole-app start-up")
    p.add_argument("--out", type=Path, default=None,
                   help="report path (default bench/RESULTS.md; --quick needs it and never writes there)")
    p.add_argument("--trials", type=int, default=None, help="streaming rounds (default 12; quick 2)")
    p.add_argument("--render", type=Path, default=None, metavar="RESULTS_JSON",
                   help="only write the report again from a run's results.json (after editing bench/ANALYSIS.md)")
    p.add_argument("--skip", default="", help="comma-separated figures to leave out: streaming, concurrency, "
                                              "video, image, startup, capacity (for development; the report "
                                              "says so)")
    a = p.parse_args(argv)
    if a.quick and (a.out is None or a.out.resolve() == DEFAULT_OUT.resolve()):
        p.error("--quick writes to --out PATH, never to bench/RESULTS.md")
    return a


def plan(quick: bool, trials: int | None) -> dict:
    if quick:
        return {"stream_trials": trials or 2, "stream_tokens": 32, "floor_n": 32,
                "conc_levels": (1, 4), "conc_rounds": 1, "conc_per_user": 1, "conc_tokens": 32,
                "clips": [(10, "480p")], "video_trials": 1, "image_trials": 1, "worker": False, "whole_app": False,
                "cap_levels": (1, 4), "cap_seconds": 2.0, "stop_trials": 2}
    return {"stream_trials": trials or 12, "stream_tokens": 256, "floor_n": 256,
            "conc_levels": (1, 4, 16), "conc_rounds": 3, "conc_per_user": 3, "conc_tokens": 256,
            "clips": [(10, "480p"), (10, "1080p"), (120, "480p"), (120, "1080p")], "video_trials": 3,
            "image_trials": 5, "worker": True, "whole_app": True,
            "cap_levels": (1, 16, 64, 128), "cap_seconds": 8.0, "stop_trials": 8}


def cpu_probe(pids: dict):
    """A function returning cumulative CPU seconds of each named process tree, and of this process (the
    clients)."""
    import os

    import psutil

    roots = {name: psutil.Process(pid) for name, pid in pids.items() if pid}
    me = psutil.Process(os.getpid())
    seen: dict[int, psutil.Process] = {}

    def total(proc) -> float:
        t = 0.0
        try:
            procs = [proc] + proc.children(recursive=True)
        except psutil.Error:
            return 0.0
        for p in procs:
            p = seen.setdefault(p.pid, p)
            try:
                c = p.cpu_times()
                t += c.user + c.system
            except psutil.Error:
                pass
        return t

    def probe() -> dict:
        out = {name: total(p) for name, p in roots.items()}
        c = me.cpu_times()
        out["client"] = c.user + c.system
        return out

    return probe


def main(argv=None) -> int:
    args = parse_args(argv)
    out = (args.out or DEFAULT_OUT).resolve()
    if args.render:
        out.write_text(report.render(json.loads(args.render.read_text())))
        log(f"wrote {out} from {args.render}")
        return 0
    cfg = plan(args.quick, args.trials)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    work = out.parent / (out.stem + "-output") if args.quick else ROOT / "bench" / "output"
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    from . import common

    common.GROUPS_FILE = work / "process-groups.txt"
    common.GROUPS_FILE.write_text("")

    def on_sigterm(signum, frame):  # stop what we started (the finally blocks) instead of dying at once
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    command = "python -m bench" + ("" if not argv and len(sys.argv) <= 1 else " " + shlex.join(
        argv if argv is not None else sys.argv[1:]))
    res: dict = {"command": command, "quick": args.quick, "config": {k: v for k, v in cfg.items()},
                 "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(), "versions": versions(),
                 "others_at_start": other_engines(), "skipped": sorted(skip), "errors": {}}
    t_start = time.monotonic()
    log(f"{command}: report -> {out}")
    from demo.engines.server import free_port

    def attempt(name: str, fn):
        if name in skip:
            return
        try:
            res[name] = fn()
        except Exception as exc:  # one broken figure must not lose the others: the report says what failed
            res["errors"][name] = f"{type(exc).__name__}: {exc}"[:2000]
            log(f"{name} failed: {exc}\n{traceback.format_exc()}")

    # --- the server (its start is the server's start-up figure), the app attached to it, Gradio's floor ----
    needs_server = not {"streaming", "concurrency", "image"} <= skip or "startup" not in skip
    server = app = floor = None
    wait_for_memory(6.0, log=log)
    try:
        if needs_server:
            log("starting the vLLM server (demo.engines.server.ServerSupervisor, tiny checkpoint)")
            server = services.start_server(logs)
            log(f"server ready after {server.ready - server.launched:.1f} s")
            app, app_url, app_page_s = services.start_app(server, logs, free_port())
            log(f"app.py (attached) answers at {app_url} after {app_page_s:.1f} s")
            floor, floor_url = services.start_floor(logs, free_port())
            res["app_page_s"] = app_page_s
            probe = cpu_probe({"vllm": server.supervisor.pid, "app": app.proc.pid})

            def do_streaming():
                cl = streaming.Clients(server.endpoint.base_url, server.endpoint.api_key, server.endpoint.model,
                                       app_url, floor_url)
                try:
                    return streaming.run(cl, cfg["stream_trials"], cfg["stream_tokens"], cfg["floor_n"], log=log)
                finally:
                    cl.close()

            log("figure 1: streaming overhead")
            attempt("streaming", do_streaming)
            prompt = res.get("streaming", {}).get("prompt", streaming.TEXT_PROMPTS[0])
            log("figure 2: concurrency")
            attempt("concurrency", lambda: concurrency.run(
                server.endpoint.base_url, server.endpoint.api_key, server.endpoint.model, app_url, prompt,
                levels=cfg["conc_levels"], rounds=cfg["conc_rounds"], per_user=cfg["conc_per_user"],
                max_tokens=cfg["conc_tokens"], log=log, cpu_probe=probe))
            log("figure 4: image preparation")
            attempt("image", lambda: image_prep.run(
                server.endpoint.base_url, server.endpoint.api_key, server.endpoint.model, str(clips.make_photo()),
                cfg["image_trials"], log=log))
    except Exception as exc:
        res["errors"]["engines"] = f"{type(exc).__name__}: {exc}"[:3000]
        log(f"could not start the engines: {exc}")
    finally:
        for child in (floor, app):
            if child is not None:
                child.stop()
        if server is not None:
            server.stop()

    # --- start-up figures --------------------------------------------------------------------------------
    if "startup" not in skip:
        st: dict = {}
        try:
            log("figure 5: start-up (imports)")
            st["import_vllm_s"] = startup.import_seconds("vllm")
            st["import_app_s"] = startup.import_seconds("gradio, demo.ui")
            if server is not None:
                st["server"] = startup.parse(server.stamped, server.ready - server.launched)
            st["app_attached_page_s"] = res.get("app_page_s")
            if cfg["worker"]:
                wait_for_memory(6.0, log=log)
                log("figure 5: the video worker alone")
                st["worker"] = startup.worker(logs)
                log(f"worker ready after {st['worker']['ready_s']:.1f} s")
            if cfg["whole_app"]:
                wait_for_memory(6.0, log=log)
                log("figure 5: the whole app (app.py co-launching both engines), cold, then warm three times")
                st["app_starts"] = startup.app_starts(logs, free_port, log=log)
        except Exception as exc:
            res["errors"]["startup"] = f"{type(exc).__name__}: {exc}"[:2000]
            log(f"startup failed: {exc}\n{traceback.format_exc()}")
        res["startup"] = st

    # --- capacity and Stop latency (no engine running: the token source stands in for a GPU's rate) ---------
    log("figures 6 and 7: capacity at a GPU's token rate, Stop latency")
    attempt("capacity", lambda: capacity.run(logs, free_port, cfg["cap_levels"], cfg["cap_seconds"],
                                             stop_trials=cfg["stop_trials"], log=log))

    # --- video preparation (no engine running: the two cores are the readers') ------------------------------
    if "video" not in skip:
        def do_video():
            paths = []
            for seconds, size in cfg["clips"]:
                if not clips.clip_path(seconds, size).exists():
                    log(f"making the {seconds} s {size} H.264 clip (once; cached in {clips.CACHE})")
                paths.append((f"{seconds} s {size}", str(clips.make_clip(seconds, size))))
            return video_prep.run(paths, cfg["video_trials"], log=log)

        log("figure 3: video preparation")
        attempt("video", do_video)

    res["elapsed_s"] = time.monotonic() - t_start
    res["others_at_end"] = other_engines()
    res["load_avg_at_end"] = ", ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    (work / "results.json").write_text(json.dumps(res, indent=1, default=str))
    out.write_text(report.render(res))
    log(f"wrote {out} in {res['elapsed_s']:.0f} s (raw figures: {work / 'results.json'})")
    return 0 if not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
