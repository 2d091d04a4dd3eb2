"""The processes a benchmark measures: the vLLM server (through the app's own launcher), the app attached to
it, and Gradio's floor (a no-op streaming endpoint), each in its own process group.

The app runs as a separate process (``app.py --api-base ...``) so the measuring client never shares its GIL.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .common import PY, ROOT, Child, LogStamper, register_group, wait_http

CACHE = ROOT / ".cache" / "tests"  # the tiny checkpoint the tests build; reused, never rebuilt per run


def engine_settings(*extra: str):
    """Engine settings close to the engine tests' (tests/conftest.py): the tiny checkpoint from the same cache, a
    1 GiB KV cache, a free port. Not the same: a 120 s request timeout (the tests' 30 s fails a hung request fast; a
    benchmark's long answers on a loaded 2-core machine may wait longer for a chunk), a fixed 900 s start-up limit
    (the tests' is ``TEST_ENGINE_WAIT_S``), and the video worker's default concurrency (the tests run 2)."""
    from demo.settings import Settings

    return Settings.from_args(
        ["--model", "tiny", "--cache-dir", str(CACHE), "--cpu-kv-cache-gib", "1", "--port", "0",
         "--startup-timeout", "900", "--video-timeout", "300", "--request-timeout", "120", *extra], env={})


@dataclass
class Server:
    """A vLLM server started by ``demo.engines.server.ServerSupervisor``; times measured from our clock."""

    supervisor: object
    launched: float  # time.monotonic() at start()
    ready: float  # time.monotonic() when /health first answered (polled every 0.1 s)
    log_path: Path
    stamped: list  # (seconds since launch, line) of its log until ready: the start-up figure's input

    @property
    def endpoint(self):
        return self.supervisor.endpoint

    def stop(self) -> None:
        self.supervisor.stop()


def start_server(log_dir: Path, timeout: float = 900.0) -> Server:
    """Start the server as the app does (``ServerSupervisor``) and wait for /health; fails with its log."""
    from demo.engines.engines import make_plan
    from demo.engines.model import resolve_model
    from demo.engines.model_card import read_card
    from demo.engines.server import ServerSupervisor, health_ok

    settings = engine_settings()
    model = resolve_model(settings)
    # the app's own plan for this machine (eager on CPUs)
    placement = make_plan(settings, read_card(model).footprint).server
    sup = ServerSupervisor(settings, str(model), placement, log_dir)
    # One flag beyond the app's command: per-request mm_processor_kwargs, so that the image figure can send
    # the original photo with the app's pixel budget (it changes nothing for requests that do not use it).
    if "--trust-request-mm-kwargs" not in sup.command:
        sup.command.append("--trust-request-mm-kwargs")
    if sup.log_path.exists():
        sup.log_path.unlink()  # one start per log: the start-up figure reads this file
    sup.log_path.parent.mkdir(parents=True, exist_ok=True)
    sup.log_path.touch()
    launched = time.monotonic()
    stamper = LogStamper(sup.log_path, launched)
    sup.start()
    # Poll /health ourselves, more often than the supervisor's 1 s, for a sharper "ready" time.
    deadline = launched + timeout
    ready = None
    registered = False
    while time.monotonic() < deadline:
        if not registered and sup.pid:
            register_group(sup.pid)  # its own session: the server and vLLM's children
            registered = True
        st = sup.status.get()
        if st.state == "error":
            stamper.stop()
            sup.stop()
            raise RuntimeError(f"the vLLM server did not start: {st.detail}")
        if health_ok(sup.endpoint.root, timeout=1.0):
            ready = time.monotonic()
            break
        time.sleep(0.1)
    stamped = stamper.stop()
    if ready is None:
        sup.stop()
        raise TimeoutError(f"the vLLM server was not ready within {timeout:.0f} s; see {sup.log_path}")
    sup.wait_ready(timeout=30)  # the app's own view agrees
    return Server(sup, launched, ready, sup.log_path, stamped)


def child_env(**extra: str) -> dict:
    # The parent's environment without the app's own variables (a set QWEN_DEMO_* would change the app).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_DEMO_", "GRADIO_"))}
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost"})
    env.update(extra)
    return env


def start_app(server: Server, log_dir: Path, port: int, timeout: float = 300.0) -> tuple[Child, str, float]:
    """``app.py --model tiny --api-base ...`` (attached: it starts no engine); returns (child, url, seconds to
    its page answering)."""
    ep = server.endpoint
    # The key goes in the environment (QWEN_DEMO_API_KEY), not on the command line, where `ps` shows it.
    cmd = [PY, str(ROOT / "app.py"), "--model", "tiny", "--cache-dir", str(CACHE), "--api-base", ep.base_url,
           "--request-timeout", "120"]
    env = child_env(GRADIO_SERVER_PORT=str(port), QWEN_DEMO_API_KEY=ep.api_key)
    child = Child(cmd, log_dir / "app.log", env=env)
    url = f"http://127.0.0.1:{port}"
    ready = wait_http(url + "/config", timeout, child)
    return child, url, ready - child.started


def start_floor(log_dir: Path, port: int, timeout: float = 120.0) -> tuple[Child, str]:
    """Gradio's floor: ``bench/floor_app.py``, a no-op streaming endpoint with the app's queue settings."""
    child = Child([PY, "-m", "bench.floor_app"], log_dir / "floor.log",
                  env=child_env(GRADIO_SERVER_PORT=str(port)))
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/config", timeout, child)
    return child, url
