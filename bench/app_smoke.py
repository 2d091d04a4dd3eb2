"""``python -m bench.app_smoke --model CKPT``: the whole app as a user launches it, answering each tab's endpoint.

Launches ``app.py`` (its own engines, its own device plan) in a process group of its own, then through
``gradio_client`` asks ``/chat``, ``/describe_image`` and ``/describe_video`` until each answers (an engine
still starting answers with a sentence, which is retried), timing each first answer from the launch; then
SIGTERM, and checks that the app exits and that no process of its group (nor, on a GPU, any GPU process) is
left. Prints one JSON line with the figures; the exit code says whether everything held.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gpu_pids() -> list[int]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(p) for p in out.split() if p.isdigit()]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.app_smoke")
    ap.add_argument("--model", required=True)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds for each endpoint's first answer")
    ap.add_argument("--log", default=None, help="the app's output goes here (default: a temporary file)")
    ap.add_argument("app_args", nargs="*", help="more app.py flags, after --")
    args = ap.parse_args(argv)

    from gradio_client import Client, handle_file

    port = free_port()
    log_path = Path(args.log or f"/tmp/app-smoke-{port}.log")
    res: dict = {"model": args.model, "log": str(log_path)}
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--model", args.model, "--app-port", str(port),
                                *args.app_args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=ROOT)
    ok = True
    try:
        url = f"http://127.0.0.1:{port}/"
        client = None
        while client is None:
            if app.poll() is not None:
                raise RuntimeError(f"the app exited with {app.returncode}: {log_path.read_text()[-3000:]}")
            try:
                client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
            except Exception:  # noqa: BLE001 (not up yet)
                time.sleep(1)
        res["page_s"] = round(time.monotonic() - t0, 1)
        calls = {
            "chat": lambda: client.predict("Write a short poem.", "", [], 0.7, 0.8, 20, 64, 0.0, api_name="/chat"),
            "image": lambda: client.predict(handle_file(str(ROOT / "assets" / "coffee.jpg")), "Describe this image.",
                                            0.7, 0.8, 20, 64, 0.0, api_name="/describe_image"),
            "video": lambda: client.predict(handle_file(str(ROOT / "assets" / "example.mp4")), "Describe this video.",
                                            2.0, 32, 0.7, 0.8, 20, 64, 0.0, api_name="/describe_video"),
        }
        for name, call in calls.items():
            deadline, last_error = time.monotonic() + args.timeout, None
            while time.monotonic() < deadline:
                if app.poll() is not None:
                    raise RuntimeError(f"the app exited with {app.returncode}")
                try:
                    stats, answer, *_ = call()
                    res[name] = {"first_answer_s": round(time.monotonic() - t0, 1), "stats": stats,
                                 "answer_chars": len(answer)}
                    break
                except Exception as exc:  # noqa: BLE001 (an engine still starting says so; try again)
                    last_error = str(exc)[:300]
                    time.sleep(2)
            else:
                res[name] = {"error": last_error}
                ok = False
        res["gpu_processes_running"] = len(gpu_pids())
    except Exception as exc:  # noqa: BLE001 (reported in the JSON line)
        res["error"] = str(exc)[:3000]
        ok = False
    finally:
        import psutil  # a dependency of vLLM

        pgid = app.pid
        try:  # the engines run in process groups of their own, under the app: every descendant counts
            descendants = psutil.Process(app.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        res["processes_before_stop"] = len(descendants)
        t1 = time.monotonic()
        if app.poll() is None:
            os.killpg(pgid, signal.SIGTERM)  # as a supervisor (or a Space) stops the app
        try:
            res["exit_code"] = app.wait(timeout=120)
        except subprocess.TimeoutExpired:
            res["exit_code"] = None
            ok = False
        res["stop_s"] = round(time.monotonic() - t1, 1)
        deadline = time.monotonic() + 60
        def alive(p) -> bool:
            try:
                return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:  # gone between the two questions
                return False

        def left() -> list:
            return [p.pid for p in descendants if alive(p)]

        while time.monotonic() < deadline and (group_alive(pgid) or left() or gpu_pids()):
            time.sleep(1)
        res["group_left"] = group_alive(pgid)
        res["processes_left"] = left()
        res["gpu_processes_left"] = gpu_pids()
        if res["group_left"] or res["processes_left"] or res["gpu_processes_left"]:
            ok = False
            for pid in res["processes_left"]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        print(json.dumps(res), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
